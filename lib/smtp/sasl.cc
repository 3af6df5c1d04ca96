// smtp/sasl.cc — AUTH command, base64 and PLAIN/LOGIN parsing with explicit
// limits; see sasl.h. Nothing here logs: the inputs carry passwords.
#include "postern/smtp/sasl.h"

#include <array>
#include <cstring>

#include "postern/util/strings.h"

namespace postern::smtp {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> MakeTable() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[uint8_t(kAlphabet[i])] = int8_t(i);
  return t;
}
constexpr auto kDecode = MakeTable();

bool IsMechanismChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

char Upper(char c) { return c >= 'a' && c <= 'z' ? char(c - 'a' + 'A') : c; }

}  // namespace

std::optional<std::string> Base64Decode(std::string_view in, size_t max_out) {
  if (in.size() % 4 != 0) return std::nullopt;
  if (in.size() / 4 * 3 > max_out + 2) return std::nullopt;
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    bool last = i + 4 == in.size();
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = in[i + k];
      if (c == '=') {
        // Padding only at the end of the last group, only in positions 3 and 4.
        if (!last || k < 2) return std::nullopt;
        ++pad;
        v[k] = 0;
        continue;
      }
      if (pad) return std::nullopt;  // data after '='
      v[k] = kDecode[uint8_t(c)];
      if (v[k] < 0) return std::nullopt;
    }
    uint32_t n = uint32_t(v[0]) << 18 | uint32_t(v[1]) << 12 | uint32_t(v[2]) << 6 | uint32_t(v[3]);
    // Canonical encoding: the bits a padded group drops must be zero.
    if ((pad == 1 && (n & 0xff)) || (pad == 2 && (n & 0xffff))) return std::nullopt;
    out.push_back(char(n >> 16));
    if (pad < 2) out.push_back(char(n >> 8 & 0xff));
    if (pad < 1) out.push_back(char(n & 0xff));
  }
  if (out.size() > max_out) return std::nullopt;
  return out;
}

std::string Base64Encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t n = uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8 | uint8_t(in[i + 2]);
    for (int s : {18, 12, 6, 0}) out.push_back(kAlphabet[n >> s & 63]);
  }
  size_t rest = in.size() - i;
  if (rest) {
    uint32_t n = uint32_t(uint8_t(in[i])) << 16 | (rest == 2 ? uint32_t(uint8_t(in[i + 1])) << 8 : 0);
    out.push_back(kAlphabet[n >> 18 & 63]);
    out.push_back(kAlphabet[n >> 12 & 63]);
    out.push_back(rest == 2 ? kAlphabet[n >> 6 & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::optional<AuthCommand> ParseAuthCommand(std::string_view arg) {
  arg = Trim(arg);
  size_t sp = arg.find(' ');
  std::string_view mech = arg.substr(0, sp);
  if (mech.empty() || mech.size() > kSaslMechanismMax) return std::nullopt;
  AuthCommand c;
  for (char ch : mech) {
    char u = Upper(ch);
    if (!IsMechanismChar(u)) return std::nullopt;
    c.mechanism.push_back(u);
  }
  if (sp == std::string_view::npos) return c;
  std::string_view rest = Trim(arg.substr(sp));
  if (rest.empty()) return c;
  // One initial response, no further words; its content is checked later.
  if (rest.find_first_of(" \t") != std::string_view::npos || rest.size() > kSaslResponseMax) return std::nullopt;
  c.initial = std::string(rest);
  return c;
}

bool IsSaslCancel(std::string_view line) { return Trim(line) == "*"; }

bool IsValidSaslField(std::string_view s) {
  return s.size() <= kSaslFieldMax && s.find('\0') == std::string_view::npos;
}

bool IsValidSaslUsername(std::string_view s) {
  if (s.empty() || s.size() > kSaslFieldMax) return false;
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return false;
  return true;
}

std::optional<PlainCredentials> ParsePlain(std::string_view d) {
  size_t a = d.find('\0');
  if (a == std::string_view::npos) return std::nullopt;
  size_t b = d.find('\0', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  PlainCredentials p;
  std::string_view authzid = d.substr(0, a), authcid = d.substr(a + 1, b - a - 1), pass = d.substr(b + 1);
  if (authcid.empty() || pass.empty()) return std::nullopt;
  if (!IsValidSaslField(authzid) || !IsValidSaslField(authcid) || !IsValidSaslField(pass)) return std::nullopt;
  p.authzid = authzid;
  p.authcid = authcid;
  p.passwd = pass;
  return p;
}

std::string EncodePlain(std::string_view authzid, std::string_view authcid, std::string_view passwd) {
  std::string m;
  m.reserve(authzid.size() + authcid.size() + passwd.size() + 2);
  m.append(authzid).push_back('\0');
  m.append(authcid).push_back('\0');
  m.append(passwd);
  std::string out = Base64Encode(m);
  WipeSecret(&m);  // the plaintext held a password
  return out;
}

void WipeSecret(std::string* s) {
  if (!s->empty()) explicit_bzero(s->data(), s->size());
  s->clear();
}

}  // namespace postern::smtp
