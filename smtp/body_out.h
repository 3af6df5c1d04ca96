// smtp/body_out.h — the message body as the smtp/lmtp client sends it: lines
// cut from the queue's stream, walked as MIME (8bit parts converted to
// quoted-printable for a server without 8BITMIME), inspected by
// smtp_header_checks ... smtp_body_checks, written dot-stuffed within
// smtp_line_length_limit.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "postern/cleanup/check_stream.h"
#include "postern/mime/lines.h"
#include "postern/mime/walker.h"
#include "postern/smtp/text_out.h"

namespace postern::smtp_client {

class BodyOut : private mime::LineSink {
 public:
  // checks: the client's header/body check tables (null: none); queue_id
  // names the message in their log lines.
  BodyOut(size_t line_limit, bool downgrade, mime::Limits limits,
          std::shared_ptr<cleanup::CheckTables> checks = nullptr, std::string_view queue_id = "");
  BodyOut(const BodyOut&) = delete;
  BodyOut& operator=(const BodyOut&) = delete;

  // Appends the DATA stream for the next body bytes to *out; false when the
  // message cannot be sent this way (error()).
  bool Feed(std::string_view in, std::string* out);
  // The end of the body, and ".\r\n".
  bool Finish(std::string* out);
  mime::Error error() const { return walker_.error(); }

 private:
  // What the checks let through goes to the text writer.
  struct TextSink : mime::LineSink {
    explicit TextSink(BodyOut* b) : body(b) {}
    void Line(std::string_view text, bool eol, bool header) override {
      body->text_.Line(text, eol, header, body->out_);
    }
    BodyOut* body;
  };
  void Line(std::string_view text, bool eol, bool header) override;

  mime::LineSplitter split_;
  mime::Walker walker_;
  smtp::TextOut text_;
  TextSink sink_{this};
  std::optional<cleanup::Checks> checks_;
  std::unique_ptr<cleanup::CheckStream> stream_;
  std::string* out_ = nullptr;
};

}  // namespace postern::smtp_client
