// ctl/postcat_format.cc — postcat's envelope records and content printer;
// see postcat.h.
#include <fmt/format.h>

#include "ctl/postcat.h"
#include "postern/showq/showq.h"

namespace postern::ctl {

namespace {

void Attr(std::string* out, std::string_view name, std::string_view value) {
  if (!value.empty()) *out += fmt::format("named_attribute: {}={}\n", name, value);
}

bool IsHeader(std::string_view line) {
  size_t colon = line.find(':');
  if (colon == 0 || colon == std::string_view::npos) return false;
  for (char c : line.substr(0, colon))
    if (static_cast<unsigned char>(c) <= ' ' || static_cast<unsigned char>(c) >= 127) return false;
  return true;
}

}  // namespace

std::string CatMarker(std::string_view name, std::string_view where) {
  return fmt::format("*** {} {} ***\n", name, where);
}

std::string CatEnvelope(const queue::MessageRecord& m, const std::vector<queue::Envelope>& envs) {
  std::string out;
  // Postfix's six size fields: content size, data offset (postern stores the
  // content apart: 0), recipients, queue manager options, content length,
  // SMTPUTF8 request.
  out += fmt::format("message_size: {:>15} {:>15} {:>15} {:>15} {:>15} {:>15}\n", m.size, 0, m.nrcpt, 0, m.size,
                     (m.flags & queue::kFlagSmtpUtf8) ? 1 : 0);
  out += "message_arrival_time: " + showq::AscTime(m.arrival);
  out += "create_time: " + showq::AscTime(m.arrival);
  if (m.flags & queue::kFlag8BitMime) Attr(&out, "encoding", "8bit");
  out += "sender: " + m.sender + "\n";
  Attr(&out, "log_client_name", m.client_name);
  Attr(&out, "log_client_address", m.client_addr);
  Attr(&out, "log_helo_name", m.helo);
  Attr(&out, "log_protocol_name", m.protocol);
  Attr(&out, "sasl_username", m.auth_user);
  Attr(&out, "dsn_envid", m.dsn_envid);
  if (m.dsn_ret != queue::DsnRet::kUnset) out += fmt::format("dsn_ret: {}\n", int(m.dsn_ret));
  for (const auto& e : envs) {
    if (e.notify) out += fmt::format("dsn_notify: {}\n", int(e.notify));
    if (!e.orig_recipient.empty()) out += "original_recipient: " + e.orig_recipient + "\n";
    out += "recipient: " + e.recipient + "\n";
  }
  return out;
}

void CatContent::Feed(std::string_view data, std::string* out) {
  while (!data.empty()) {
    size_t nl = data.find('\n');
    if (nl == std::string_view::npos) {
      partial_.append(data);
      return;
    }
    partial_.append(data.substr(0, nl));
    if (!partial_.empty() && partial_.back() == '\r') partial_.pop_back();
    Line(partial_, out);
    partial_.clear();
    data.remove_prefix(nl + 1);
  }
}

void CatContent::Finish(std::string* out) {
  if (!partial_.empty()) Line(partial_, out);
  partial_.clear();
}

void CatContent::Line(std::string_view line, std::string* out) {
  bool continuation = !line.empty() && (line[0] == ' ' || line[0] == '\t');
  if (!in_body_ && !IsHeader(line) && !continuation) in_body_ = true;
  if (in_body_ ? !f_.body : !f_.header) return;
  if (f_.verbose) *out += "regular_text: ";
  out->append(line);
  *out += '\n';
}

}  // namespace postern::ctl
