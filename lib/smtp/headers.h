// smtp/headers.h — streaming header-block filter for smtpd: drops headers
// that must never be trusted from a client (Return-Path:) and finds the end
// of the header block, working in place on the decoder's output buffer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace postern::smtp {

class HeaderFilter {
 public:
  // Header names to remove (case-insensitive), with their continuation lines.
  explicit HeaderFilter(std::vector<std::string> drop = {"Return-Path"}) : drop_names_(std::move(drop)) {}

  // Filters buf[from, end) in place: the bytes just appended by the DATA
  // decoder. A header line whose name is not complete yet is moved out of
  // buf and put back in front on the next call, so callers may write out
  // all of buf after each call. Once the body has begun this costs nothing.
  void Apply(std::string* buf, size_t from);
  // End of content: returns any withheld partial line to buf.
  void Finish(std::string* buf);

  // The empty line (or a line that is no header) ending the header block was seen.
  bool in_body() const { return in_body_; }
  // Header bytes kept (the offset of the body in the filtered stream, once in_body()).
  uint64_t header_bytes() const { return header_bytes_; }
  unsigned removed() const { return removed_; }

 private:
  enum class Verdict { kUndecided, kKeep, kDrop, kContinue, kEndOfHeaders, kBody };
  Verdict Judge(std::string_view s) const;
  void Process(std::string_view s, std::string* buf);

  std::vector<std::string> drop_names_;
  std::string pending_;
  bool in_body_ = false;
  bool line_start_ = true;
  bool dropping_ = false;     // the current header is being removed
  bool seen_header_ = false;  // a continuation line needs a header before it
  uint64_t header_bytes_ = 0;
  unsigned removed_ = 0;
};

}  // namespace postern::smtp
