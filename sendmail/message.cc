// sendmail/message.cc — header block handling for sendmail (see message.h).
#include "sendmail/message.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "postern/util/strings.h"
#include "sendmail/addrlist.h"

namespace postern::sendmail {
namespace {

constexpr size_t kReadSize = 256 * 1024;
constexpr size_t kMaxLine = 1 << 20;          // a longer "line" is cut into pieces
constexpr size_t kMaxHeaderBlock = 1 << 20;   // headers before the body

std::string_view Chomp(std::string_view l) {
  if (!l.empty() && l.back() == '\n') l.remove_suffix(1);
  if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
  return l;
}

// "Name:" at the start of a header line (RFC 5322 ftext), or empty.
std::string_view FieldName(std::string_view line) {
  size_t i = 0;
  while (i < line.size() && line[i] > 32 && line[i] < 127 && line[i] != ':') ++i;
  if (i == 0 || i >= line.size() || line[i] != ':') return {};
  return line.substr(0, i);
}

}  // namespace

Result<bool> LineReader::Next(std::string* line) {
  line->clear();
  for (;;) {
    size_t nl = buf_.find('\n', pos_);
    if (nl != std::string::npos || buf_.size() - pos_ >= kMaxLine || (eof_ && pos_ < buf_.size())) {
      size_t end = nl != std::string::npos ? nl + 1 : std::min(buf_.size(), pos_ + kMaxLine);
      line->assign(buf_, pos_, end - pos_);
      pos_ = end;
      return true;
    }
    if (eof_) return false;
    buf_.erase(0, pos_);
    pos_ = 0;
    size_t have = buf_.size();
    buf_.resize(have + kReadSize);
    ssize_t n;
    do n = read(fd_, buf_.data() + have, kReadSize);
    while (n < 0 && errno == EINTR);
    if (n < 0) return Err(std::string("read standard input: ") + strerror(errno));
    buf_.resize(have + static_cast<size_t>(n));
    if (n == 0) eof_ = true;
  }
}

std::string Qualify(std::string_view addr, std::string_view origin) {
  if (addr.empty() || addr.find('@') != std::string_view::npos || origin.empty()) return std::string(addr);
  return std::string(addr) + "@" + std::string(origin);
}

bool IsLoneDot(std::string_view line) { return Chomp(line) == "."; }

void AppendCrlf(std::string_view line, bool last, std::string* out) {
  if (!line.ends_with('\n') && !last) {
    out->append(line);
    return;
  }
  out->append(Chomp(line));
  out->append("\r\n");
}

Result<void> CopyContent(LineReader& in, const Header& h, bool dot_ends, const ContentSink& sink) {
  std::string out = h.text;
  if (!h.first_body_line.empty()) AppendCrlf(h.first_body_line, in.exhausted(), &out);
  std::string line;
  while (!h.ended) {
    auto more = in.Next(&line);
    if (!more) return Err(more.error());
    if (!*more || (dot_ends && IsLoneDot(line))) break;
    AppendCrlf(line, in.exhausted(), &out);
    if (out.size() >= kReadSize) {
      if (auto r = sink(out); !r) return r;
      out.clear();
    }
  }
  return sink(out);
}

Result<Header> ReadHeader(LineReader& in, const MessageOptions& opt, std::vector<std::string>* rcpts) {
  // Each field with its continuation lines, as read (line ends kept).
  std::vector<std::string> fields;
  Header h;
  std::string line;
  size_t total = 0;
  bool first = true;
  for (;;) {
    auto more = in.Next(&line);
    if (!more) return Err(more.error());
    if (!*more || (opt.dot_ends_input && IsLoneDot(line))) {
      h.ended = true;
      break;
    }
    // A leading mbox "From " line is not a header; sendmail drops it.
    if (first && line.starts_with("From ")) {
      first = false;
      continue;
    }
    first = false;
    total += line.size();
    if (total > kMaxHeaderBlock) return Err("message header block is too large");
    if ((line[0] == ' ' || line[0] == '\t') && !fields.empty() && Chomp(line).size() > 0) {
      fields.back() += line;
      continue;
    }
    if (Chomp(line).empty()) break;  // the separator; our own is added below
    if (FieldName(line).empty()) {
      h.first_body_line = line;  // no separator: the body starts here
      break;
    }
    fields.push_back(line);
  }
  bool have_from = false;
  for (const std::string& f : fields) {
    std::string_view name = FieldName(f);
    if (EqualsIgnoreCase(name, "From")) have_from = true;
    bool bcc = EqualsIgnoreCase(name, "Bcc");
    if (opt.extract_recipients && (bcc || EqualsIgnoreCase(name, "To") || EqualsIgnoreCase(name, "Cc"))) {
      auto list = ParseAddressList(Unfold(std::string_view(f).substr(name.size() + 1)));
      if (!list) return Err(std::string(name) + " header: " + list.error());
      for (const std::string& a : *list) {
        if (rcpts->size() >= kMaxAddresses) return Err("too many recipients");
        rcpts->push_back(Qualify(a, opt.origin));
      }
    }
    if (bcc) continue;  // never sent on, whether -t or not
    std::string_view v = f;
    // Every line leaves with CRLF; the last field line may have had no newline.
    size_t start = 0;
    while (start < v.size()) {
      size_t nl = v.find('\n', start);
      std::string_view l = v.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
      h.text += Chomp(l);
      h.text += "\r\n";
      if (nl == std::string_view::npos) break;
      start = nl + 1;
    }
  }
  if (!have_from) h.text += "From: " + opt.from_header + "\r\n";
  h.text += "\r\n";
  return h;
}

}  // namespace postern::sendmail
