// smtp/body_out.cc — the pipeline of body_out.h.
#include "smtp/body_out.h"

namespace postern::smtp_client {

bool BodyOut::Feed(std::string_view in, std::string* out) {
  out_ = out;
  split_.Feed(in, [this](std::string_view piece, bool eol) { walker_.Feed(piece, eol); });
  return walker_.error() == mime::Error::kNone;
}

bool BodyOut::Finish(std::string* out) {
  out_ = out;
  split_.Finish([this](std::string_view piece, bool eol) { walker_.Feed(piece, eol); });
  if (walker_.error() != mime::Error::kNone) return false;
  text_.Finish(out);
  return true;
}

}  // namespace postern::smtp_client
