// smtpd/policy_proto.cc — check_policy_service arguments, request encoding
// and reply parsing for the policy delegation protocol; see policy_proto.h.
#include "smtpd/policy_proto.h"

#include "postern/config/values.h"
#include "postern/net/connect.h"
#include "postern/util/strings.h"

namespace postern::smtpd::policy {

namespace {

Result<std::chrono::milliseconds> Time(std::string_view name, std::string_view v) {
  auto t = config::ParseTime(v);
  if (!t) return Err(std::string(name) + ": " + t.error());
  return std::chrono::milliseconds(*t);
}

Result<long long> Count(std::string_view name, std::string_view v) {
  auto n = config::ParseInt(v);
  if (!n || *n < 0) return Err(std::string(name) + ": bad number \"" + std::string(v) + "\"");
  return *n;
}

// One "name=value" of the braced form; the names are the parameters' without
// the smtpd_policy_service_ prefix, as in Postfix.
Result<void> Override(std::string_view item, ServiceSpec* s) {
  size_t eq = item.find('=');
  if (eq == std::string_view::npos) return Err("\"" + std::string(item) + "\" is not name=value");
  std::string name = ToLower(Trim(item.substr(0, eq)));
  std::string_view v = Trim(item.substr(eq + 1));
  std::chrono::milliseconds* t = name == "timeout" ? &s->timeout
                                 : name == "max_idle" ? &s->max_idle
                                 : name == "max_ttl" ? &s->max_ttl
                                 : name == "retry_delay" ? &s->retry_delay : nullptr;
  if (t) {
    auto r = Time(name, v);
    if (!r) return Err(r.error());
    *t = *r;
  } else if (name == "request_limit" || name == "try_limit") {
    auto r = Count(name, v);
    if (!r) return Err(r.error());
    (name == "try_limit" ? s->try_limit : s->request_limit) = *r;
  } else if (name == "default_action") {
    s->default_action = std::string(v);
  } else if (name == "policy_context") {
    s->policy_context = std::string(v);
  } else {
    return Err("unknown attribute \"" + name + "\"");
  }
  return {};
}


}  // namespace

Result<ServiceSpec> ParseServiceSpec(std::string_view arg, const ServiceSpec& base, std::string_view queue_dir) {
  ServiceSpec s = base;
  arg = Trim(arg);
  std::vector<std::string> items;
  if (!arg.empty() && arg.front() == '{') {
    if (arg.back() != '}') return Err("check_policy_service: missing '}' in \"" + std::string(arg) + "\"");
    items = SplitList(arg.substr(1, arg.size() - 2), ",");
    if (items.empty()) return Err("check_policy_service: empty {}");
  } else {
    items.emplace_back(arg);
  }
  auto ep = net::ParseEndpoint(Trim(items[0]), queue_dir);
  if (!ep) return Err("check_policy_service: " + ep.error());
  s.endpoint = std::move(*ep);
  for (size_t i = 1; i < items.size(); ++i) {
    if (Trim(items[i]).empty()) continue;
    if (auto r = Override(Trim(items[i]), &s); !r) return Err("check_policy_service " + s.endpoint + ": " + r.error());
  }
  if (s.try_limit < 1) s.try_limit = 1;
  return s;
}

std::string EncodeRequest(const Attributes& attrs) {
  std::string out;
  for (const auto& [name, value] : attrs) {
    out += name;
    out += '=';
    for (char c : value)
      if (c != '\r' && c != '\n') out += c;
    out += '\n';
  }
  out += '\n';
  return out;
}

bool ReplyParser::Feed(std::string_view line) {
  if (done_) return false;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty()) {
    done_ = true;
    return false;
  }
  ++lines_;
  if (StartsWith(line, "action=") && action_.empty()) action_ = std::string(Trim(line.substr(7)));
  return true;
}

}  // namespace postern::smtpd::policy
