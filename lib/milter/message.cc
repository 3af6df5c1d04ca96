// milter/message.cc — splitting queued content into header fields and body,
// and Postfix's header/body/envelope edits (cleanup_milter.c's semantics:
// CHGHEADER of a missing header adds it, index 0 is the first).
#include "postern/milter/message.h"

#include <algorithm>

#include "postern/util/strings.h"

namespace postern::milter {

namespace {

bool IsHeaderStart(std::string_view line) {
  size_t colon = line.find(':');
  if (colon == 0 || colon == std::string_view::npos) return false;
  for (size_t i = 0; i < colon; ++i) {
    unsigned char c = static_cast<unsigned char>(line[i]);
    if (c <= ' ' || c >= 127) return false;
  }
  return true;
}

// LF or CRLF line ends → CRLF.
std::string Crlf(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 32);
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) out += '\r';
    out += s[i];
  }
  return out;
}

std::string Value(const Edit& e, bool lead_space) {
  std::string v = e.value;
  // Drop the CRs of a CRLF-folded value: values keep lines joined by LF.
  v.erase(std::remove(v.begin(), v.end(), '\r'), v.end());
  return lead_space ? v : " " + v;
}

void ChangeHeader(const Edit& e, bool lead_space, Message* m) {
  uint32_t want = e.index == 0 ? 1 : e.index, seen = 0;
  for (auto it = m->headers.begin(); it != m->headers.end(); ++it) {
    if (!EqualsIgnoreCase(it->name, e.name) || ++seen != want) continue;
    if (e.value.empty()) m->headers.erase(it);
    else it->value = Value(e, lead_space);
    return;
  }
  if (!e.value.empty()) m->headers.push_back({e.name, Value(e, lead_space)});
}

}  // namespace

std::string StripAngles(std::string_view a) {
  a = Trim(a);
  if (a.size() >= 2 && a.front() == '<' && a.back() == '>') a = a.substr(1, a.size() - 2);
  return std::string(a);
}

Message Message::Parse(std::string_view raw) {
  Message m;
  size_t pos = 0;
  m.separator = false;
  while (pos < raw.size()) {
    size_t eol = raw.find("\r\n", pos);
    size_t next = eol == std::string_view::npos ? raw.size() : eol + 2;
    std::string_view line = raw.substr(pos, (eol == std::string_view::npos ? raw.size() : eol) - pos);
    if (line.empty()) {
      m.separator = true;
      pos = next;
      break;
    }
    bool cont = (line[0] == ' ' || line[0] == '\t') && !m.headers.empty();
    if (cont) {
      m.headers.back().value += "\n";
      m.headers.back().value += line;
    } else if (IsHeaderStart(line)) {
      size_t colon = line.find(':');
      m.headers.push_back({std::string(line.substr(0, colon)), std::string(line.substr(colon + 1))});
    } else {
      break;  // a body line with no empty line before it
    }
    pos = next;
  }
  m.body.assign(raw.substr(pos));
  return m;
}

std::string Message::Serialize() const {
  std::string out;
  for (const HeaderField& h : headers) out += h.name + ":" + Crlf(h.value) + "\r\n";
  if (separator || !body.empty()) out += "\r\n";
  out += body;
  return out;
}

std::string Message::SentValue(const HeaderField& h, bool lead_space) {
  if (lead_space) return h.value;
  size_t i = 0;
  while (i < h.value.size() && (h.value[i] == ' ' || h.value[i] == '\t')) ++i;
  return h.value.substr(i);
}

void ApplyEdits(const std::vector<Edit>& edits, bool lead_space, Message* m, EnvelopeEdits* env) {
  bool body_started = false;
  for (const Edit& e : edits) {
    switch (e.code) {
      case rep::kAddHeader: m->headers.push_back({e.name, Value(e, lead_space)}); break;
      case rep::kChgHeader: ChangeHeader(e, lead_space, m); break;
      case rep::kInsHeader: {
        size_t at = std::min<size_t>(e.index, m->headers.size());
        m->headers.insert(m->headers.begin() + ptrdiff_t(at), {e.name, Value(e, lead_space)});
        break;
      }
      case rep::kAddRcpt:
      case rep::kAddRcptPar: env->add_rcpts.push_back(StripAngles(e.name)); break;
      case rep::kDelRcpt: env->del_rcpts.push_back(StripAngles(e.name)); break;
      case rep::kChgFrom: env->sender = StripAngles(e.name); break;
      case rep::kReplBody:
        if (!body_started) m->body.clear();
        body_started = true;
        m->body += e.value;
        break;
      default: break;
    }
  }
  if (body_started) {
    m->body = Crlf(m->body);
    if (!m->body.empty() && m->body.back() != '\n') m->body += "\r\n";
    m->separator = true;
  }
}

}  // namespace postern::milter
