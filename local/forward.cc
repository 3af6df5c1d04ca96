// local/forward.cc — re-submission of forwarded mail (Postfix's
// deliver_indirect): the addresses an expansion sends elsewhere become one
// new queue message per (sender, Delivered-To) pair, with the original body
// behind a Delivered-To: header so that a forwarding loop is seen next time,
// through cleanup (lib/cleanup: canonical, virtual, content filter): a message
// with too many hops bounces instead (5.4.0).
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
  for (const auto& [key, list] : groups) {
    cleanup::Submission sub;
    sub.record.sender = key.first;
    sub.record.arrival = std::time(nullptr);
    sub.record.protocol = "local";
    sub.record.dsn_envid = msg_.req.dsn_envid;
    sub.record.dsn_ret = static_cast<queue::DsnRet>(msg_.req.dsn_ret);
    sub.record.flags = msg_.req.flags;
    std::string failure;
    auto m = agent_.cleanup->Begin(std::move(sub));
    if (!m.ok()) {
      failure = m.status().message;
    } else {
      cleanup::Message& msg = **m;
      std::string head = s_.delivered_forward ? "Delivered-To: " + key.second + "\r\n" : "";
      queue::Status st = msg.Append(head);
      if (st.ok()) st = msg.Append(msg_.raw);
      if (st.ok()) st = msg.Finish();
      if (st.ok() && msg.too_many_hops()) {
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
        st = msg.AddRecipient(std::move(r));
      }
      if (!st.ok()) {
        failure = st.message;
      } else {
        auto id = agent_.cleanup->Commit(std::move(*m));
        if (!id.ok()) {
          failure = id.status().message;
        } else {
          std::string newid = queue::FormatMsgId(*id);
          for (const Pending* p : list) Final(p->attr, Verdict::Sent("forwarded as " + newid));
          continue;
        }
      }
    }
    log::Warning("{}: cannot forward to {} address(es): {}", msg_.msgid, list.size(), failure);
    for (const Pending* p : list) Final(p->attr, Verdict::Defer("4.3.0", "cannot forward message: " + failure));
  }
  pending_.clear();  // cleanup woke qmgr for each message it queued
}

}  // namespace postern::local
