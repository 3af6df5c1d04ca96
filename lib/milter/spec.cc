// milter/spec.cc — parsing of the milter parameters; see spec.h.
#include "postern/milter/spec.h"

#include "postern/config/maincf.h"
#include "postern/config/values.h"
#include "postern/net/connect.h"
#include "postern/util/strings.h"

namespace postern::milter {

namespace {

// The milter list split into items: a bare endpoint, or the text inside one {}.
Result<std::vector<std::string>> SplitItems(std::string_view v) {
  std::vector<std::string> items;
  size_t i = 0;
  while (i < v.size()) {
    char c = v[i];
    if (c == ' ' || c == '\t' || c == ',' || c == '\r' || c == '\n') {
      ++i;
    } else if (c == '{') {
      size_t close = v.find('}', i);
      if (close == std::string_view::npos) return Err("missing '}' in \"" + std::string(v.substr(i)) + "\"");
      items.emplace_back(v.substr(i + 1, close - i - 1));
      i = close + 1;
    } else if (c == '}') {
      return Err("unexpected '}' in \"" + std::string(v) + "\"");
    } else {
      size_t end = v.find_first_of(" \t,\r\n{}", i);
      if (end == std::string_view::npos) end = v.size();
      items.emplace_back(v.substr(i, end - i));
      i = end;
    }
  }
  return items;
}


Result<uint64_t> Millis(std::string_view name, std::string_view v) {
  auto t = config::ParseTime(v);
  if (!t) return Err(std::string(name) + ": " + t.error());
  return uint64_t(t->count()) * 1000;
}

Result<void> Override(std::string_view item, Spec* s) {
  size_t eq = item.find('=');
  if (eq == std::string_view::npos) return Err("\"" + std::string(item) + "\" is not name=value");
  std::string name = ToLower(Trim(item.substr(0, eq)));
  std::string_view v = Trim(item.substr(eq + 1));
  uint64_t* t = name == "connect_timeout"   ? &s->connect_timeout_ms
                : name == "command_timeout" ? &s->command_timeout_ms
                : name == "content_timeout" ? &s->content_timeout_ms
                                            : nullptr;
  if (t) {
    auto ms = Millis(name, v);
    if (!ms) return Err(ms.error());
    *t = *ms;
    return {};
  }
  if (name == "default_action") {
    auto a = ParseDefaultAction(v);
    if (!a) return Err(a.error());
    s->default_action = *a;
    return {};
  }
  if (name == "protocol") return ParseProtocol(v, s);
  return Err("unknown attribute \"" + name + "\"");
}

Result<Spec> ParseItem(std::string_view item, const Spec& defaults, std::string_view queue_dir) {
  std::vector<std::string> parts = SplitList(item, ",");
  if (parts.empty() || Trim(parts[0]).empty()) return Err("empty {}");
  Spec s = defaults;
  s.name = std::string(Trim(parts[0]));
  auto ep = net::ParseEndpoint(s.name, queue_dir);
  if (!ep) return Err(ep.error());
  s.endpoint = std::move(*ep);
  for (size_t i = 1; i < parts.size(); ++i) {
    if (Trim(parts[i]).empty()) continue;
    if (auto r = Override(Trim(parts[i]), &s); !r) return Err("milter " + s.name + ": " + r.error());
  }
  return s;
}

}  // namespace

Result<DefaultAction> ParseDefaultAction(std::string_view s) {
  std::string a = ToLower(Trim(s));
  if (a == "tempfail") return DefaultAction::kTempfail;
  if (a == "accept") return DefaultAction::kAccept;
  if (a == "reject") return DefaultAction::kReject;
  if (a == "quarantine") return DefaultAction::kQuarantine;
  return Err("unrecognized default action: " + std::string(s) + " (tempfail, accept, reject or quarantine)");
}

Result<void> ParseProtocol(std::string_view s, Spec* spec) {
  uint32_t version = 0, events = 0;
  for (const std::string& w : SplitList(s, ", \t")) {
    uint32_t v = w == "6" ? 6 : w == "4" ? 4 : w == "3" ? 3 : w == "2" ? 2 : 0;
    if (v != 0 && version != 0) return Err("bad protocol information: " + w);
    if (v != 0) {
      version = v;
      events |= v == 6 ? kV6Events : v == 4 ? kV4Events : v == 3 ? (kV2Events | kNoUnknown) : kV2Events;
    } else if (w == "no_header_reply") {
      events |= kNrHdr;
    } else {
      return Err("bad protocol information: " + w);
    }
  }
  if (version == 0) return Err("no protocol version information");
  spec->version = version;
  spec->events = events;
  return {};
}

Result<std::vector<Spec>> ParseList(std::string_view value, const Spec& defaults, std::string_view queue_dir) {
  auto items = SplitItems(value);
  if (!items) return Err(items.error());
  std::vector<Spec> out;
  for (const std::string& item : *items) {
    auto s = ParseItem(item, defaults, queue_dir);
    if (!s) return Err(s.error());
    out.push_back(std::move(*s));
  }
  return out;
}

Result<Settings> Settings::Load(const config::Config& cfg) {
  Spec d;
  auto ms = [&](const char* name) { return uint64_t(cfg.Time(name).count()) * 1000; };
  d.connect_timeout_ms = ms("milter_connect_timeout");
  d.command_timeout_ms = ms("milter_command_timeout");
  d.content_timeout_ms = ms("milter_content_timeout");
  auto action = ParseDefaultAction(cfg.Str("milter_default_action"));
  if (!action) return Err("milter_default_action: " + action.error());
  d.default_action = *action;
  if (auto p = ParseProtocol(cfg.Str("milter_protocol"), &d); !p) return Err("milter_protocol: " + p.error());
  Settings s;
  std::string qdir = cfg.Str("queue_directory");
  for (auto [name, list] : {std::pair{"smtpd_milters", &s.smtpd}, std::pair{"non_smtpd_milters", &s.non_smtpd}}) {
    auto v = cfg.Get(name);
    if (!v) return Err(v.error());
    auto specs = ParseList(*v, d, qdir);
    if (!specs) return Err(std::string(name) + ": " + specs.error());
    *list = std::move(*specs);
  }
  constexpr std::pair<Stage, const char*> kLists[] = {
      {Stage::kConnect, "milter_connect_macros"}, {Stage::kHelo, "milter_helo_macros"},
      {Stage::kMail, "milter_mail_macros"},       {Stage::kRcpt, "milter_rcpt_macros"},
      {Stage::kData, "milter_data_macros"},       {Stage::kEom, "milter_end_of_data_macros"},
      {Stage::kEoh, "milter_end_of_header_macros"},
  };
  for (auto [stage, name] : kLists) s.macros[size_t(stage)] = SplitList(cfg.Str(name), ", \t");
  s.unknown_macros = SplitList(cfg.Str("milter_unknown_command_macros"), ", \t");
  s.daemon_name = cfg.Str("milter_macro_daemon_name");
  s.v = cfg.Str("milter_macro_v");
  return s;
}

}  // namespace postern::milter
