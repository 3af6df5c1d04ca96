// smtp/reply.cc — reply formatting and the streaming reply parser; see reply.h.
#include "postern/smtp/reply.h"

#include <cstring>

#include "postern/util/strings.h"

namespace postern::smtp {
namespace {

void AppendCode(std::string* out, int code) {
  unsigned c = unsigned(code) % 1000;
  char d[3] = {char('0' + c / 100), char('0' + c / 10 % 10), char('0' + c % 10)};
  out->append(d, 3);
}

void AppendSanitized(std::string* out, std::string_view text) {
  size_t start = out->size();
  out->append(text);
  for (size_t i = start; i < out->size(); ++i) {
    char& c = (*out)[i];
    if (c == '\r' || c == '\n' || c == '\0') c = ' ';
  }
}

void AppendLine(std::string* out, int code, bool last, std::string_view enh, std::string_view text) {
  AppendCode(out, code);
  out->push_back(last ? ' ' : '-');
  if (!enh.empty()) {
    AppendSanitized(out, enh);
    if (!text.empty()) out->push_back(' ');
  }
  AppendSanitized(out, text);
  out->append("\r\n", 2);
}

bool IsDigits(std::string_view s, size_t min, size_t max) {
  if (s.size() < min || s.size() > max) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

void AppendReply(std::string* out, const Reply& r) {
  if (r.lines.empty()) {
    AppendLine(out, r.code, true, r.enhanced, {});
    return;
  }
  for (size_t i = 0; i < r.lines.size(); ++i)
    AppendLine(out, r.code, i + 1 == r.lines.size(), r.enhanced, r.lines[i]);
}

void AppendReply(std::string* out, int code, std::string_view enhanced, std::string_view text) {
  AppendLine(out, code, true, enhanced, text);
}

bool IsEnhancedStatus(std::string_view s) {
  if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return false;
  std::string_view rest = s.substr(2);
  size_t dot = rest.find('.');
  if (dot == std::string_view::npos) return false;
  return IsDigits(rest.substr(0, dot), 1, 3) && IsDigits(rest.substr(dot + 1), 1, 3);
}

void ReplyParser::Feed(std::string_view bytes) {
  if (failed_) return;
  // Compact lazily so that a long pipelined burst is not moved once per reply.
  if (pos_ > 0 && pos_ * 2 >= buf_.size()) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(bytes);
}

ReplyParser::Status ReplyParser::Fail(std::string why) {
  failed_ = true;
  error_ = std::move(why);
  buf_.clear();
  pos_ = 0;
  return Status::kError;
}

bool ReplyParser::AddLine(std::string_view line, bool* last) {
  if (line.size() < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '5' ||
      line[2] < '0' || line[2] > '9') {
    error_ = "malformed reply code";
    return false;
  }
  if (line.size() > 3 && line[3] != ' ' && line[3] != '-') {
    error_ = "malformed reply separator";
    return false;
  }
  int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  if (!cur_.lines.empty() && code != cur_.code) {
    error_ = "inconsistent codes in multi-line reply";
    return false;
  }
  if (cur_.lines.size() >= max_lines_) {
    error_ = "too many lines in reply";
    return false;
  }
  cur_.code = code;
  *last = line.size() == 3 || line[3] == ' ';
  std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view();
  size_t sp = text.find(' ');
  std::string_view word = text.substr(0, sp);
  if (cur_.lines.empty()) {
    // The enhanced code counts only when its class agrees with the reply code.
    if (IsEnhancedStatus(word) && word[0] == line[0]) cur_.enhanced.assign(word);
  }
  if (!cur_.enhanced.empty() && word == cur_.enhanced)
    text = sp == std::string_view::npos ? std::string_view() : text.substr(sp + 1);
  cur_.lines.emplace_back(text);
  return true;
}

ReplyParser::Status ReplyParser::Next(Reply* out) {
  if (failed_) return Status::kError;
  while (true) {
    const char* base = buf_.data() + pos_;
    size_t avail = buf_.size() - pos_;
    const void* nl = avail ? std::memchr(base, '\n', avail) : nullptr;
    if (nl == nullptr) {
      if (avail > max_line_ + 1) return Fail("reply line too long");
      return Status::kNeedMore;
    }
    size_t len = static_cast<const char*>(nl) - base;
    pos_ += len + 1;
    // Servers that end lines with a bare LF are tolerated, as Postfix does.
    std::string_view line(base, len);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > max_line_) return Fail("reply line too long");
    bool last = false;
    if (!AddLine(line, &last)) return Fail(error_);
    if (last) {
      *out = std::move(cur_);
      cur_ = Reply{};
      return Status::kReply;
    }
  }
}

EhloInfo ParseEhlo(const Reply& r) {
  EhloInfo info;
  for (size_t i = 1; i < r.lines.size(); ++i) {
    std::string_view line = Trim(r.lines[i]);
    size_t sp = line.find_first_of(" =");  // some old servers wrote "AUTH=LOGIN"
    std::string kw = ToLower(line.substr(0, sp));
    std::string_view arg = sp == std::string_view::npos ? std::string_view() : Trim(line.substr(sp + 1));
    if (kw == "pipelining") info.pipelining = true;
    else if (kw == "8bitmime") info.eightbitmime = true;
    else if (kw == "smtputf8") info.smtputf8 = true;
    else if (kw == "dsn") info.dsn = true;
    else if (kw == "chunking") info.chunking = true;
    else if (kw == "starttls") info.starttls = true;
    else if (kw == "enhancedstatuscodes") info.enhancedstatuscodes = true;
    else if (kw == "binarymime") info.binarymime = true;
    else if (kw == "size") {
      info.size_offered = true;
      unsigned long long n = 0;
      if (arg.size() <= 20 && ParseUnsigned(arg, &n)) info.size_limit = n;
    } else if (kw == "auth") {
      for (auto& m : SplitList(arg, " \t")) {
        std::string up = m;
        for (char& c : up) c = (c >= 'a' && c <= 'z') ? char(c - 32) : c;
        info.auth.push_back(std::move(up));
      }
    }
  }
  return info;
}

}  // namespace postern::smtp
