// smtp/body_out.cc — the pipeline of body_out.h.
#include "smtp/body_out.h"

namespace postern::smtp_client {

BodyOut::BodyOut(size_t line_limit, bool downgrade, mime::Limits limits,
                 std::shared_ptr<cleanup::CheckTables> checks, std::string_view queue_id)
    : split_(limits.hold()), walker_(limits, downgrade, this), text_(line_limit) {
  if (!checks) return;
  checks_.emplace(std::move(checks), cleanup::Scope::kSmtp);
  cleanup::LogContext ctx;
  ctx.queue_id = std::string(queue_id);
  checks_->SetContext(std::move(ctx));
  stream_ = std::make_unique<cleanup::CheckStream>(&*checks_, &walker_, &sink_);
}

void BodyOut::Line(std::string_view text, bool eol, bool header) {
  if (stream_) stream_->Line(text, eol, header);
  else sink_.Line(text, eol, header);
}

bool BodyOut::Feed(std::string_view in, std::string* out) {
  out_ = out;
  split_.Feed(in, [this](std::string_view piece, bool eol) { walker_.Feed(piece, eol); });
  return walker_.error() == mime::Error::kNone;
}

bool BodyOut::Finish(std::string* out) {
  out_ = out;
  split_.Finish([this](std::string_view piece, bool eol) { walker_.Feed(piece, eol); });
  if (walker_.error() != mime::Error::kNone) return false;
  if (stream_) stream_->Flush();
  text_.Finish(out);
  return true;
}

}  // namespace postern::smtp_client
