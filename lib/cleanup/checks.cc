// cleanup/checks.cc — header/body checks: action parsing and the effects of a
// match, worded and logged as Postfix's cleanup_act and smtp's hbc logger.
#include "postern/cleanup/checks.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "postern/config/maincf.h"
#include "postern/log/log.h"
#include "postern/util/strings.h"

namespace postern::cleanup {

namespace {

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return std::tolower(x) == std::tolower(y); });
}

// Postfix's is_header(): a field name of printable characters, then ':'.
bool IsHeaderText(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && s[i] != ':' && static_cast<unsigned char>(s[i]) > 32 && static_cast<unsigned char>(s[i]) < 127)
    ++i;
  if (i == 0) return false;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return i < s.size() && s[i] == ':';
}

// Postfix's dsn_prepend: text that starts with a d.d.d status keeps it.
bool StartsWithDsn(std::string_view s) {
  size_t i = 0;
  auto digits = [&](size_t max) {
    size_t n = 0;
    while (i < s.size() && n < max && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++n;
    return n > 0;
  };
  if (!digits(1) || i >= s.size() || s[i++] != '.' || !digits(3) || i >= s.size() || s[i++] != '.' || !digits(3))
    return false;
  return i == s.size() || s[i] == ' ' || s[i] == '\t';
}

std::string Printable(std::string_view s, size_t max) {
  std::string out(s.substr(0, max));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 32 && c != '\t') c = '?';
  return out;
}

struct Name {
  std::string_view word;
  Action::Kind kind;
};
constexpr std::array<Name, 13> kNames{{{"REJECT", Action::Kind::kReject},
                                       {"WARN", Action::Kind::kWarn},
                                       {"INFO", Action::Kind::kInfo},
                                       {"FILTER", Action::Kind::kFilter},
                                       {"DISCARD", Action::Kind::kDiscard},
                                       {"HOLD", Action::Kind::kHold},
                                       {"PREPEND", Action::Kind::kPrepend},
                                       {"REPLACE", Action::Kind::kReplace},
                                       {"REDIRECT", Action::Kind::kRedirect},
                                       {"BCC", Action::Kind::kBcc},
                                       {"IGNORE", Action::Kind::kIgnore},
                                       {"DUNNO", Action::Kind::kDunno},
                                       {"OK", Action::Kind::kDunno}}};

bool AllowedInSmtp(Action::Kind k) {
  using K = Action::Kind;
  return k == K::kDunno || k == K::kWarn || k == K::kInfo || k == K::kIgnore || k == K::kPrepend || k == K::kReplace;
}

// The argument check of one action; empty when it is usable.
std::string BadArgument(const Action& a, Where where, std::string_view map_class) {
  using K = Action::Kind;
  const std::string& t = a.text;
  std::string mc(map_class);
  switch (a.kind) {
    case K::kFilter:
      if (t.empty()) return "missing FILTER command argument in " + mc + " map";
      if (t.find(':') == std::string::npos)
        return "bad FILTER command " + t + " in " + mc + " -- need transport:destination";
      return "";
    case K::kPrepend:
    case K::kReplace: {
      std::string name = a.kind == K::kPrepend ? "PREPEND" : "REPLACE";
      if (t.empty()) return name + " action without text in " + mc + " map";
      if (where == Where::kHeader && !IsHeaderText(t))
        return "bad " + name + " header text \"" + t + "\" in " + mc + " map -- need \"headername: headervalue\"";
      return "";
    }
    case K::kRedirect:
      if (t.find('@') == std::string::npos) return "bad REDIRECT target \"" + t + "\" in " + mc + " map -- need user@domain";
      return "";
    case K::kBcc:
      if (t.find('@') == std::string::npos) return "bad BCC address \"" + t + "\" in " + mc + " map -- need user@domain";
      return "";
    default:
      return "";
  }
}

}  // namespace

bool IsMimeHeader(std::string_view header) {
  static constexpr std::array<std::string_view, 6> kMime{"Content-Description", "Content-Disposition",
                                                         "Content-ID",          "Content-Transfer-Encoding",
                                                         "Content-Type",        "MIME-Version"};
  size_t colon = header.find(':');
  if (colon == std::string_view::npos) return false;
  std::string_view name = Trim(header.substr(0, colon));
  return std::any_of(kMime.begin(), kMime.end(), [&](std::string_view m) { return EqualsNoCase(name, m); });
}

HeaderClass ClassOf(mime::Block block, std::string_view header) {
  if (block == mime::Block::kPart || IsMimeHeader(header)) return HeaderClass::kMime;
  return block == mime::Block::kNested ? HeaderClass::kNested : HeaderClass::kPrimary;
}

Action ParseAction(std::string_view value, Where where, Scope scope, std::string_view map_class,
                   std::string* warning) {
  value = Trim(value);
  size_t end = value.find_first_of(" \t");
  std::string_view word = value.substr(0, end);
  std::string_view text = end == std::string_view::npos ? std::string_view() : Trim(value.substr(end));
  auto it = std::find_if(kNames.begin(), kNames.end(), [&](const Name& n) { return EqualsNoCase(word, n.word); });
  if (it == kNames.end()) {
    *warning = "unknown command in " + std::string(map_class) + " map: " + std::string(value);
    return {};
  }
  if (scope == Scope::kSmtp && !AllowedInSmtp(it->kind)) {
    *warning = "unsupported command in " + std::string(map_class) + " map: " + std::string(value);
    return {};
  }
  Action a{it->kind, std::string(text)};
  if (std::string bad = BadArgument(a, where, map_class); !bad.empty()) {
    *warning = std::move(bad);
    return {};
  }
  return a;
}

Result<std::shared_ptr<CheckTables>> CheckTables::Load(const config::Config& cfg, std::string_view prefix) {
  auto t = std::make_shared<CheckTables>();
  std::string p(prefix);
  std::pair<std::string*, table::TableList*> sets[] = {
      {&t->header_name, &t->header}, {&t->mime_name, &t->mime}, {&t->nested_name, &t->nested}, {&t->body_name, &t->body}};
  const char* names[] = {"header_checks", "mime_header_checks", "nested_header_checks", "body_checks"};
  for (size_t i = 0; i < 4; ++i) {
    *sets[i].first = p + names[i];
    auto refs = cfg.GetTables(*sets[i].first);
    if (!refs) return Err(refs.error());
    // Pattern tables see the header as it is: no case folding.
    auto list = table::TableList::Open(*refs, table::Options{.fold_case = false});
    if (!list) return Err(*sets[i].first + ": " + list.error());
    *sets[i].second = std::move(*list);
  }
  if (t->empty()) return std::shared_ptr<CheckTables>();
  if (p.empty()) {  // the smtp client's body checks see every line, as Postfix's
    auto v = cfg.GetInt("body_checks_size_limit");
    if (!v) return Err(v.error());
    if (*v < 0) return Err("body_checks_size_limit: must be at least 0");
    t->body_limit = uint64_t(*v);
  } else {
    t->body_limit = 0;
  }
  for (auto [name, out] : {std::pair{"mime_nesting_limit", &t->limits.nesting},
                           std::pair{"mime_boundary_length_limit", &t->limits.boundary},
                           std::pair{"header_size_limit", &t->header_limit}}) {
    auto v = cfg.GetInt(name);
    if (!v) return Err(v.error());
    if (*v < 1) return Err(std::string(name) + ": must be at least 1");
    *out = size_t(*v);
  }
  return t;
}

Edit Checks::Header(HeaderClass cls, std::string_view header) {
  CheckTables& t = *tables_;
  switch (cls) {
    case HeaderClass::kPrimary:
      return Inspect(t.header, t.header_name, Where::kHeader, header);
    case HeaderClass::kMime:
      return Inspect(t.mime, t.mime_name, Where::kHeader, header);
    case HeaderClass::kNested:
      return Inspect(t.nested, t.nested_name, Where::kHeader, header);
  }
  return {};
}

Edit Checks::Body(std::string_view line, uint64_t offset) {
  if (tables_->body_limit != 0 && offset >= tables_->body_limit) return {};
  return Inspect(tables_->body, tables_->body_name, Where::kBody, line);
}

Edit Checks::Inspect(table::TableList& list, const std::string& map_class, Where where, std::string_view content) {
  Edit edit;
  if (!active_ || list.empty()) return edit;
  auto value = list.Lookup(content);
  if (!value) {
    // Postfix: CLEANUP_STAT_WRITE, a temporary refusal of the whole message.
    log::Warning("{}: {} map lookup problem -- message not accepted, try again later", ctx_.queue_id, map_class);
    if (scope_ == Scope::kCleanup) {
      verdict_.reject = true;
      verdict_.code = 451;
      verdict_.reason = "4.3.0 Error: queue file write error";
      active_ = false;
    }
    return edit;
  }
  if (!*value) return edit;
  std::string warning;
  Action a = ParseAction(**value, where, scope_, map_class, &warning);
  if (!warning.empty()) log::Warning("{}", warning);
  Act(a, where, content, &edit);
  return edit;
}

void Checks::Act(const Action& a, Where where, std::string_view content, Edit* edit) {
  using K = Action::Kind;
  switch (a.kind) {
    case K::kReject: {
      verdict_.reason = a.text.empty()         ? "5.7.1 message content rejected"
                        : StartsWithDsn(a.text) ? a.text
                                                : "5.7.1 " + a.text;
      if (verdict_.reason[0] != '4' && verdict_.reason[0] != '5') {
        log::Warning("bad DSN action in {} -- need 4.x.x or 5.x.x", a.text);
        verdict_.reason[0] = '4';
      }
      verdict_.reject = true;
      verdict_.code = verdict_.reason[0] == '4' ? 451 : 550;
      active_ = false;
      LogAction("reject", where, content, verdict_.reason);
      return;
    }
    case K::kWarn:
      LogAction("warning", where, content, a.text);
      return;
    case K::kInfo:
      LogAction("info", where, content, a.text);
      return;
    case K::kFilter:
      verdict_.filter = a.text;
      LogAction("filter", where, content, a.text);
      return;
    case K::kDiscard:
      verdict_.discard = true;
      active_ = false;
      LogAction("discard", where, content, a.text);
      return;
    case K::kHold:
      if (!verdict_.hold && !verdict_.discard) {
        verdict_.hold = true;
        LogAction("hold", where, content, a.text);
      }
      return;
    case K::kPrepend:
      LogAction("prepend", where, content, a.text);
      edit->before.push_back(a.text);
      return;
    case K::kReplace:
      LogAction("replace", where, content, a.text);
      edit->keep = false;
      edit->replacement = a.text;
      return;
    case K::kRedirect:  // inspection goes on; the last REDIRECT wins (Postfix's cleanup_act)
      verdict_.redirect = a.text;
      LogAction("redirect", where, content, a.text);
      return;
    case K::kBcc:
      verdict_.bcc.push_back(a.text);
      LogAction("bcc", where, content, a.text);
      return;
    case K::kIgnore:
      edit->keep = false;
      return;
    case K::kDunno:
      return;
  }
}

void Checks::LogAction(std::string_view action, Where where, std::string_view content, std::string_view text) const {
  std::string_view w = where == Where::kHeader ? "header" : "body";
  std::string suffix = text.empty() ? std::string() : ": " + std::string(text);
  if (scope_ == Scope::kSmtp) {  // Postfix's smtp_hbc_logger
    log::Info("{}: {}: {} {}{}", ctx_.queue_id, action, w, Printable(content, 60), suffix);
    return;
  }
  std::string line = ctx_.queue_id + ": " + std::string(action) + ": " + std::string(w) + " " +
                     Printable(content, 200) + " from " + (ctx_.origin.empty() ? "unknown" : ctx_.origin) + ";";
  line += " from=<" + ctx_.sender + ">";
  if (!ctx_.recipient.empty()) line += " to=<" + ctx_.recipient + ">";
  if (!ctx_.proto.empty()) line += " proto=" + ctx_.proto;
  if (!ctx_.helo.empty()) line += " helo=<" + ctx_.helo + ">";
  log::Info("{}{}", line, suffix);
}

}  // namespace postern::cleanup
