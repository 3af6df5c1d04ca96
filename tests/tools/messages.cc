// tests/tools/messages.cc — qtool's subcommands on single messages: inject
// generated ones, maybe aged (and wake qmgr as smtpd does), enqueue one with exact
// content and flags, list envelopes, hold a message, dump every message.
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>

#include "postern/ipc/trigger.h"
#include "postern/util/strings.h"
#include "tests/tools/qtool.h"

namespace postern::qtool {

namespace {

// "rcpt[;NOTIFYBITS[;ORCPT]]"
queue::Recipient ParseRcpt(const std::string& spec) {
  queue::Recipient r;
  size_t a = spec.find(';');
  r.address = spec.substr(0, a);
  if (a == std::string::npos) return r;
  size_t b = spec.find(';', a + 1);
  r.notify = uint8_t(std::strtoul(spec.substr(a + 1, b == std::string::npos ? b : b - a - 1).c_str(), nullptr, 10));
  if (b != std::string::npos) r.orig_recipient = spec.substr(b + 1);
  return r;
}

std::string Hex(std::string_view s) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string o;
  o.reserve(s.size() * 2);
  for (unsigned char c : s) {
    o += kDigits[c >> 4];
    o += kDigits[c & 15];
  }
  return o;
}

std::string DumpLine(const queue::MessageRecord& m, const std::vector<queue::Envelope>& envs, std::string_view body) {
  std::string line = "{\"id\":" + JsonString(queue::FormatMsgId(m.id)) + ",\"sender\":" + JsonString(m.sender) +
                     ",\"size\":" + std::to_string(m.size) + ",\"nrcpt\":" + std::to_string(m.nrcpt) +
                     ",\"flags\":" + std::to_string(m.flags) + ",\"helo\":" + JsonString(m.helo) +
                     ",\"protocol\":" + JsonString(m.protocol) + ",\"client_addr\":" + JsonString(m.client_addr) +
                     ",\"client_name\":" + JsonString(m.client_name) + ",\"envid\":" + JsonString(m.dsn_envid) +
                     ",\"ret\":" + std::to_string(int(m.dsn_ret)) + ",\"recipients\":[";
  for (size_t i = 0; i < envs.size(); ++i) {
    const queue::Envelope& e = envs[i];
    line += std::string(i ? "," : "") + "{\"address\":" + JsonString(e.recipient) +
            ",\"orcpt\":" + JsonString(e.orig_recipient) + ",\"notify\":" + std::to_string(e.notify) +
            ",\"state\":" + JsonString(queue::StateName(e.state)) + "}";
  }
  return line + "],\"body\":\"" + Hex(body) + "\"}";
}

}  // namespace

int Inject(Context& c) {
  std::string sender = "sender@example.org";
  long count = 1, size = 0, age = 0;
  bool trigger = true;
  std::vector<queue::Recipient> rcpts;
  const std::vector<std::string>& a = c.args;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] == "-f" && i + 1 < a.size()) sender = a[++i];
    else if (a[i] == "-n" && i + 1 < a.size()) count = std::atol(a[++i].c_str());
    else if (a[i] == "-s" && i + 1 < a.size()) size = std::atol(a[++i].c_str());
    else if (a[i] == "-a" && i + 1 < a.size()) age = std::atol(a[++i].c_str());
    else if (a[i] == "--no-trigger") trigger = false;
    else rcpts.push_back({a[i], "", 0});
  }
  if (sender == "<>") sender.clear();
  for (long n = 0; n < count; ++n) {
    queue::MessageRecord rec;
    rec.sender = sender;
    rec.protocol = "ESMTP";
    if (age > 0) rec.arrival = std::time(nullptr) - age;  // a message that waited this long
    auto w = c.queue->Begin(rec);
    if (!w.ok()) return Fail(w.status().message, ExitCode(w.status()));
    // The id in a header lets a sink tell which queued message it received.
    std::string body = "Subject: test " + std::to_string(n) + "\r\nX-Qtool-Id: " + queue::FormatMsgId((*w)->id()) +
                       "\r\n\r\nmessage " + std::to_string(n) + "\r\n";
    while (static_cast<long>(body.size()) < size) body += "padding padding padding padding padding padding\r\n";
    if (auto s = (*w)->Append(body); !s.ok()) return Fail(s.message, ExitCode(s));
    for (const auto& r : rcpts) (void)(*w)->AddRecipient(r);
    auto id = c.queue->Commit(std::move(*w));
    if (!id.ok()) return Fail(id.status().message, ExitCode(id.status()));
    std::printf("%s\n", queue::FormatMsgId(*id).c_str());
  }
  std::fflush(stdout);
  if (trigger) ipc::TriggerQmgr(c.queue_dir);
  return 0;
}

int Enqueue(Context& c) {
  if (c.args.empty()) return Fail("enqueue BODY_FILE [options] RCPT...", kUsage);
  std::ifstream in(c.args[0], std::ios::binary);
  if (!in) return Fail("cannot read " + c.args[0]);
  std::stringstream body;
  body << in.rdbuf();
  queue::MessageRecord rec;
  rec.sender = "sender@example.org";
  rec.protocol = "ESMTP";
  std::vector<queue::Recipient> rcpts;
  const std::vector<std::string>& a = c.args;
  for (size_t i = 1; i < a.size(); ++i) {
    bool has_value = i + 1 < a.size();
    if (a[i] == "-f" && has_value) rec.sender = a[++i];
    else if (a[i] == "--8bit") rec.flags |= queue::kFlag8BitMime;
    else if (a[i] == "--smtputf8") rec.flags |= queue::kFlagSmtpUtf8;
    else if (a[i] == "--ret" && has_value) rec.dsn_ret = a[++i] == "full" ? queue::DsnRet::kFull : queue::DsnRet::kHdrs;
    else if (a[i] == "--envid" && has_value) rec.dsn_envid = a[++i];
    else rcpts.push_back(ParseRcpt(a[i]));
  }
  if (rcpts.empty()) return Fail("no recipients", kUsage);
  auto id = Put(*c.queue, std::move(rec), body.str(), rcpts);
  if (!id.ok()) return Fail(id.status().message, ExitCode(id.status()));
  std::printf("%s\n", queue::FormatMsgId(*id).c_str());
  auto envs = c.queue->Envelopes(*id);
  if (!envs.ok()) return Fail(envs.status().message);
  for (const auto& e : *envs) std::printf("%s %s\n", queue::FormatEnvId(e.id).c_str(), e.recipient.c_str());
  return 0;
}

// One line per envelope: id state attempts next_attempt rcpt | error
int List(Context& c) {
  for (queue::MsgId after = 0;;) {
    auto page = c.queue->ListMessages(after, 500);
    if (!page.ok()) return Fail(page.status().message);
    if (page->empty()) return 0;
    for (const auto& m : *page) {
      after = m.id;
      auto envs = c.queue->Envelopes(m.id);
      if (!envs.ok()) continue;  // removed meanwhile
      for (const auto& e : *envs) {
        std::printf("%s %s %u %lld %s | %s\n", queue::FormatEnvId(e.id).c_str(), queue::StateName(e.state),
                    e.attempts, static_cast<long long>(e.next_attempt), e.recipient.c_str(), e.last_error.c_str());
      }
    }
  }
}

int Hold(Context& c) {
  if (c.args.size() != 1) return Fail("hold MSGID", kUsage);
  auto id = queue::ParseAnyId(c.args[0]);
  if (!id) return Fail("bad id " + c.args[0], kUsage);
  auto s = c.queue->Hold(*id);
  return s.ok() ? 0 : Fail(s.message);
}

// Every message as one JSON line: record, envelopes, body as hex.
int Dump(Context& c) {
  for (queue::MsgId after = 0;;) {
    auto page = c.queue->ListMessages(after, 100);
    if (!page.ok()) return Fail(page.status().message);
    if (page->empty()) return 0;
    for (const queue::MessageRecord& m : *page) {
      after = m.id;
      auto envs = c.queue->Envelopes(m.id);
      if (!envs.ok()) return Fail(envs.status().message);
      auto body = ReadBody(*c.queue, m.id);
      if (!body.ok()) return Fail(body.status().message);
      std::printf("%s\n", DumpLine(m, *envs, *body).c_str());
    }
  }
}

}  // namespace postern::qtool
