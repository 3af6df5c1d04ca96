// queue/ids.cc — random ids from the kernel's generator (getrandom, buffered
// per thread so a busy smtpd does not pay one system call per id).
#include "postern/queue/ids.h"

#include <sys/random.h>

#include <array>
#include <cstdio>
#include <cstring>

namespace postern::queue {

namespace {

uint32_t Random32() {
  thread_local std::array<uint32_t, 64> pool;
  thread_local size_t left = 0;
  if (left == 0) {
    size_t got = 0;
    auto* p = reinterpret_cast<unsigned char*>(pool.data());
    while (got < sizeof pool) {
      ssize_t n = getrandom(p + got, sizeof pool - got, 0);
      if (n > 0) got += static_cast<size_t>(n);
    }
    left = pool.size();
  }
  return pool[--left];
}

std::optional<uint64_t> ParseHex(std::string_view s, size_t digits) {
  if (s.size() != digits) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return std::nullopt;
    v = v << 4 | static_cast<uint64_t>(d);
  }
  return v;
}

}  // namespace

uint32_t RandomLow32() {
  for (;;) {
    uint32_t v = Random32();
    if (v != 0) return v;
  }
}

MsgId RandomMsgId() { return RandomLow32(); }

EnvId MakeEnvId(MsgId msg, uint32_t low) { return static_cast<uint64_t>(msg) << 32 | low; }

std::string FormatMsgId(MsgId id) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", id);
  return buf;
}

std::string FormatEnvId(EnvId id) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(id));
  return buf;
}

std::optional<MsgId> ParseMsgId(std::string_view s) {
  auto v = ParseHex(s, 8);
  if (!v || *v == 0) return std::nullopt;
  return static_cast<MsgId>(*v);
}

std::optional<EnvId> ParseEnvId(std::string_view s) {
  auto v = ParseHex(s, 16);
  if (!v || (*v >> 32) == 0 || (*v & 0xffffffffULL) == 0) return std::nullopt;
  return *v;
}

std::optional<uint64_t> ParseAnyId(std::string_view s) {
  if (s.size() == 8) return ParseMsgId(s);
  if (s.size() == 16) return ParseEnvId(s);
  return std::nullopt;
}

}  // namespace postern::queue
