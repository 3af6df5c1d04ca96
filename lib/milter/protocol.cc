// milter/protocol.cc — packet framing and the encoders/decoders of
// protocol.h; lengths from the filter are checked before anything is read.
#include "postern/milter/protocol.h"

#include <cctype>

namespace postern::milter {

namespace {

void PutU32(std::string* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(char((v >> shift) & 0xff));
}

uint32_t GetU32(std::string_view s) {
  return uint32_t(uint8_t(s[0])) << 24 | uint32_t(uint8_t(s[1])) << 16 | uint32_t(uint8_t(s[2])) << 8 |
         uint32_t(uint8_t(s[3]));
}

void PutStr(std::string* out, std::string_view s) {
  out->append(s);
  out->push_back('\0');
}

// Reads one NUL-terminated string at *pos; false when there is no NUL.
bool GetStr(std::string_view data, size_t* pos, std::string* out) {
  size_t nul = data.find('\0', *pos);
  if (nul == std::string_view::npos) return false;
  out->assign(data.substr(*pos, nul - *pos));
  *pos = nul + 1;
  return true;
}

struct Named {
  char code;
  const char* name;
};

constexpr Named kCommands[] = {
    {cmd::kAbort, "SMFIC_ABORT"},     {cmd::kBody, "SMFIC_BODY"},   {cmd::kConnect, "SMFIC_CONNECT"},
    {cmd::kMacro, "SMFIC_MACRO"},     {cmd::kBodyEob, "SMFIC_BODYEOB"}, {cmd::kHelo, "SMFIC_HELO"},
    {cmd::kHeader, "SMFIC_HEADER"},   {cmd::kMail, "SMFIC_MAIL"},   {cmd::kEoh, "SMFIC_EOH"},
    {cmd::kOptneg, "SMFIC_OPTNEG"},   {cmd::kQuit, "SMFIC_QUIT"},   {cmd::kRcpt, "SMFIC_RCPT"},
    {cmd::kData, "SMFIC_DATA"},       {cmd::kUnknown, "SMFIC_UNKNOWN"},
};

constexpr Named kReplies[] = {
    {rep::kAddRcpt, "SMFIR_ADDRCPT"},       {rep::kDelRcpt, "SMFIR_DELRCPT"},
    {rep::kAccept, "SMFIR_ACCEPT"},         {rep::kReplBody, "SMFIR_REPLBODY"},
    {rep::kContinue, "SMFIR_CONTINUE"},     {rep::kDiscard, "SMFIR_DISCARD"},
    {rep::kConnFail, "SMFIR_CONN_FAIL"},    {rep::kChgHeader, "SMFIR_CHGHEADER"},
    {rep::kProgress, "SMFIR_PROGRESS"},     {rep::kReject, "SMFIR_REJECT"},
    {rep::kTempfail, "SMFIR_TEMPFAIL"},     {rep::kShutdown, "SMFIR_SHUTDOWN"},
    {rep::kAddHeader, "SMFIR_ADDHEADER"},   {rep::kInsHeader, "SMFIR_INSHEADER"},
    {rep::kReplyCode, "SMFIR_REPLYCODE"},   {rep::kQuarantine, "SMFIR_QUARANTINE"},
    {rep::kSkip, "SMFIR_SKIP"},             {rep::kChgFrom, "SMFIR_CHGFROM"},
    {rep::kAddRcptPar, "SMFIR_ADDRCPT_PAR"}, {rep::kSetSymList, "SMFIR_SETSYMLIST"},
};

template <size_t N>
const char* Lookup(const Named (&table)[N], char c, const char* unknown) {
  for (const Named& n : table)
    if (n.code == c) return n.name;
  return unknown;
}

}  // namespace

const char* CommandName(char c) { return Lookup(kCommands, c, "(unknown MTA event)"); }
const char* ReplyName(char c) { return Lookup(kReplies, c, "(unknown filter reply)"); }

std::string Frame(char code, std::string_view data) {
  std::string out;
  out.reserve(5 + data.size());
  PutU32(&out, uint32_t(data.size() + 1));
  out.push_back(code);
  out.append(data);
  return out;
}

PacketReader::Status PacketReader::Next(Packet* p, std::string* why) {
  std::string_view rest = std::string_view(buf_).substr(pos_);
  if (rest.size() < 4) return Status::kMore;
  uint32_t len = GetU32(rest);
  if (len < 1) {
    *why = "bad packet length: " + std::to_string(len);
    return Status::kError;
  }
  if (len > kMaxPacket) {
    *why = "unreasonable packet length: " + std::to_string(len) + " > " + std::to_string(kMaxPacket);
    return Status::kError;
  }
  if (rest.size() < 4 + size_t(len)) return Status::kMore;
  p->code = rest[4];
  p->data.assign(rest.substr(5, len - 1));
  pos_ += 4 + len;
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > 65536) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  return Status::kPacket;
}

std::string Optneg(uint32_t version, uint32_t actions, uint32_t protocol) {
  std::string d;
  PutU32(&d, version);
  PutU32(&d, actions);
  PutU32(&d, protocol);
  return Frame(cmd::kOptneg, d);
}

std::string Connect(std::string_view host, char family, uint16_t port, std::string_view addr) {
  std::string d;
  PutStr(&d, host);
  d.push_back(family);
  if (family != 'U') {
    d.push_back(char(port >> 8));
    d.push_back(char(port & 0xff));
    PutStr(&d, addr);
  }
  return Frame(cmd::kConnect, d);
}

std::string Helo(std::string_view name) {
  std::string d;
  PutStr(&d, name);
  return Frame(cmd::kHelo, d);
}

std::string Envelope(char code, const std::vector<std::string>& args) {
  std::string d;
  for (const std::string& a : args) PutStr(&d, a);
  return Frame(code, d);
}

std::string Header(std::string_view name, std::string_view value) {
  std::string d;
  PutStr(&d, name);
  PutStr(&d, value);
  return Frame(cmd::kHeader, d);
}

std::string Body(std::string_view chunk) { return Frame(cmd::kBody, chunk); }

std::string Macros(char for_code, const std::vector<std::pair<std::string, std::string>>& macros) {
  std::string d(1, for_code);
  for (const auto& [name, value] : macros) {
    PutStr(&d, name);
    PutStr(&d, value);
  }
  return Frame(cmd::kMacro, d);
}

Result<Negotiated> ParseOptneg(const Packet& p) {
  if (p.code != cmd::kOptneg)
    return Err(std::string("unexpected reply \"") + p.code + "\" in initial handshake");
  if (p.data.size() < 12) return Err("read error in initial handshake");
  Negotiated n;
  std::string_view d = p.data;
  n.version = GetU32(d);
  n.actions = GetU32(d.substr(4));
  n.protocol = GetU32(d.substr(8));
  size_t pos = 12;
  while (pos < d.size()) {  // SMFIM_* stage, then a NUL-terminated list of macro names
    if (d.size() - pos < 4) return Err("read error in initial handshake");
    uint32_t stage = GetU32(d.substr(pos));
    pos += 4;
    std::string names;
    if (!GetStr(d, &pos, &names)) return Err("read error in initial handshake");
    if (stage < kStages) n.macros[Stage(stage)] = names;
  }
  return n;
}

Result<Edit> ParseEdit(const Packet& p) {
  Edit e;
  e.code = p.code;
  std::string_view d = p.data;
  size_t pos = 0;
  auto str = [&](std::string* out) { return GetStr(d, &pos, out); };
  auto index = [&] {
    if (d.size() < 4) return false;
    e.index = GetU32(d);
    pos = 4;
    return true;
  };
  bool ok = true;
  switch (p.code) {
    case rep::kAddHeader: ok = str(&e.name) && str(&e.value); break;
    case rep::kChgHeader:
    case rep::kInsHeader: ok = index() && str(&e.name) && str(&e.value); break;
    case rep::kAddRcpt:
    case rep::kDelRcpt: ok = str(&e.name); break;
    case rep::kAddRcptPar:
    case rep::kChgFrom: ok = str(&e.name) && (pos >= d.size() || str(&e.value)); break;
    case rep::kReplBody: e.value.assign(d); return e;
    default: return Err(std::string("unexpected filter response ") + ReplyName(p.code));
  }
  if (!ok) return Err(std::string("malformed ") + ReplyName(p.code) + " packet");
  if (pos != d.size()) return Err(std::string("left-over data after ") + ReplyName(p.code));
  return e;
}

Result<std::string> ParseReplyCode(const Packet& p) {
  std::string s = p.data;
  if (!s.empty() && s.back() == '\0') s.pop_back();
  auto digit = [&](size_t i) { return i < s.size() && isdigit(static_cast<unsigned char>(s[i])); };
  bool ok = s.size() >= 4 && (s[0] == '4' || s[0] == '5') && digit(1) && digit(2) && (s[3] == ' ' || s[3] == '-') &&
            !(digit(4) && s[4] != s[0]);
  if (!ok || s.find('\0') != std::string::npos) return Err("malformed reply: " + s);
  std::string out;  // sendmail's replies are format strings: "%%" is "%", a lone "%" goes
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
    } else if (i + 1 < s.size()) {
      out += s[++i];
    }
  }
  return out;
}

}  // namespace postern::milter
