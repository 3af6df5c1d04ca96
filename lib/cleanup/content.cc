// cleanup/content.cc — the cleanup content filter; see content.h.
#include "postern/cleanup/content.h"

#include "postern/config/maincf.h"
#include "postern/log/log.h"
#include "postern/smtp/received.h"
#include "postern/util/strings.h"

namespace postern::cleanup {

Result<Options> Options::FromConfig(const config::Config& cfg) {
  Options o;
  auto hops = cfg.GetInt("hopcount_limit");
  if (!hops) return Err(hops.error());
  if (*hops < 0) return Err("hopcount_limit: must be at least 0");
  auto size = cfg.GetInt("header_size_limit");
  if (!size) return Err(size.error());
  if (*size < 1) return Err("header_size_limit: must be at least 1");
  auto stray = cfg.GetBool("cleanup_replace_stray_cr_lf");
  if (!stray) return Err(stray.error());
  o.hopcount_limit = unsigned(std::min<long long>(*hops, 1u << 30));
  o.header_size_limit = size_t(*size);
  o.replace_stray_cr_lf = *stray;
  auto add = cfg.GetBool("always_add_missing_headers");
  if (!add) return Err(add.error());
  o.always_add_missing_headers = *add;
  o.myhostname = cfg.Str("myhostname");
  return o;
}

namespace {

smtp::HeaderFilter::Options HeaderOptions(const Options& o) {
  smtp::HeaderFilter::Options h;
  h.drop = o.drop_headers;
  h.hops = kHopHeaders;
  h.header_size_limit = o.header_size_limit;
  return h;
}

}  // namespace

Content::Content(const Options& o)
    : stray_(o.replace_stray_cr_lf),
      headers_(HeaderOptions(o)),
      hop_limit_(o.hopcount_limit),
      header_limit_(o.header_size_limit),
      always_add_(o.always_add_missing_headers),
      myhostname_(o.myhostname) {}

void Content::AddMissingHeaders(bool local, uint32_t msgid, std::string_view sender, time_t arrival) {
  if (!local && !always_add_) return;
  char stamp[32];
  tm t{};
  gmtime_r(&arrival, &t);
  strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", &t);
  headers_.AddIfMissing("Message-Id", "<" + std::string(stamp) + "." + queue::FormatMsgId(msgid) + "@" +
                                          myhostname_ + ">");
  headers_.AddIfMissing("Date", smtp::RfcDate(arrival));
  headers_.AddIfMissing("From", sender.empty() ? std::string("MAILER-DAEMON") : "<" + std::string(sender) + ">");
}

void Content::Apply(std::string* buf, size_t from) {
  stray_.Apply(buf, from);
  headers_.Apply(buf, from);
}

void Content::Finish(std::string* buf) {
  size_t from = buf->size();
  stray_.Finish(buf);
  headers_.Apply(buf, from);
  headers_.Finish(buf);
}

std::string Content::message_id() const {
  if (!headers_.has_message_id()) return "<>";
  std::string out;
  for (char c : headers_.message_id()) {
    if (c == '\r' || c == '\n') continue;
    out += (c == '\t' || (c >= 32 && c < 127)) ? c : '?';
  }
  return std::string(Trim(out));
}

void Content::Log(std::string_view id) const {
  log::Info("{}: message-id={}", id, message_id());
  if (too_many_hops()) log::Warning("{}: message rejected: hopcount exceeded", id);
  if (truncated() > 0)
    log::Warning("{}: message header length exceeds safety limit: {} header(s) cut at header_size_limit {}", id,
                 truncated(), header_limit_);
  if (nuls() > 0) log::Warning("{}: {} NUL character(s) in message content replaced with spaces", id, nuls());
  if (stray() > 0) log::Info("{}: {} stray CR or LF character(s) in message content replaced with spaces", id, stray());
}

queue::Status Writer::Append(std::string_view data) {
  size_t from = buf_.size();
  buf_.append(data);
  content_.Apply(&buf_, from);
  queue::Status st = buf_.empty() ? queue::Status::Ok() : w_->Append(buf_);
  buf_.clear();
  return st;
}

queue::Status Writer::Finish() {
  content_.Finish(&buf_);
  content_.Log(queue::FormatMsgId(w_->id()));
  queue::Status st = buf_.empty() ? queue::Status::Ok() : w_->Append(buf_);
  buf_.clear();
  return st;
}

}  // namespace postern::cleanup
