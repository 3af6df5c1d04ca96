// smtp/headers.cc — the streaming header filter; see headers.h.
#include "postern/smtp/headers.h"

#include "postern/util/strings.h"

namespace postern::smtp {
namespace {

// RFC 5322 §2.1.1 caps a line at 998 octets; a longer "name" is no header.
constexpr size_t kMaxHeaderName = 998;

bool Listed(std::string_view name, const std::vector<std::string>& names) {
  for (const auto& n : names)
    if (EqualsIgnoreCase(name, n)) return true;
  return false;
}

}  // namespace

HeaderFilter::Verdict HeaderFilter::Judge(std::string_view s, std::string_view* name) const {
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
      *name = s.substr(0, name_end == std::string_view::npos ? j : name_end);
      return Listed(*name, opt_.drop) ? Verdict::kDrop : Verdict::kKeep;
    }
    if (c == ' ' || c == '\t') {
      if (name_end == std::string_view::npos) name_end = j;
    } else if (c < 33 || c > 126 || name_end != std::string_view::npos) {
      return Verdict::kBody;  // not a header line: the body has begun
    }
  }
  return s.size() > kMaxHeaderName ? Verdict::kBody : Verdict::kUndecided;
}

// A cut header ends with the CRLF its discarded text would have carried.
void HeaderFilter::EndCut(std::string* buf) {
  if (!need_eol_) return;
  // A cut at a line end needs nothing; a kept CR gets its LF, never a second CR.
  std::string_view eol = last_ == '\n' ? "" : last_ == '\r' ? "\n" : "\r\n";
  buf->append(eol);
  header_bytes_ += eol.size();
  need_eol_ = false;
}

void HeaderFilter::StartHeader(Verdict v, std::string_view name, std::string* buf) {
  if (v == Verdict::kContinue) return;
  EndCut(buf);
  cutting_ = false;
  cur_bytes_ = 0;
  dropping_ = v == Verdict::kDrop;
  seen_header_ = true;
  if (dropping_) ++removed_;
  if (Listed(name, opt_.hops)) ++hops_;
  for (Addition& a : additions_)
    if (EqualsIgnoreCase(name, a.name)) a.seen = true;
  in_message_id_ = !has_message_id_ && EqualsIgnoreCase(name, "Message-ID");
  has_message_id_ = has_message_id_ || in_message_id_;
  message_id_name_ = in_message_id_;
}

// Collects the first Message-ID: header's text for cleanup's log line.
void HeaderFilter::NoteMessageId(std::string_view line) {
  if (message_id_name_) line.remove_prefix(line.find(':') + 1);  // Judge() saw the colon
  message_id_name_ = false;
  message_id_.append(line.substr(0, kMaxMessageId - message_id_.size()));
}

// Appends a piece of a kept header, up to header_size_limit for the header.
void HeaderFilter::Keep(std::string_view piece, std::string* buf) {
  if (cutting_) return;
  size_t limit = opt_.header_size_limit;
  bool cut = limit != 0 && cur_bytes_ + piece.size() > limit;
  if (cut) piece = piece.substr(0, limit - cur_bytes_);
  buf->append(piece);
  header_bytes_ += piece.size();
  cur_bytes_ += piece.size();
  if (!piece.empty()) last_ = piece.back();
  if (cut) {
    cutting_ = need_eol_ = true;  // the piece's line end was beyond the cut
    ++truncated_;
  }
}

void HeaderFilter::Process(std::string_view s, std::string* buf) {
  size_t i = 0;
  while (i < s.size() && !in_body_) {
    if (line_start_) {
      std::string_view name;
      Verdict v = Judge(s.substr(i), &name);
      if (v == Verdict::kUndecided) {
        pending_.assign(s.substr(i));
        return;
      }
      line_start_ = false;
      if (v == Verdict::kEndOfHeaders || v == Verdict::kBody) {
        // The empty line stays part of the header block; a non-header line
        // (a body without headers) is body.
        EndCut(buf);
        EndHeaders(v == Verdict::kBody, buf);
        in_body_ = true;
        in_message_id_ = false;
        dropping_ = false;
        size_t n = v == Verdict::kBody ? 0 : s[i] == '\n' ? 1 : 2;
        header_bytes_ += n;
        buf->append(s.substr(i, n));
        i += n;
        break;
      }
      StartHeader(v, name, buf);
    }
    size_t nl = s.find('\n', i);
    size_t e = nl == std::string_view::npos ? s.size() : nl + 1;
    if (!dropping_) Keep(s.substr(i, e - i), buf);
    if (in_message_id_) NoteMessageId(s.substr(i, e - i));
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
  EndCut(buf);
  buf->append(pending_);
  bool open_line = !pending_.empty() || (!line_start_ && !cutting_);
  pending_.clear();
  if (in_body_) return;
  in_body_ = true;
  if (std::string added = TakeAdditions(); !added.empty()) {
    if (open_line) buf->append("\r\n");
    buf->append(added);
    header_bytes_ += added.size() + (open_line ? 2 : 0);
  }
}

void HeaderFilter::AddIfMissing(std::string name, std::string value) {
  additions_.push_back({std::move(name), std::move(value)});
}

// The headers of additions_ that the block lacked, as text; an added
// Message-Id: becomes the one message_id() reports.
std::string HeaderFilter::TakeAdditions() {
  std::string added;
  for (const Addition& a : additions_) {
    if (a.seen) continue;
    added += a.name + ": " + a.value + "\r\n";
    if (!has_message_id_ && EqualsIgnoreCase(a.name, "Message-ID")) {
      has_message_id_ = true;
      message_id_ = " " + a.value;
    }
  }
  additions_.clear();
  return added;
}

// The missing headers go last in the block; a body that began without the
// empty line gets one after them, so that it is not read as headers.
void HeaderFilter::EndHeaders(bool need_separator, std::string* buf) {
  std::string added = TakeAdditions();
  if (added.empty()) return;
  if (need_separator) added += "\r\n";
  buf->append(added);
  header_bytes_ += added.size();
}

}  // namespace postern::smtp
