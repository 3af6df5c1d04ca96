// cleanup/check_stream.h — runs Checks over the lines of a mime::Walker: holds
// each logical header until it is complete, inspects it and the body lines, and
// passes what remains to the next line sink.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "postern/cleanup/checks.h"
#include "postern/mime/lines.h"
#include "postern/mime/walker.h"

namespace postern::cleanup {

class CheckStream : public mime::LineSink {
 public:
  // `walker` is the one feeding this sink (asked which header block a line is in).
  CheckStream(Checks* checks, const mime::Walker* walker, mime::LineSink* out)
      : checks_(checks), walker_(walker), out_(out) {}
  void Line(std::string_view text, bool eol, bool header) override;
  // The end of the content: a header still held is inspected and goes out.
  void Flush();

 private:
  void EndHeader();
  void Emit(const std::string& text, bool header);

  Checks* checks_;
  const mime::Walker* walker_;
  mime::LineSink* out_;
  std::string held_;          // the logical header so far, lines joined by "\n"
  bool holding_ = false;
  mime::Block block_ = mime::Block::kPrimary;
  bool line_start_ = true;
  bool dropping_ = false;     // the rest of this body line goes (IGNORE, REPLACE)
  uint64_t offset_ = 0;       // bytes into the current body segment
};

// Content bytes (CRLF lines) through Checks, for cleanup: bytes in, bytes out.
class CheckFilter : private mime::LineSink {
 public:
  explicit CheckFilter(std::shared_ptr<CheckTables> tables)
      : checks_(std::move(tables), Scope::kCleanup),
        split_(checks_.tables().limits.hold()),
        walker_(checks_.tables().limits, false, &stream_),
        stream_(&checks_, &walker_, this) {}
  CheckFilter(const CheckFilter&) = delete;
  CheckFilter& operator=(const CheckFilter&) = delete;

  // Filters buf[from, end) in place; a partial line is withheld until the next call.
  void Apply(std::string* buf, size_t from);
  // The end: buf[from, end) is the last input; nothing is withheld after it.
  void Finish(std::string* buf, size_t from);
  Checks& checks() { return checks_; }
  const Checks& checks() const { return checks_; }

 private:
  void Line(std::string_view text, bool eol, bool header) override;

  Checks checks_;
  mime::LineSplitter split_;
  mime::Walker walker_;
  CheckStream stream_;
  std::string* out_ = nullptr;
};

}  // namespace postern::cleanup
