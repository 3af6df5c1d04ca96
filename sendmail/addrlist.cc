// sendmail/addrlist.cc — the address-list parser of addrlist.h: a tokenizer
// (atoms, quoted strings, comments, specials) and a mailbox/group walker.
#include "sendmail/addrlist.h"

namespace postern::sendmail {
namespace {

enum class Tok { kWord, kQuoted, kSpecial, kEnd };

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;  // a word, a quoted string's content with its quotes, or one special
};

constexpr std::string_view kSpecials = "()<>[]:;@\\,.\"";

// Splits a header value into tokens; comments are dropped (they never carry
// an address), domain literals [..] become one word.
Result<std::vector<Token>> Tokenize(std::string_view s) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      ++i;
    } else if (c == '(') {
      int depth = 0;
      for (; i < s.size(); ++i) {
        if (s[i] == '\\') { ++i; continue; }
        if (s[i] == '(') ++depth;
        if (s[i] == ')' && --depth == 0) break;
      }
      if (i >= s.size()) return Err("unbalanced comment");
      ++i;
    } else if (c == '"') {
      std::string q = "\"";
      for (++i; i < s.size() && s[i] != '"'; ++i) {
        if (s[i] == '\\' && i + 1 < s.size()) q += s[i++];
        q += s[i];
      }
      if (i >= s.size()) return Err("unbalanced quoted string");
      ++i;
      out.push_back({Tok::kQuoted, q + "\""});
    } else if (c == '[') {
      size_t end = s.find(']', i);
      if (end == std::string_view::npos) return Err("unbalanced domain literal");
      out.push_back({Tok::kWord, std::string(s.substr(i, end + 1 - i))});
      i = end + 1;
    } else if (kSpecials.find(c) != std::string_view::npos) {
      out.push_back({Tok::kSpecial, std::string(1, c)});
      ++i;
    } else {
      size_t start = i;
      while (i < s.size() && kSpecials.find(s[i]) == std::string_view::npos && s[i] != ' ' && s[i] != '\t' &&
             s[i] != '\r' && s[i] != '\n')
        ++i;
      out.push_back({Tok::kWord, std::string(s.substr(start, i - start))});
    }
  }
  return out;
}

bool IsSpecial(const Token& t, char c) { return t.kind == Tok::kSpecial && t.text[0] == c; }

// Joins the tokens of an addr-spec (local-part@domain) without spaces.
std::string Join(const std::vector<Token>& toks, size_t from, size_t to) {
  std::string a;
  for (size_t k = from; k < to; ++k) a += toks[k].text;
  return a;
}

class Walker {
 public:
  explicit Walker(std::vector<Token> t) : t_(std::move(t)) {}

  Result<std::vector<std::string>> Run() {
    while (i_ < t_.size()) {
      if (IsSpecial(t_[i_], ',')) { ++i_; continue; }
      if (auto r = Mailbox(); !r) return Err(r.error());
      if (out_.size() > kMaxAddresses) return Err("too many addresses");
    }
    return std::move(out_);
  }

 private:
  // One mailbox, or a group "name: mailbox, ...;". Everything up to the next
  // top-level ',' (or ';' inside a group) belongs to it.
  Result<void> Mailbox() {
    size_t start = i_;
    for (; i_ < t_.size(); ++i_) {
      const Token& t = t_[i_];
      if (IsSpecial(t, ',') || (in_group_ && IsSpecial(t, ';'))) break;
      if (IsSpecial(t, ':') && !in_group_) {
        in_group_ = true;  // display-name ':' starts a group
        start = i_ + 1;
        continue;
      }
      if (IsSpecial(t, '<')) return Angle();
    }
    if (i_ > start) {
      std::string a = Join(t_, start, i_);
      if (!a.empty()) out_.push_back(std::move(a));
    }
    if (in_group_ && i_ < t_.size() && IsSpecial(t_[i_], ';')) {
      in_group_ = false;
      ++i_;
    }
    return {};
  }

  // name-addr: "<" [route ":"] addr-spec ">"; the display name before it is dropped.
  Result<void> Angle() {
    size_t open = ++i_;
    while (i_ < t_.size() && !IsSpecial(t_[i_], '>')) ++i_;
    if (i_ >= t_.size()) return Err("unbalanced angle bracket");
    size_t from = open;
    for (size_t k = open; k < i_; ++k)
      if (IsSpecial(t_[k], ':')) from = k + 1;  // obsolete source route
    std::string a = Join(t_, from, i_);
    if (!a.empty()) out_.push_back(std::move(a));
    ++i_;
    // Skip what follows up to the separator (a trailing comment was dropped already).
    while (i_ < t_.size() && !IsSpecial(t_[i_], ',') && !(in_group_ && IsSpecial(t_[i_], ';'))) ++i_;
    if (in_group_ && i_ < t_.size() && IsSpecial(t_[i_], ';')) {
      in_group_ = false;
      ++i_;
    }
    return {};
  }

  std::vector<Token> t_;
  size_t i_ = 0;
  bool in_group_ = false;
  std::vector<std::string> out_;
};

}  // namespace

std::string Unfold(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\r' || value[i] == '\n') continue;
    out += value[i];
  }
  return out;
}

Result<std::vector<std::string>> ParseAddressList(std::string_view value) {
  if (value.size() > kMaxHeaderValue) return Err("header too long");
  auto toks = Tokenize(value);
  if (!toks) return Err(toks.error());
  return Walker(std::move(*toks)).Run();
}

}  // namespace postern::sendmail
