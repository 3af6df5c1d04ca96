// config/maincf.cc — main.cf parsing and Postfix's $name expansion rules:
// $name ${name} $(name) ${name?value} ${name:value} ${name?{a}:{b}} $$.
#include "postern/config/maincf.h"

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "postern/config/compat.h"
#include "postern/config/mastercf.h"
#include "postern/util/strings.h"

namespace postern::config {

namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

size_t NameLength(std::string_view s) {
  size_t n = 0;
  while (n < s.size() && IsNameChar(s[n])) ++n;
  return n;
}

// Given s[0] == open, the index of the matching close, or npos.
size_t MatchClose(std::string_view s, char open, char close) {
  int depth = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == open) ++depth;
    else if (s[i] == close && --depth == 0) return i;
  }
  return std::string_view::npos;
}

std::string Chain(const std::vector<std::string>& stack, std::string_view last) {
  std::string out;
  auto from = std::find(stack.begin(), stack.end(), last);
  for (auto it = from; it != stack.end(); ++it) out += *it + " -> ";
  return out + std::string(last);
}

// Postfix's per-service parameters that postern reads (qmgr's per transport,
// pipe's time limit): postconf knows them for every master.cf service name.
bool IsServiceParameter(std::string_view name, const std::vector<std::string>& services) {
  static constexpr std::string_view kSuffixes[] = {
      "_destination_concurrency_limit",         "_destination_recipient_limit",
      "_initial_destination_concurrency",       "_destination_concurrency_failed_cohort_limit",
      "_destination_concurrency_positive_feedback", "_destination_concurrency_negative_feedback",
      "_time_limit",
  };
  for (std::string_view suffix : kSuffixes) {
    if (name.size() <= suffix.size() || !name.ends_with(suffix)) continue;
    std::string_view service = name.substr(0, name.size() - suffix.size());
    if (std::find(services.begin(), services.end(), service) != services.end()) return true;
  }
  return false;
}

}  // namespace

Result<std::vector<LogicalLine>> SplitLogicalLines(std::string_view text, std::string_view origin) {
  std::vector<LogicalLine> out;
  int lineno = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? text.npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++lineno;
    std::string_view body = Trim(line);
    if (body.empty() || body[0] == '#') continue;
    if (IsSpace(line[0])) {
      if (out.empty())
        return Err(std::string(origin) + ", line " + std::to_string(lineno) +
                   ": continuation line follows nothing (a logical line starts in column 1)");
      out.back().text += ' ';
      out.back().text += body;
    } else {
      out.push_back({std::string(body), lineno});
    }
  }
  return out;
}

Result<Config> Config::Parse(std::string_view text, std::string_view origin) {
  auto lines = SplitLogicalLines(text, origin);
  if (!lines) return Err(lines.error());
  Config cfg;
  cfg.origin_ = std::string(origin);
  for (const LogicalLine& l : *lines) {
    std::string_view s = l.text;
    size_t eq = s.find('=');
    std::string_view name = Trim(s.substr(0, eq == s.npos ? s.size() : eq));
    std::string where = std::string(origin) + ", line " + std::to_string(l.line) + ": ";
    if (eq == s.npos)
      return Err(where + "missing '=' after parameter name: \"" + std::string(name) + "\"");
    if (name.empty() || NameLength(name) != name.size())
      return Err(where + "bad parameter name: \"" + std::string(name) + "\"");
    cfg.index_[std::string(name)] = cfg.assignments_.size();
    cfg.assignments_.push_back({std::string(name), std::string(Trim(s.substr(eq + 1))), l.line});
  }
  return cfg;
}

Result<Config> Config::Load(const std::string& config_dir) {
  std::string path = config_dir + "/main.cf";
  std::ifstream in(path, std::ios::binary);
  if (!in) return Err("open " + path + ": " + std::strerror(errno));
  std::ostringstream buf;
  buf << in.rdbuf();
  auto cfg = Parse(buf.str(), path);
  if (!cfg) return cfg;
  cfg->config_dir_ = config_dir;
  return cfg;
}

void Config::Override(std::string_view name, std::string_view value) {
  overrides_[std::string(name)] = std::string(value);
}

bool Config::IsSet(std::string_view name) const {
  return overrides_.count(name) || index_.count(name);
}

// "mail.example.com" -> "example.com"; a name without a dot: "localdomain".
static std::string DomainOf(std::string_view host) {
  size_t dot = host.find('.');
  if (dot == std::string_view::npos || dot + 1 == host.size()) return "localdomain";
  return std::string(host.substr(dot + 1));
}

std::optional<std::string> Config::Raw(std::string_view name) const {
  // Read-only, as in Postfix: the program's own version, whatever main.cf says.
  if (name == "mail_version") return std::string(FindParam(name)->default_value);
  if (auto it = overrides_.find(name); it != overrides_.end()) return it->second;
  if (auto it = index_.find(name); it != index_.end()) return assignments_[it->second].value;
  if (name == "config_directory" && !config_dir_.empty()) return config_dir_;
  // As Postfix: an unset mydomain is myhostname without its first label
  // (a myhostname with $references is derived when expanded, in GetIn).
  if (name == "mydomain" && IsSet("myhostname")) {
    std::string host = *Raw("myhostname");
    if (host.find('$') == std::string::npos) return DomainOf(Trim(host));
  }
  if (const ParamDef* def = FindParam(name)) return DefaultValue(*def);
  return std::nullopt;
}

// Characters an expansion may scan and copy in all: far beyond any real
// value, yet small enough that "a1 = $a0$a0, a2 = $a1$a1, ..." fails fast.
constexpr size_t kExpansionBudget = 1 << 20;

struct Config::Expansion {
  std::vector<std::string> names;
  size_t budget = kExpansionBudget;
  // Charges `n` characters of work; false once the budget is spent.
  bool Spend(size_t n) {
    if (n > budget) return false;
    budget -= n;
    return true;
  }
};

static Error TooLarge() {
  return Err("parameter expansion too large (more than " + std::to_string(kExpansionBudget) +
             " characters of work)");
}

// Parameters whose value may name a file holding the value, as Debian's
// Postfix reads "myorigin = /etc/mailname": the file's first word is the value.
static bool IsFileValued(std::string_view name) { return name == "myorigin"; }

static Result<std::string> FirstWordOf(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Err("open " + path + ": " + std::strerror(errno));
  std::string word;
  if (!(in >> word)) return Err("no domain name in " + path);
  return word;
}

Result<std::string> Config::GetIn(std::string_view name, Expansion* stack) const {
  // A lookup costs far more than a character; charge it so.
  if (!stack->Spend(64)) return TooLarge();
  auto& names = stack->names;
  if (std::find(names.begin(), names.end(), name) != names.end())
    return Err("parameter expansion loop: " + Chain(names, name));
  std::optional<std::string> raw = Raw(name);
  if (!raw) return std::string();  // undefined parameters expand to nothing, as in Postfix
  names.emplace_back(name);
  // An unset mydomain from a myhostname with $references (Raw did the rest).
  bool derive = name == "mydomain" && !IsSet(name) && IsSet("myhostname") &&
                Raw("myhostname")->find('$') != std::string::npos;
  auto r = derive ? GetIn("myhostname", stack) : ExpandIn(*raw, stack);
  names.pop_back();
  if (derive && r) return DomainOf(*r);
  if (r && IsFileValued(name) && r->starts_with('/')) return FirstWordOf(*r);
  return r;
}

// Postfix 3.0's comparison "{text1} OP {text2} ? {value1} : {value2}" (the
// ": {value2}" part optional): OP is == or != (strings), or <, <=, >, >=
// (decimal numbers). Both texts are expanded first; `expand` expands.
template <class Expand>
static Result<std::string> Comparison(std::string_view body, Expand expand) {
  auto bad = [&] { return Err("bad parameter expression: \"${" + std::string(body) + "}\""); };
  std::string_view rest = body;
  auto braced = [&](std::string_view* out) {
    rest = TrimLeft(rest);
    if (rest.empty() || rest[0] != '{') return false;
    size_t close = MatchClose(rest, '{', '}');
    if (close == rest.npos) return false;
    *out = Trim(rest.substr(1, close - 1));
    rest = rest.substr(close + 1);
    return true;
  };
  std::string_view left, right, then_part, else_part;
  if (!braced(&left)) return bad();
  rest = TrimLeft(rest);
  size_t oplen = rest.starts_with("==") || rest.starts_with("!=") || rest.starts_with("<=") || rest.starts_with(">=")
                     ? 2
                 : rest.starts_with("<") || rest.starts_with(">") ? 1
                                                                  : 0;
  if (oplen == 0) return bad();
  std::string op(rest.substr(0, oplen));
  rest = rest.substr(oplen);
  if (!braced(&right)) return bad();
  rest = TrimLeft(rest);
  if (rest.empty() || rest[0] != '?') return bad();
  rest = rest.substr(1);
  if (!braced(&then_part)) return bad();
  rest = TrimLeft(rest);
  if (!rest.empty()) {
    if (rest[0] != ':') return bad();
    rest = rest.substr(1);
    if (!braced(&else_part) || !Trim(rest).empty()) return bad();
  }
  auto a = expand(left);
  if (!a) return a;
  auto b = expand(right);
  if (!b) return b;
  bool yes;
  if (op == "==" || op == "!=") {
    yes = (*a == *b) == (op == "==");
  } else {
    long long x = 0, y = 0;
    auto num = [](const std::string& s, long long* v) {
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
      return !s.empty() && ec == std::errc() && p == s.data() + s.size();
    };
    if (!num(*a, &x) || !num(*b, &y))
      return Err("non-numeric operand in \"${" + std::string(body) + "}\"");
    yes = op == "<" ? x < y : op == "<=" ? x <= y : op == ">" ? x > y : x >= y;
  }
  return expand(yes ? then_part : else_part);
}

// body is what stands between ${ and }: name, name?value, name:value,
// name?{a}, name:{b}, name?{a}:{b}, or a comparison (above).
Result<std::string> Config::Macro(std::string_view body, Expansion* stack) const {
  if (!TrimLeft(body).empty() && TrimLeft(body)[0] == '{')
    return Comparison(body, [&](std::string_view t) { return ExpandIn(t, stack); });
  size_t n = NameLength(body);
  std::string_view name = body.substr(0, n), rest = body.substr(n);
  if (n == 0) return Err("bad parameter name in \"${" + std::string(body) + "}\"");
  if (rest.empty()) return GetIn(name, stack);
  char op = rest[0];
  if (op != '?' && op != ':')
    return Err("bad parameter expression: \"${" + std::string(body) + "}\"");
  std::string_view then_part = rest.substr(1), else_part;
  bool has_else = false;
  std::string_view t = TrimLeft(then_part);
  if (!t.empty() && t[0] == '{') {  // Postfix 3.0 form with braced values
    size_t close = MatchClose(t, '{', '}');
    if (close == t.npos) return Err("missing '}' in \"${" + std::string(body) + "}\"");
    then_part = Trim(t.substr(1, close - 1));
    std::string_view after = Trim(t.substr(close + 1));
    if (!after.empty()) {
      if (op != '?' || after[0] != ':' || Trim(after.substr(1)).empty() ||
          Trim(after.substr(1))[0] != '{')
        return Err("bad parameter expression: \"${" + std::string(body) + "}\"");
      std::string_view e = Trim(after.substr(1));
      size_t eclose = MatchClose(e, '{', '}');
      if (eclose != e.size() - 1)
        return Err("bad parameter expression: \"${" + std::string(body) + "}\"");
      else_part = Trim(e.substr(1, eclose - 1));
      has_else = true;
    }
  }
  auto value = GetIn(name, stack);
  if (!value) return value;
  bool nonempty = !value->empty();
  if (op == '?') {
    if (nonempty) return ExpandIn(then_part, stack);
    return has_else ? ExpandIn(else_part, stack) : Result<std::string>(std::string());
  }
  return nonempty ? Result<std::string>(std::string()) : ExpandIn(then_part, stack);
}

Result<std::string> Config::ExpandIn(std::string_view text, Expansion* stack) const {
  if (!stack->Spend(text.size() + 1)) return TooLarge();
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    size_t dollar = text.find('$', i);
    if (dollar == text.npos || dollar + 1 == text.size()) {
      out.append(text.substr(i));
      break;
    }
    out.append(text.substr(i, dollar - i));
    char next = text[dollar + 1];
    if (next == '$') {
      out += '$';
      i = dollar + 2;
    } else if (next == '{' || next == '(') {
      char close = next == '{' ? '}' : ')';
      std::string_view from = text.substr(dollar + 1);
      size_t end = MatchClose(from, next, close);
      if (end == from.npos)
        return Err("missing '" + std::string(1, close) + "' in \"" + std::string(text) + "\"");
      auto r = Macro(from.substr(1, end - 1), stack);
      if (!r) return r;
      if (!stack->Spend(r->size())) return TooLarge();
      out += *r;
      i = dollar + 1 + end + 1;
    } else if (IsNameChar(next)) {
      size_t n = NameLength(text.substr(dollar + 1));
      auto r = GetIn(text.substr(dollar + 1, n), stack);
      if (!r) return r;
      if (!stack->Spend(r->size())) return TooLarge();
      out += *r;
      i = dollar + 1 + n;
    } else {
      out += '$';  // a lone '$' stays as written
      i = dollar + 1;
    }
  }
  return out;
}

Result<std::string> Config::Get(std::string_view name) const {
  Expansion stack;
  auto r = GetIn(name, &stack);
  if (!r) return Err(origin_ + ": parameter " + std::string(name) + ": " + r.error());
  return r;
}

Result<std::string> Config::Expand(std::string_view text) const {
  Expansion stack;
  return ExpandIn(text, &stack);
}

// The expanded value checked against `type`; returns it unchanged when valid.
Result<std::string> Config::Typed(std::string_view name, ParamType type) const {
  auto v = Get(name);
  if (!v) return v;
  const ParamDef* def = FindParam(name);
  std::string problem;
  switch (type) {
    case ParamType::kTime: {
      auto t = ParseTime(*v, def ? def->time_unit : 's');
      if (!t) problem = t.error();
      break;
    }
    case ParamType::kSize: if (auto s = ParseSize(*v); !s) problem = s.error(); break;
    case ParamType::kBool: if (auto b = ParseBool(*v); !b) problem = b.error(); break;
    case ParamType::kInt: if (auto n = ParseInt(*v); !n) problem = n.error(); break;
    case ParamType::kTables: if (auto l = ParseTableList(*v); !l) problem = l.error(); break;
    case ParamType::kString:
    case ParamType::kList: break;
  }
  if (!problem.empty()) return Err(origin_ + ": parameter " + std::string(name) + ": " + problem);
  return v;
}

Result<std::chrono::seconds> Config::GetTime(std::string_view name) const {
  auto v = Typed(name, ParamType::kTime);
  if (!v) return Err(v.error());
  const ParamDef* def = FindParam(name);
  return ParseTime(*v, def ? def->time_unit : 's');
}

Result<uint64_t> Config::GetSize(std::string_view name) const {
  auto v = Typed(name, ParamType::kSize);
  if (!v) return Err(v.error());
  return ParseSize(*v);
}

Result<bool> Config::GetBool(std::string_view name) const {
  auto v = Typed(name, ParamType::kBool);
  if (!v) return Err(v.error());
  return ParseBool(*v);
}

Result<long long> Config::GetInt(std::string_view name) const {
  auto v = Typed(name, ParamType::kInt);
  if (!v) return Err(v.error());
  return ParseInt(*v);
}

Result<std::vector<std::string>> Config::GetList(std::string_view name) const {
  auto v = Get(name);
  if (!v) return Err(v.error());
  return SplitList(*v);
}

Result<std::vector<TableRef>> Config::GetTables(std::string_view name) const {
  auto v = Typed(name, ParamType::kTables);
  if (!v) return Err(v.error());
  return ParseTableList(*v);
}

// Shorthands: after Validate() these cannot fail; if they do anyway, the
// registry default is the answer (and Validate() has already said why).
template <class T, class F>
static T OrDefault(const Config& cfg, std::string_view name, F get, T fallback) {
  auto r = get(name);
  return r ? *r : fallback;
}

std::string Config::Str(std::string_view name) const {
  auto r = Get(name);
  if (r) return *r;
  const ParamDef* def = FindParam(name);
  auto d = def ? Expand(DefaultValue(*def)) : Result<std::string>(std::string());
  return d ? *d : std::string();
}

std::chrono::seconds Config::Time(std::string_view name) const {
  const ParamDef* def = FindParam(name);
  auto fallback = def ? ParseTime(def->default_value, def->time_unit) : Err("");
  return OrDefault(*this, name, [&](auto n) { return GetTime(n); },
                   fallback ? *fallback : std::chrono::seconds(0));
}

uint64_t Config::Size(std::string_view name) const {
  const ParamDef* def = FindParam(name);
  auto fallback = def ? ParseSize(def->default_value) : Err("");
  return OrDefault(*this, name, [&](auto n) { return GetSize(n); }, fallback ? *fallback : 0);
}

bool Config::Bool(std::string_view name) const {
  const ParamDef* def = FindParam(name);
  auto fallback = def ? ParseBool(def->default_value) : Err("");
  return OrDefault(*this, name, [&](auto n) { return GetBool(n); }, fallback ? *fallback : false);
}

long long Config::Int(std::string_view name) const {
  const ParamDef* def = FindParam(name);
  auto fallback = def ? ParseInt(def->default_value) : Err("");
  return OrDefault(*this, name, [&](auto n) { return GetInt(n); }, fallback ? *fallback : 0LL);
}

std::vector<std::string> Config::List(std::string_view name) const { return SplitList(Str(name)); }

std::vector<Config::Problem> Config::Validate() const {
  std::vector<Problem> out;
  std::set<std::string, std::less<>> referenced;
  auto note_refs = [&](std::string_view v) {
    for (size_t i = v.find('$'); i != v.npos; i = v.find('$', i + 1)) {
      std::string_view rest = v.substr(i + 1);
      if (!rest.empty() && (rest[0] == '{' || rest[0] == '(')) rest.remove_prefix(1);
      if (size_t n = NameLength(rest)) referenced.emplace(rest.substr(0, n));
    }
  };
  for (const auto& a : assignments_) note_refs(a.value);
  for (const auto& [name, value] : overrides_) note_refs(value);
  for (const auto& def : Registry()) {
    // Defaults are valid by construction but may still loop through set values.
    auto v = IsSet(def.name) ? Typed(def.name, def.type) : Get(def.name);
    if (!v) out.push_back({false, v.error()});
  }
  if (IsSet("mail_version")) out.push_back({true, "mail_version is read-only; the setting is ignored"});
  std::optional<std::vector<std::string>> services;  // master.cf's, read when first needed
  auto service_param = [&](std::string_view name) {
    if (!services) {
      services.emplace();
      if (auto defs = config_dir_.empty() ? Err("") : LoadMasterCf(config_dir_))
        for (const auto& d : *defs) services->push_back(d.service);
    }
    return IsServiceParameter(name, *services);
  };
  // smtpd_restriction_classes names parameters of the user's own.
  for (const std::string& c : List("smtpd_restriction_classes")) referenced.insert(c);
  for (const auto& a : assignments_) {
    if (FindParam(a.name) || referenced.count(a.name) || service_param(a.name)) continue;
    if (index_.at(a.name) != size_t(&a - assignments_.data())) continue;  // report once
    std::string where = origin_ + ", line " + std::to_string(a.line) + ": ";
    if (const char* feature = UnsupportedParameter(a.name))
      out.push_back({true, where + a.name + ": " + feature + " is not supported by postern yet; ignored"});
    else
      out.push_back({true, where + "unused parameter: " + a.name + "=" + a.value});
  }
  return out;
}

}  // namespace postern::config
