// master/option_syntax.cc — see option_syntax.h.
#include "master/option_syntax.h"

#include "postern/config/params.h"
#include "postern/config/values.h"
#include "postern/util/strings.h"

namespace postern::master {

namespace {

constexpr std::string_view kUsage = "usage: set option name=value | set option +name|-name ...";

Result<void> CheckValue(const config::ParamDef& def, std::string_view value) {
  using T = config::ParamType;
  switch (def.type) {
    case T::kBool: {
      auto r = config::ParseBool(value);
      return r ? Result<void>() : Err(r.error());
    }
    case T::kInt: {
      auto r = config::ParseInt(value);
      return r ? Result<void>() : Err(r.error());
    }
    case T::kTime: {
      auto r = config::ParseTime(value, def.time_unit);
      return r ? Result<void>() : Err(r.error());
    }
    case T::kSize: {
      auto r = config::ParseSize(value);
      return r ? Result<void>() : Err(r.error());
    }
    default: return {};
  }
}

Result<const config::ParamDef*> Known(const std::string& name) {
  if (name.empty()) return Err(std::string(kUsage));
  const config::ParamDef* def = config::FindParam(name);
  if (!def) return Err("set option: unknown parameter " + name + " (see postconf -d)");
  return def;
}

// smtpf's OPTN +name / -name: a boolean switched on or off.
Result<OptionSetting> Signed(const std::string& word) {
  std::string name = word.substr(1);
  auto def = Known(name);
  if (!def) return Err(def.error());
  if ((*def)->type != config::ParamType::kBool)
    return Err("set option: " + word + ": " + name + " is not a boolean parameter (use " + name + "=value)");
  return OptionSetting{name, word[0] == '+' ? "yes" : "no"};
}

}  // namespace

Result<std::vector<OptionSetting>> ParseSetOption(const std::vector<std::string>& args) {
  if (args.empty()) return Err(std::string(kUsage));
  std::vector<OptionSetting> out;
  if (args[0].starts_with('+') || args[0].starts_with('-')) {
    for (const auto& w : args) {
      if (!(w.starts_with('+') || w.starts_with('-')) || w.find('=') != std::string::npos)
        return Err(std::string(kUsage));
      auto s = Signed(w);
      if (!s) return Err(s.error());
      out.push_back(std::move(*s));
    }
    return out;
  }
  std::string joined;
  for (const auto& a : args) joined += (joined.empty() ? "" : " ") + a;
  auto eq = joined.find('=');
  if (eq == std::string::npos) return Err(std::string(kUsage));
  std::string name(Trim(std::string_view(joined).substr(0, eq)));
  std::string value(Trim(std::string_view(joined).substr(eq + 1)));
  auto def = Known(name);
  if (!def) return Err(def.error());
  if (auto ok = CheckValue(**def, value); !ok) return Err("set option: " + name + ": " + ok.error());
  out.emplace_back(std::move(name), std::move(value));
  return out;
}

}  // namespace postern::master
