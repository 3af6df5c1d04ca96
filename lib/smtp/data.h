// smtp/data.h — message content on the wire: the server's streaming DATA
// decoder (unstuffing, smuggling-safe end-of-data, bare-LF policy, size and
// line-length accounting) and the client's streaming dot-stuffing encoder.
//
// Canonical stored form: the content exactly as it will be sent again, lines
// ending in CRLF, dots NOT doubled, without the final ".CRLF". The client then
// only has to double leading dots; nothing needs rewriting line by line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "postern/smtp/limits.h"

namespace postern::smtp {

// Postfix 3.9 smtpd_forbid_bare_newline, as far as DATA content goes.
enum class BareLf {
  kNormalize,  // a bare LF ends a line and is stored as CRLF; it never helps form end-of-data
  kReject,     // as kNormalize, and saw_bare_lf() tells the caller to refuse the message (5xx)
  kNo,         // a bare LF is ordinary content, stored as it came (never a line end)
};

class DataDecoder {
 public:
  struct Options {
    BareLf bare_lf = BareLf::kNormalize;
    size_t line_limit = kDefaultLineLengthLimit;  // longer lines set long_line()
    uint64_t size_limit = 0;  // stop storing output beyond this many bytes; 0 = no limit
  };

  DataDecoder() = default;
  explicit DataDecoder(Options opt) : opt_(opt) {}

  // Decodes the next chunk, appending unstuffed content to *out. Returns how
  // many bytes of `in` were used: all of them until end-of-data, then the
  // count up to and including the final ".\r\n"; what follows (pipelined
  // commands) belongs to the command reader.
  size_t Feed(std::string_view in, std::string* out);

  // End-of-data (<CR><LF>.<CR><LF>, or ".\r\n" first thing) was seen.
  bool done() const { return state_ == State::kDone; }
  // Decoded content bytes so far, including any not stored past size_limit.
  uint64_t size() const { return size_; }
  // size() passed Options::size_limit; output stopped growing (answer 552).
  bool over_size() const { return over_size_; }
  bool saw_bare_lf() const { return saw_bare_lf_; }
  // A line longer than Options::line_limit (CRLF not counted) was seen.
  bool long_line() const { return long_line_; }
  // Ready for the next message with the same options.
  void Reset() { *this = DataDecoder(opt_); }

 private:
  enum class State { kLineStart, kDot, kDotCr, kMid, kDone };
  void Emit(const char* p, size_t n, std::string* out);
  void EndLine(size_t len);
  const char* ScanLines(const char* p, const char* end, const char** run, std::string* out);

  Options opt_;
  State state_ = State::kLineStart;
  bool eligible_ = true;   // this line start may begin the end-of-data marker
  bool prev_cr_ = false;   // last byte of the previous chunk was CR (in kMid)
  size_t line_len_ = 0;
  uint64_t size_ = 0;
  bool over_size_ = false;
  bool saw_bare_lf_ = false;
  bool long_line_ = false;
};

// Postfix 3.9's cleanup_replace_stray_cr_lf, in place on content in stored
// form: a CR not followed by LF and an LF not preceded by CR become a space,
// so no bare CR or LF can leave the host (SMTP smuggling); a NUL (never valid
// in SMTP content) becomes a space too, whatever the setting.
class StrayFilter {
 public:
  explicit StrayFilter(bool cr_lf = true) : cr_lf_(cr_lf) {}
  // Rewrites buf[from, end) in place. A CR at the very end is withheld (it
  // may be the first half of a CRLF) and put back in front on the next call.
  void Apply(std::string* buf, size_t from);
  // End of content: a withheld CR had nothing after it, so it is stray.
  void Finish(std::string* buf);
  uint64_t stray() const { return stray_; }  // CR and LF replaced
  uint64_t nuls() const { return nuls_; }

 private:
  bool cr_lf_;
  bool held_cr_ = false;
  bool prev_cr_ = false;  // the byte before `from` was a CR (kept as part of CRLF)
  uint64_t stray_ = 0, nuls_ = 0;
};

// Turns stored content into the DATA stream: doubles a '.' at each line
// start, writes a bare LF as CRLF, and Finish() ends the last line if the
// content did not and appends ".\r\n". Feed chunks of any size.
class DotStuffer {
 public:
  void Feed(std::string_view in, std::string* out);
  void Finish(std::string* out);
  void Reset() { *this = DotStuffer(); }

 private:
  bool line_start_ = true;
  bool prev_cr_ = false;
};

}  // namespace postern::smtp
