// local/forward.cc — re-submission of forwarded mail (Postfix's
// deliver_indirect): the addresses an expansion sends elsewhere become one
// new queue message per (sender, Delivered-To) pair, with the original body
// behind a Delivered-To: header so that a forwarding loop is seen next time,
// through cleanup: a message with too many hops bounces instead (5.4.0).
#include <ctime>
#include <map>

#include "local/deliver.h"
#include "postern/ipc/trigger.h"
#include "postern/log/log.h"

namespace postern::local {

void RecipientDelivery::Flush() {
  if (pending_.empty()) return;
  std::map<std::pair<std::string, std::string>, std::vector<const Pending*>> groups;
  for (const Pending& p : pending_) {
    std::string sender = p.attr.owner.empty() ? msg_.req.sender : p.attr.owner;
    groups[{sender, p.attr.delivered}].push_back(&p);
  }
  bool queued = false;
  for (const auto& [key, list] : groups) {
    queue::MessageRecord rec;
    rec.sender = key.first;
    rec.arrival = std::time(nullptr);
    rec.protocol = "local";
    rec.dsn_envid = msg_.req.dsn_envid;
    rec.dsn_ret = static_cast<queue::DsnRet>(msg_.req.dsn_ret);
    rec.flags = msg_.req.flags;
    std::string failure;
    auto w = agent_.queue->Begin(std::move(rec));
    if (!w.ok()) {
      failure = w.status().message;
    } else {
      std::string head = s_.delivered_forward ? "Delivered-To: " + key.second + "\r\n" : "";
      cleanup::Writer cw(w->get(), s_.cleanup);
      queue::Status st = cw.Append(head);
      if (st.ok()) st = cw.Append(msg_.raw);
      if (st.ok()) st = cw.Finish();
      if (st.ok() && cw.content().too_many_hops()) {
        // Postfix's cleanup bounces the forwarded copy; here the recipient
        // that forwards bounces, with the same reason, and nothing is queued.
        for (const Pending* p : list) Final(p->attr, Verdict::Bounce(cleanup::kHopsStatus, cleanup::kHopsText));
        continue;
      }
      for (const Pending* p : list) {
        if (!st.ok()) break;
        queue::Recipient r;
        r.address = p->address;
        r.orig_recipient = rcpt_.orig_recipient.empty() ? "rfc822;" + orig_ : rcpt_.orig_recipient;
        r.notify = rcpt_.notify;
        st = (*w)->AddRecipient(std::move(r));
      }
      if (!st.ok()) {
        failure = st.message;
      } else {
        auto id = agent_.queue->Commit(std::move(*w));
        if (!id.ok()) {
          failure = id.status().message;
        } else {
          std::string newid = queue::FormatMsgId(*id);
          queued = true;
          for (const Pending* p : list) Final(p->attr, Verdict::Sent("forwarded as " + newid));
          continue;
        }
      }
    }
    log::Warning("{}: cannot forward to {} address(es): {}", msg_.msgid, list.size(), failure);
    for (const Pending* p : list) Final(p->attr, Verdict::Defer("4.3.0", "cannot forward message: " + failure));
  }
  pending_.clear();
  if (queued) ipc::TriggerQmgr(s_.queue_directory);
}

}  // namespace postern::local
