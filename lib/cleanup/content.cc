// cleanup/content.cc — the cleanup content filter; see content.h.
#include "postern/cleanup/content.h"

#include "postern/cleanup/check_stream.h"
#include "postern/config/maincf.h"
#include "postern/log/log.h"
#include "postern/smtp/received.h"
#include "postern/util/strings.h"

namespace postern::cleanup {

Result<Options> Options::FromConfig(const config::Config& cfg, bool checks) {
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
  if (checks) {
    auto t = CheckTables::Load(cfg, "");
    if (!t) return Err(t.error());
    o.checks = std::move(*t);
  }
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
      checks_(o.checks ? std::make_unique<CheckFilter>(o.checks) : nullptr),
      headers_(HeaderOptions(o)),
      hop_limit_(o.hopcount_limit),
      header_limit_(o.header_size_limit),
      always_add_(o.always_add_missing_headers),
      myhostname_(o.myhostname) {}

Content::~Content() = default;
Content::Content(Content&&) noexcept = default;
Content& Content::operator=(Content&&) noexcept = default;

void Content::SetCheckContext(LogContext c) {
  if (checks_) checks_->checks().SetContext(std::move(c));
}

const Verdict& Content::verdict() const {
  static const Verdict kNone;
  return checks_ ? checks_->checks().verdict() : kNone;
}

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
  if (checks_) checks_->Apply(buf, from);
  headers_.Apply(buf, from);
  editor_.Apply(buf, from);
}

void Content::Finish(std::string* buf) {
  size_t from = buf->size();
  stray_.Finish(buf);
  if (checks_) checks_->Finish(buf, from);
  headers_.Apply(buf, from);
  headers_.Finish(buf);
  editor_.Apply(buf, from);
  editor_.Finish(buf);
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

std::vector<queue::Recipient> FinalRecipients(const Verdict& v, std::vector<queue::Recipient> rcpts) {
  if (v.redirect.empty() && v.bcc.empty()) return rcpts;
  std::vector<queue::Recipient> out;
  auto add = [&out](queue::Recipient r) {
    for (const queue::Recipient& o : out)
      if (o.address == r.address) return;
    out.push_back(std::move(r));
  };
  for (queue::Recipient& r : rcpts) {
    if (!v.redirect.empty()) r.address = v.redirect;
    add(std::move(r));
  }
  for (const std::string& b : v.bcc) add({b, "", queue::kNotifyNever});
  return out;
}

}  // namespace postern::cleanup
