// postconf/show.cc — postconf's reports: main.cf parameters (current, -n, -d,
// -x) and master.cf entries (-M), fields (-F) and -o parameters (-P).
#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <set>

#include "postconf.h"
#include "postern/config/maincf.h"
#include "postern/config/maincf_edit.h"
#include "postern/config/mastercf.h"
#include "postern/config/mastercf_edit.h"
#include "postern/config/params.h"
#include "postern/log/log.h"
#include "postern/util/strings.h"

namespace postern::postconf {
namespace {

constexpr size_t kFoldWidth = 80;

void Emit(const std::string& text) { std::fwrite(text.data(), 1, text.size(), stdout); }

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Names that values refer to as $name, ${name...} or $(name...): a name set in
// main.cf but in no registry counts as a parameter when something uses it.
std::set<std::string, std::less<>> ReferencedNames(const config::Config& cfg,
                                                   const std::vector<std::string>& extra) {
  std::set<std::string, std::less<>> out;
  auto scan = [&](std::string_view v) {
    for (size_t i = v.find('$'); i != v.npos; i = v.find('$', i + 1)) {
      size_t s = i + 1;
      if (s < v.size() && (v[s] == '{' || v[s] == '(')) ++s;
      size_t e = s;
      while (e < v.size() && IsNameChar(v[e])) ++e;
      if (e > s) out.emplace(v.substr(s, e - s));
    }
  };
  for (const auto& a : cfg.assignments()) scan(a.value);
  for (const auto& v : extra) scan(v);
  return out;
}

// Postfix's "PATH, line N: unused parameter" is "PATH: unused parameter".
std::string PostfixWarning(const std::string& text) {
  size_t line = text.find(", line ");
  size_t colon = line == text.npos ? text.npos : text.find(": ", line);
  if (colon == text.npos || text.find("unused parameter: ", colon) != colon + 2) return text;
  return text.substr(0, line) + text.substr(colon);
}

config::Config LoadMain(const Options& o) {
  auto cfg = config::Config::Load(o.config_dir);
  if (!cfg) log::Fatal("{}", cfg.error());
  for (const std::string& arg : o.overrides) {
    auto nv = config::SplitNameValue(arg);
    if (!nv) log::Fatal("-o {}: {}", arg, nv.error());
    cfg->Override(nv->first, nv->second);
  }
  return std::move(*cfg);
}

// The expanded text, or the text itself after a warning when it cannot be.
std::string ExpandOrWarn(const config::Config& cfg, const std::string& text) {
  auto r = cfg.Expand(text);
  if (r) return *r;
  log::Warning("{}", r.error());
  return text;
}

}  // namespace

std::string FormatParam(const Options& o, const std::string& name, const std::string& value) {
  std::string line;
  if (o.mode & kHideValue) line = name;
  else if (o.mode & kHideName) line = value;
  else line = value.empty() ? name + " =" : name + " = " + value;
  if (!(o.mode & kFold) || line.size() <= kFoldWidth) return line + "\n";
  // Break at white space so that each piece fits; continuation lines are
  // indented, as main.cf syntax wants them.
  std::string out;
  size_t col = 0;
  for (const std::string& word : SplitList(line, " \t")) {
    if (col > 0 && col + 1 + word.size() > kFoldWidth) {
      out += "\n   ";
      col = 3;
    }
    if (col > 0) {
      out += ' ';
      ++col;
    }
    out += word;
    col += word.size();
  }
  return out + "\n";
}

void ShowMain(const Options& o) {
  bool defaults = o.mode & kShowDefs;
  config::Config cfg = defaults ? config::Config() : LoadMain(o);
  std::vector<std::string> override_values;
  for (const std::string& arg : o.overrides) override_values.push_back(arg);
  auto referenced = ReferencedNames(cfg, override_values);
  auto user_param = [&](std::string_view name) {
    return !defaults && cfg.IsSet(name) && referenced.count(name);
  };

  std::vector<std::string> names;
  if (o.args.empty()) {
    std::set<std::string> all;
    for (const auto& def : config::Registry()) all.emplace(def.name);
    for (const auto& a : cfg.assignments())
      if (user_param(a.name)) all.insert(a.name);
    names.assign(all.begin(), all.end());
  } else {
    names = o.args;
  }

  std::string out;
  for (const std::string& name : names) {
    const config::ParamDef* def = config::FindParam(name);
    if (!def && !user_param(name)) {
      log::Warning("{}: unknown parameter", name);
      continue;
    }
    if ((o.mode & kShowNondef) && !cfg.IsSet(name)) continue;
    std::string value = defaults ? config::DefaultValue(*def) : cfg.Raw(name).value_or("");
    if (o.mode & kEval) value = ExpandOrWarn(cfg, value);
    out += FormatParam(o, name, value);
  }
  Emit(out);
  if (defaults) return;
  for (const auto& p : cfg.Validate()) log::Warning("{}", PostfixWarning(p.text));
}

namespace {

std::vector<config::MasterPattern> Patterns(const Options& o, int parts) {
  std::vector<config::MasterPattern> out;
  for (const std::string& arg : o.args) {
    auto p = config::ParseMasterPattern(arg, parts);
    if (!p) log::Fatal("{}", p.error());
    if ((o.mode & kMasterField) && p->name != "*" &&
        std::find(config::kMasterFieldNames.begin(), config::kMasterFieldNames.end(), p->name) ==
            config::kMasterFieldNames.end())
      log::Fatal("{}: unknown master.cf field (service, type, private, unprivileged, chroot, "
                 "wakeup, process_limit or command)", p->name);
    out.push_back(*p);
  }
  if (out.empty()) out.emplace_back();  // everything
  return out;
}

// With -x, every column and argument as the daemons will see it.
config::MasterService Expanded(const config::MasterService& s, const config::Config& cfg) {
  config::MasterService e = s;
  for (std::string& f : e.fields) f = ExpandOrWarn(cfg, f);
  for (std::string& a : e.args) a = ExpandOrWarn(cfg, a);
  for (auto& [name, value] : e.overrides) value = ExpandOrWarn(cfg, value);
  return e;
}

}  // namespace

void ShowMaster(const Options& o) {
  auto services = config::LoadMasterCf(o.config_dir);
  if (!services) log::Fatal("{}", services.error());
  std::optional<config::Config> cfg;
  if (o.mode & kEval) cfg = LoadMain(o);
  auto patterns = Patterns(o, (o.mode & kMasterEntry) ? 2 : 3);

  std::string out;
  for (const config::MasterService& raw : *services) {
    const config::MasterService s = cfg ? Expanded(raw, *cfg) : raw;
    auto wanted = [&](std::string_view name) {
      for (const auto& p : patterns)
        if (p.Matches(raw) && p.MatchesName(name)) return true;
      return false;
    };
    if (o.mode & kMasterEntry) {
      if (wanted("*")) out += config::FormatMasterLine(s, o.mode & kFold) + "\n";
    } else if (o.mode & kMasterField) {
      for (size_t i = 0; i < config::kMasterFieldNames.size(); ++i) {
        std::string field(config::kMasterFieldNames[i]);
        if (wanted(field)) out += FormatParam(o, raw.Key() + "/" + field, config::MasterFieldValue(s, i));
      }
    } else {
      for (const auto& [name, value] : s.overrides)
        if (wanted(name)) out += FormatParam(o, raw.Key() + "/" + name, value);
    }
  }
  Emit(out);
}

}  // namespace postern::postconf
