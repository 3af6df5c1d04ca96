// smtp/headers.h — streaming filter of the primary header block: drops headers
// that must never be trusted (Return-Path:), counts hop headers (Received:,
// Delivered-To:), notes the first Message-ID: for cleanup's log line and cuts a
// header longer than header_size_limit, in place on the buffer being filled,
// so that nothing is ever held whole.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace postern::smtp {

class HeaderFilter {
 public:
  struct Options {
    std::vector<std::string> drop = {"Return-Path"};  // removed with their continuation lines
    std::vector<std::string> hops;                    // names counted by hops()
    // Bytes kept of one header with its continuation lines (Postfix's
    // header_size_limit); the excess is discarded. 0: no limit.
    size_t header_size_limit = 0;
  };

  HeaderFilter() = default;
  explicit HeaderFilter(Options o) : opt_(std::move(o)) {}

  // Filters buf[from, end) in place: the bytes just appended by the DATA
  // decoder. A header line whose name is not complete yet is moved out of
  // buf and put back in front on the next call, so callers may write out
  // all of buf after each call. Once the body has begun this costs nothing.
  void Apply(std::string* buf, size_t from);
  // End of content: returns any withheld partial line to buf.
  void Finish(std::string* buf);

  // Adds "name: value" at the end of the header block unless a header of that
  // name is in it (Postfix's cleanup: Message-Id:, Date:, From:). Call before
  // the first Apply. An added Message-Id: is what message_id() reports.
  void AddIfMissing(std::string name, std::string value);

  // The empty line (or a line that is no header) ending the header block was seen.
  bool in_body() const { return in_body_; }
  // Header bytes kept (the offset of the body in the filtered stream, once in_body()).
  uint64_t header_bytes() const { return header_bytes_; }
  unsigned removed() const { return removed_; }
  // Headers named in Options::hops seen in the header block.
  unsigned hops() const { return hops_; }
  // Headers cut at Options::header_size_limit.
  unsigned truncated() const { return truncated_; }
  // The raw text after "Message-ID:" of the first such header (with its
  // continuation lines, at most kMaxMessageId bytes); empty when none.
  const std::string& message_id() const { return message_id_; }
  bool has_message_id() const { return has_message_id_; }
  static constexpr size_t kMaxMessageId = 998;

 private:
  enum class Verdict { kUndecided, kKeep, kDrop, kContinue, kEndOfHeaders, kBody };
  Verdict Judge(std::string_view s, std::string_view* name) const;
  void StartHeader(Verdict v, std::string_view name, std::string* buf);
  void EndCut(std::string* buf);
  void Keep(std::string_view line, std::string* buf);
  void Process(std::string_view s, std::string* buf);
  void NoteMessageId(std::string_view line);
  void EndHeaders(bool need_separator, std::string* buf);
  std::string TakeAdditions();

  struct Addition {
    std::string name, value;
    bool seen = false;
  };

  Options opt_;
  std::string pending_;
  bool in_body_ = false;
  bool line_start_ = true;
  bool dropping_ = false;     // the current header is being removed
  bool seen_header_ = false;  // a continuation line needs a header before it
  bool cutting_ = false;      // the current header passed header_size_limit
  bool need_eol_ = false;     // a cut header may still need its line end
  char last_ = 0;             // the last byte kept of the current header
  size_t cur_bytes_ = 0;      // bytes kept of the current header
  uint64_t header_bytes_ = 0;
  unsigned removed_ = 0;
  unsigned hops_ = 0;
  unsigned truncated_ = 0;
  bool in_message_id_ = false;  // the current header is the first Message-ID:
  bool has_message_id_ = false;
  bool message_id_name_ = false;  // the next piece starts with "Message-ID:"

  std::string message_id_;
  std::vector<Addition> additions_;
};

}  // namespace postern::smtp
