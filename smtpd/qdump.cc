// smtpd/qdump.cc — test helper (never installed): prints every message in a
// queue as one JSON line (record, envelopes, body as hex) so that system
// tests can assert envelopes and exact bodies. Usage: smtpd_qdump -c CONFIG_DIR
#include <cstdio>
#include <cstring>
#include <string>

#include "config/layout.h"
#include "config/maincf.h"
#include "queue/queue.h"
#include "smtp/address.h"

namespace q = postern::queue;

namespace {

std::string Json(std::string_view s) {
  bool utf8 = postern::smtp::IsValidUtf8(s);
  std::string o = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += char(c);
    } else if (c < 0x20 || (c >= 0x80 && !utf8)) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else {
      o += char(c);
    }
  }
  return o + "\"";
}

std::string Hex(std::string_view s) {
  static const char* d = "0123456789abcdef";
  std::string o;
  o.reserve(s.size() * 2);
  for (unsigned char c : s) {
    o += d[c >> 4];
    o += d[c & 15];
  }
  return o;
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "smtpd_qdump: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  if (argc == 3 && std::strcmp(argv[1], "-c") == 0) dir = argv[2];
  else return Fail("usage: smtpd_qdump -c config_dir");
  auto cfg = postern::config::Config::Load(postern::config::ConfigDir(dir));
  if (!cfg) return Fail(cfg.error());
  auto opts = q::OptionsFromConfig(*cfg);
  if (!opts.ok()) return Fail(opts.status().message);
  auto qd = cfg->Get("queue_directory");
  if (!qd) return Fail(qd.error());
  auto qu = q::Queue::Open(*qd, *opts);
  if (!qu.ok()) return Fail(qu.status().message);
  for (q::MsgId after = 0;;) {
    auto page = (*qu)->ListMessages(after, 100);
    if (!page.ok()) return Fail(page.status().message);
    if (page->empty()) break;
    for (const q::MessageRecord& m : *page) {
      after = m.id;
      std::string line = "{\"id\":" + Json(q::FormatMsgId(m.id)) + ",\"sender\":" + Json(m.sender) +
                         ",\"size\":" + std::to_string(m.size) + ",\"nrcpt\":" + std::to_string(m.nrcpt) +
                         ",\"flags\":" + std::to_string(m.flags) + ",\"helo\":" + Json(m.helo) +
                         ",\"protocol\":" + Json(m.protocol) + ",\"client_addr\":" + Json(m.client_addr) +
                         ",\"client_name\":" + Json(m.client_name) + ",\"envid\":" + Json(m.dsn_envid) +
                         ",\"ret\":" + std::to_string(int(m.dsn_ret)) + ",\"recipients\":[";
      auto envs = (*qu)->Envelopes(m.id);
      if (!envs.ok()) return Fail(envs.status().message);
      for (size_t i = 0; i < envs->size(); ++i) {
        const q::Envelope& e = (*envs)[i];
        line += std::string(i ? "," : "") + "{\"address\":" + Json(e.recipient) + ",\"orcpt\":" +
                Json(e.orig_recipient) + ",\"notify\":" + std::to_string(e.notify) + ",\"state\":" +
                Json(q::StateName(e.state)) + "}";
      }
      auto body = (*qu)->OpenBody(m.id);
      if (!body.ok()) return Fail(body.status().message);
      std::string text(body->size(), '\0');
      size_t off = 0;
      while (off < text.size()) {
        auto n = body->Read(text.data() + off, text.size() - off);
        if (!n.ok()) return Fail(n.status().message);
        if (*n == 0) break;
        off += *n;
      }
      text.resize(off);
      std::printf("%s],\"body\":\"%s\"}\n", line.c_str(), Hex(text).c_str());
    }
  }
  return 0;
}
