// stats/cache_keys.cc — greylist and message-limit keys; see cache_keys.h.
#include "postern/stats/cache_keys.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "postern/stats/cache.h"
#include "postern/util/strings.h"

namespace postern::cache {

namespace {

constexpr std::pair<std::string_view, GreyField> kFields[] = {
    {"client_address", GreyField::kClientAddress}, {"client_network", GreyField::kClientNetwork},
    {"client_name", GreyField::kClientName},       {"helo_name", GreyField::kHeloName},
    {"sender", GreyField::kSender},                {"recipient", GreyField::kRecipient},
    {"content", GreyField::kContent},
};

// FNV-1a: the same on every host, so that MX hosts sharing Redis agree.
uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
  return h;
}

// Bounded by the cache's key limit: a long key keeps its head and hashes the rest.
std::string Bounded(std::string key) {
  constexpr size_t kMax = stats::PolicyCache::kMaxKey;
  if (key.size() <= kMax) return key;
  char hash[24];
  std::snprintf(hash, sizeof hash, "#%016llx", static_cast<unsigned long long>(Fnv1a(std::string_view(key).substr(kMax - 17))));
  key.resize(kMax - 17);
  return key + hash;
}

std::string_view Or(std::string_view v, std::string_view dflt) { return v.empty() ? dflt : v; }

}  // namespace

Result<std::vector<GreyField>> ParseGreyFields(const std::vector<std::string>& names) {
  std::vector<GreyField> out;
  for (const std::string& n : names) {
    auto it = std::find_if(std::begin(kFields), std::end(kFields), [&](const auto& f) { return f.first == ToLower(n); });
    if (it == std::end(kFields))
      return Err("greylist_key: unknown field \"" + n +
                 "\" (known: client_address, client_network, client_name, helo_name, sender, recipient, content)");
    out.push_back(it->second);
  }
  if (out.empty()) return Err("greylist_key is empty");
  return out;
}

std::string ClientNetwork(std::string_view addr) {
  std::string a(addr);
  unsigned char buf[16];
  char text[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, a.c_str(), buf) == 1) {
    buf[3] = 0;
    inet_ntop(AF_INET, buf, text, sizeof text);
    return std::string(text) + "/24";
  }
  if (inet_pton(AF_INET6, a.c_str(), buf) == 1) {
    std::memset(buf + 8, 0, 8);
    inet_ntop(AF_INET6, buf, text, sizeof text);
    return std::string(text) + "/64";
  }
  return a;
}

std::string GreyKey(const std::vector<GreyField>& fields, const GreyFacts& f) {
  std::string key = "grey:";
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) key += ',';
    switch (fields[i]) {
      case GreyField::kClientAddress: key += f.client_addr; break;
      case GreyField::kClientNetwork: key += ClientNetwork(f.client_addr); break;
      case GreyField::kClientName: key += ToLower(Or(f.client_name, "unknown")); break;
      case GreyField::kHeloName: key += ToLower(f.helo); break;
      case GreyField::kSender: key += ToLower(f.sender); break;
      case GreyField::kRecipient: key += ToLower(f.recipient); break;
      case GreyField::kContent: key += f.content; break;
    }
  }
  return Bounded(std::move(key));
}

bool HasContent(const std::vector<GreyField>& fields) {
  return std::find(fields.begin(), fields.end(), GreyField::kContent) != fields.end();
}

std::string GreyWhiteKey(const std::vector<GreyField>& fields, std::string_view client_addr) {
  bool network = std::find(fields.begin(), fields.end(), GreyField::kClientNetwork) != fields.end() &&
                 std::find(fields.begin(), fields.end(), GreyField::kClientAddress) == fields.end();
  return "grey:white:" + (network ? ClientNetwork(client_addr) : std::string(client_addr));
}

std::string MessageLimitKey(std::string_view kind, std::string_view value) {
  return Bounded("msg-limit:" + std::string(kind) + ":" + ToLower(value));
}

std::string DumbKey(std::string_view client_addr) { return Bounded("dumb:" + ToLower(client_addr)); }

}  // namespace postern::cache
