// smtp/headers.cc — the streaming header filter; see headers.h.
#include "smtp/headers.h"

#include "util/strings.h"

namespace postern::smtp {
namespace {

// RFC 5322 §2.1.1 caps a line at 998 octets; a longer "name" is no header.
constexpr size_t kMaxHeaderName = 998;

}  // namespace

HeaderFilter::Verdict HeaderFilter::Judge(std::string_view s) const {
  if (s.empty()) return Verdict::kUndecided;
  if (s[0] == '\n') return Verdict::kEndOfHeaders;
  if (s[0] == '\r') {
    if (s.size() < 2) return Verdict::kUndecided;
    return s[1] == '\n' ? Verdict::kEndOfHeaders : Verdict::kBody;
  }
  if (s[0] == ' ' || s[0] == '\t') return seen_header_ ? Verdict::kContinue : Verdict::kBody;
  size_t name_end = std::string_view::npos;  // set at the first blank (obsolete "Name :" syntax)
  for (size_t j = 0; j < s.size() && j <= kMaxHeaderName; ++j) {
    unsigned char c = s[j];
    if (c == ':') {
      if (j == 0) return Verdict::kBody;
      std::string_view name = s.substr(0, name_end == std::string_view::npos ? j : name_end);
      for (const auto& d : drop_names_)
        if (EqualsIgnoreCase(name, d)) return Verdict::kDrop;
      return Verdict::kKeep;
    }
    if (c == ' ' || c == '\t') {
      if (name_end == std::string_view::npos) name_end = j;
    } else if (c < 33 || c > 126 || name_end != std::string_view::npos) {
      return Verdict::kBody;  // not a header line: the body has begun
    }
  }
  return s.size() > kMaxHeaderName ? Verdict::kBody : Verdict::kUndecided;
}

void HeaderFilter::Process(std::string_view s, std::string* buf) {
  size_t i = 0;
  while (i < s.size() && !in_body_) {
    if (line_start_) {
      Verdict v = Judge(s.substr(i));
      if (v == Verdict::kUndecided) {
        pending_.assign(s.substr(i));
        return;
      }
      line_start_ = false;
      if (v == Verdict::kEndOfHeaders || v == Verdict::kBody) {
        // The empty line stays part of the header block; a non-header line
        // (a body without headers) is body.
        in_body_ = true;
        dropping_ = false;
        size_t n = v == Verdict::kBody ? 0 : s[i] == '\n' ? 1 : 2;
        header_bytes_ += n;
        buf->append(s.substr(i, n));
        i += n;
        break;
      }
      if (v != Verdict::kContinue) {
        dropping_ = v == Verdict::kDrop;
        seen_header_ = true;
        if (dropping_) ++removed_;
      }
    }
    size_t nl = s.find('\n', i);
    size_t e = nl == std::string_view::npos ? s.size() : nl + 1;
    if (!dropping_) {
      buf->append(s.substr(i, e - i));
      header_bytes_ += e - i;
    }
    if (nl != std::string_view::npos) line_start_ = true;
    i = e;
  }
  buf->append(s.substr(i));
}

void HeaderFilter::Apply(std::string* buf, size_t from) {
  if (in_body_) return;
  if (from > buf->size()) from = buf->size();
  std::string tail;
  tail.reserve(pending_.size() + buf->size() - from);
  tail.append(pending_);
  tail.append(*buf, from, std::string::npos);
  pending_.clear();
  buf->resize(from);
  Process(tail, buf);
}

void HeaderFilter::Finish(std::string* buf) {
  buf->append(pending_);
  pending_.clear();
}

}  // namespace postern::smtp
