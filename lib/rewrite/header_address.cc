// rewrite/header_address.cc — a small RFC 5322 address-list scanner for
// header rewriting; see header_address.h. Never fails on malformed input: text
// it cannot read as an address stays as it was.
#include "postern/rewrite/header_address.h"

#include <vector>

#include "postern/util/strings.h"

namespace postern::rewrite {

namespace {

struct HeaderKind {
  const char* name;
  AddressClass cls;
};
// Postfix's header_opts.c: the headers cleanup rewrites as sender or recipient.
constexpr HeaderKind kAddressHeaders[] = {
    {"Apparently-To", kHeaderRecipient}, {"Bcc", kHeaderRecipient},
    {"Cc", kHeaderRecipient},            {"Disposition-Notification-To", kHeaderSender},
    {"Errors-To", kHeaderSender},        {"From", kHeaderSender},
    {"Reply-To", kHeaderSender},         {"Resent-Bcc", kHeaderRecipient},
    {"Resent-Cc", kHeaderRecipient},     {"Resent-From", kHeaderSender},
    {"Resent-Reply-To", kHeaderSender},  {"Resent-Sender", kHeaderSender},
    {"Resent-To", kHeaderRecipient},     {"Return-Receipt-To", kHeaderSender},
    {"Sender", kHeaderSender},           {"To", kHeaderRecipient},
};

// A span of value to replace by a new address.
struct Edit {
  size_t begin, end;
  std::string address;  // external form, as found
};

// Skips a quoted string or (nested) comment starting at i; returns the index after it.
size_t SkipQuoted(std::string_view v, size_t i) {
  char open = v[i];
  int depth = 0;
  for (size_t j = i; j < v.size(); ++j) {
    if (v[j] == '\\') {
      ++j;
    } else if (open == '"' && v[j] == '"' && j > i) {
      return j + 1;
    } else if (open == '(' && v[j] == '(') {
      ++depth;
    } else if (open == '(' && v[j] == ')' && --depth == 0) {
      return j + 1;
    }
  }
  return v.size();
}

bool Space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// One mailbox (or group start) of an address list: [b, e) of value.
void ScanElement(std::string_view v, size_t b, size_t e, std::vector<Edit>* edits) {
  size_t first = std::string_view::npos, last = 0;
  std::string bare;
  bool comment_inside = false;
  for (size_t i = b; i < e;) {
    char c = v[i];
    if (c == '<') {
      size_t close = v.find('>', i);
      if (close == std::string_view::npos || close > e) return;
      std::string_view inner = v.substr(i + 1, close - i - 1);
      size_t colon = inner.find(':');  // obsolete source route @a,@b:user@d
      size_t from = inner.starts_with("@") && colon != std::string_view::npos ? colon + 1 : 0;
      std::string_view addr = Trim(inner.substr(from));
      if (!addr.empty()) edits->push_back({i + 1 + from, close, std::string(addr)});
      return;
    }
    if (c == '(') {
      if (first != std::string_view::npos) comment_inside = true;
      i = SkipQuoted(v, i);
      continue;
    }
    if (Space(c)) {
      ++i;
      continue;
    }
    size_t next = c == '"' ? SkipQuoted(v, i) : i + 1;
    if (first == std::string_view::npos) first = i;
    if (comment_inside) return;  // "a (x) b@c": not a plain addr-spec; leave it
    bare.append(v.substr(i, next - i));
    last = next;
    i = next;
  }
  if (first != std::string_view::npos && !bare.empty()) edits->push_back({first, last, bare});
}

// "a b"@x → a b@x (Postfix's internal form).
std::string Unquote(std::string_view a) {
  size_t at = a.rfind('@');
  std::string_view local = at == std::string_view::npos ? a : a.substr(0, at);
  if (local.size() < 2 || local.front() != '"' || local.back() != '"') return std::string(a);
  std::string out;
  for (size_t i = 1; i + 1 < local.size(); ++i) {
    if (local[i] == '\\' && i + 2 < local.size()) ++i;
    out += local[i];
  }
  return out + std::string(at == std::string_view::npos ? "" : a.substr(at));
}

// a b@x → "a b"@x where the local part is not a dot-atom.
std::string Quote(std::string_view a) {
  size_t at = a.rfind('@');
  std::string_view local = at == std::string_view::npos ? a : a.substr(0, at);
  bool plain = !local.empty() && local.front() != '.' && local.back() != '.' &&
               local.find("..") == std::string_view::npos;
  for (char c : local) {
    if (Space(c) || std::string_view("\"(),:;<>@[\\]").find(c) != std::string_view::npos || (unsigned char)c < 32)
      plain = false;
  }
  if (plain || local.empty()) return std::string(a);
  std::string out = "\"";
  for (char c : local) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"" + std::string(at == std::string_view::npos ? "" : a.substr(at));
}

}  // namespace

std::optional<AddressClass> HeaderAddressClass(std::string_view name) {
  for (const HeaderKind& h : kAddressHeaders) {
    if (EqualsIgnoreCase(name, h.name)) return h.cls;
  }
  return std::nullopt;
}

Result<std::optional<std::string>> RewriteHeaderAddresses(std::string_view value, const AddressFn& fn) {
  std::vector<Edit> edits;
  size_t start = 0;
  for (size_t i = 0; i <= value.size();) {
    char c = i < value.size() ? value[i] : ',';
    if (c == '"' || c == '(') {
      i = SkipQuoted(value, i);
      continue;
    }
    if (c == '<') {  // an angle address may hold ',' or ':' (source route)
      size_t close = value.find('>', i);
      i = close == std::string_view::npos ? value.size() : close + 1;
      continue;
    }
    if (c == ',' || c == ';') {
      ScanElement(value, start, i, &edits);
      start = i + 1;
    } else if (c == ':') {
      start = i + 1;  // "group:" — its display name is no address
    }
    ++i;
  }
  std::string out;
  size_t pos = 0;
  bool changed = false;
  for (const Edit& e : edits) {
    std::string in = Unquote(e.address);
    auto r = fn(in);
    if (!r) return Err(r.error());
    if (*r == in || r->empty()) continue;
    std::string now = Quote(*r);
    out.append(value.substr(pos, e.begin - pos));
    out.append(now);
    pos = e.end;
    changed = true;
  }
  if (!changed) return std::optional<std::string>();
  out.append(value.substr(pos));
  return std::optional<std::string>(std::move(out));
}

Result<void> RewriteAddressHeader(std::string* header, const std::function<bool(AddressClass)>& wants,
                                  const ClassFn& fn) {
  size_t colon = header->find(':');
  if (colon == std::string::npos) return {};
  auto cls = HeaderAddressClass(Trim(std::string_view(*header).substr(0, colon)));
  if (!cls || !wants(*cls)) return {};
  std::string_view value = std::string_view(*header).substr(colon + 1);
  std::string_view eol = value.ends_with("\r\n") ? "\r\n" : value.ends_with("\n") ? "\n" : "";
  value.remove_suffix(eol.size());
  auto now = RewriteHeaderAddresses(value, [&](std::string_view a) { return fn(a, *cls); });
  if (!now) return Err(now.error());
  if (*now) *header = header->substr(0, colon + 1) + **now + std::string(eol);
  return {};
}

}  // namespace postern::rewrite
