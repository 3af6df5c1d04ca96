// smtp/body_out.h — the message body as the smtp/lmtp client sends it: lines
// cut from the queue's stream, walked as MIME (8bit parts converted to
// quoted-printable for a server without 8BITMIME), written dot-stuffed within
// smtp_line_length_limit.
#pragma once

#include <string>
#include <string_view>

#include "postern/mime/lines.h"
#include "postern/mime/walker.h"
#include "postern/smtp/text_out.h"

namespace postern::smtp_client {

class BodyOut : private mime::LineSink {
 public:
  BodyOut(size_t line_limit, bool downgrade, mime::Limits limits)
      : split_(limits.hold()), walker_(limits, downgrade, this), text_(line_limit) {}
  BodyOut(const BodyOut&) = delete;
  BodyOut& operator=(const BodyOut&) = delete;

  // Appends the DATA stream for the next body bytes to *out; false when the
  // message cannot be sent this way (error()).
  bool Feed(std::string_view in, std::string* out);
  // The end of the body, and ".\r\n".
  bool Finish(std::string* out);
  mime::Error error() const { return walker_.error(); }

 private:
  void Line(std::string_view text, bool eol, bool header) override { text_.Line(text, eol, header, out_); }

  mime::LineSplitter split_;
  mime::Walker walker_;
  smtp::TextOut text_;
  std::string* out_ = nullptr;
};

}  // namespace postern::smtp_client
