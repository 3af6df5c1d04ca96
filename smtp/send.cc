// smtp/send.cc — postern send: the command line becomes main.cf overrides and
// one delivery request (send_args.h); the message is read whole from
// standard input; each recipient's result is one line on standard output.
#include "smtp/send.h"

#include <fcntl.h>
#include <pwd.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <iostream>
#include <iterator>

#include "postern/cleanup/header_edit.h"
#include "postern/log/log.h"
#include "postern/queue/schema.h"
#include "postern/smtp/sasl.h"
#include "smtp/delivery.h"
#include "smtp/send_args.h"

namespace postern::smtp_client {

namespace {

// The flags as main.cf overrides: TLS level, AUTH, EHLO name; no connection cache.
void ApplyFlags(const SendOptions& o, config::Config* cfg) {
  cfg->Override("smtp_connection_cache_on_demand", "no");
  if (!o.helo.empty()) cfg->Override("smtp_helo_name", o.helo);
  if (o.tls_may || o.tls_encrypt) {
    cfg->Override("smtp_tls_security_level", o.tls_encrypt ? "encrypt" : "may");
    cfg->Override("smtp_tls_policy_maps", "");
  }
  if (o.auth) {
    cfg->Override("smtp_sasl_auth_enable", "yes");
    cfg->Override("smtp_sasl_tls_security_options", "noanonymous");
    if (o.auth_without_tls) cfg->Override("smtp_sasl_security_options", "noanonymous");
  }
}

bool EightBit(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  return false;
}

// A password typed at the terminal, without echo; nullopt without a terminal.
std::optional<std::string> AskPassword(const std::string& user) {
  int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string prompt = "Password for " + user + ": ";
  (void)!write(fd, prompt.data(), prompt.size());
  termios old{};
  bool tty = tcgetattr(fd, &old) == 0;
  if (tty) {
    termios quiet = old;
    quiet.c_lflag &= ~tcflag_t(ECHO);
    tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  std::string pw;
  char c;
  while (read(fd, &c, 1) == 1 && c != '\n') pw += c;
  if (!pw.empty() && pw.back() == '\r') pw.pop_back();
  if (tty) tcsetattr(fd, TCSAFLUSH, &old);
  (void)!write(fd, "\n", 1);
  close(fd);
  return pw;
}

std::string LoginName() {
  if (const passwd* pw = getpwuid(getuid())) return pw->pw_name;
  return "nobody";
}

// -a: the table's login when it is for -u's user (or there is no -u), else
// -u's (or the login name's) with a password from the terminal.
auto LoginFor(std::string user) {
  return [user](std::optional<SaslCredentials> found) -> std::optional<SaslCredentials> {
    if (found && (user.empty() || found->user == user)) return found;
    SaslCredentials c;
    c.user = user.empty() ? LoginName() : user;
    auto pw = AskPassword(c.user);
    if (!pw || pw->empty()) return std::nullopt;
    c.password = std::move(*pw);
    smtp::WipeSecret(&*pw);
    return c;
  };
}

ipc::DeliveryRequest Request(const SendOptions& o, const std::string& message) {
  ipc::DeliveryRequest req;
  req.transport = "smtp";
  req.nexthop = o.nexthop;
  req.sender = o.sender;
  req.arrival = std::time(nullptr);
  if (EightBit(message)) req.flags |= queue::kFlag8BitMime;
  bool utf8 = EightBit(o.sender);
  for (size_t i = 0; i < o.recipients.size(); ++i) {
    req.recipients.push_back(ipc::DeliveryRecipient{i + 1, o.recipients[i], "", 0});
    utf8 = utf8 || EightBit(o.recipients[i]);
  }
  if (utf8) req.flags |= queue::kFlagSmtpUtf8;
  if (o.ping) req.flags |= queue::kFlagVerifyProbe;
  return req;
}

// -f: the DATA stream as the client would send it to a server without
// 8BITMIME (converted, folded, dot-stuffed, ".\r\n" at the end).
int Filter(const config::Config& cfg, const std::string& message) {
  auto s = Settings::Load(cfg, false);
  auto generic = s ? Generic::Load(cfg, false) : Err(s.error());
  if (!generic) return std::fprintf(stderr, "postern send: %s\n", generic.error().c_str()), kSendError;
  std::string text = message;
  if (!generic->empty()) {
    // smtp_generic_maps' header stage, as Delivery::FeedBody runs it.
    bool failed = false;
    cleanup::HeaderEditor editor([&](std::string* h) { generic->Header(h, &failed); }, size_t{1} << 20);
    editor.Apply(&text, 0);
    editor.Finish(&text);
    if (failed) return std::fprintf(stderr, "postern send: smtp_generic_maps lookup failure\n"), kSendTemp;
  }
  bool downgrade = s->mime_output_conversion && EightBit(text);
  BodyOut body(s->text_line_limit, downgrade, s->mime_limits, s->checks, "NOQUEUE");
  std::string out;
  if (!body.Feed(text, &out) || !body.Finish(&out)) {
    auto d = mime::Describe(body.error());
    std::fprintf(stderr, "postern send: %s (%s)\n", d.text, d.dsn);
    return kSendPerm;
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return std::fflush(stdout) == 0 ? kSendOk : kSendError;
}

const char* StatusWord(ipc::DeliveryStatus st, bool ping) {
  if (st == ipc::DeliveryStatus::kSent) return ping ? "deliverable" : "sent";
  if (st == ipc::DeliveryStatus::kBounced) return ping ? "undeliverable" : "bounced";
  return "deferred";
}

int Report(const SendOptions& o, const std::vector<ipc::DeliveryResult>& results) {
  bool temp = false, perm = false;
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    std::printf("to=<%s>, relay=%s, dsn=%s, status=%s (%s)\n", o.recipients[i].c_str(), r.relay.c_str(),
                r.dsn.c_str(), StatusWord(r.status, o.ping), r.reason.c_str());
    temp = temp || r.status == ipc::DeliveryStatus::kDeferred;
    perm = perm || r.status == ipc::DeliveryStatus::kBounced;
  }
  std::fflush(stdout);
  return temp ? kSendTemp : perm ? kSendPerm : kSendOk;
}

}  // namespace

int SendMain(int argc, char** argv) {
  auto opts = ParseSendArgs(argc, argv);
  if (!opts) {
    std::fprintf(stderr, "postern send: %s\n", opts.error().c_str());
    return kSendError;
  }
  const SendOptions& o = *opts;
  auto loaded = config::Config::Load(o.config_dir);
  if (!loaded) {
    std::fprintf(stderr, "postern send: %s\n", loaded.error().c_str());
    return kSendError;
  }
  // Lives until the process exits, as the worker's does: callbacks may still be queued.
  auto* ctx = new server::Context;
  ctx->config = std::move(*loaded);
  ctx->program = "send";
  ApplyFlags(o, &ctx->config);
  if (o.dialogue) {
    log::InitCommand("postern send");
    log::SetTraces({"transfer"});
  } else {
    log::InitDaemon("send", ctx->config);
  }
  std::string message{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  message = QualifyHeaders(message, o.domain);
  if (o.filter) return Filter(ctx->config, message);
  ctx->loop = uv_default_loop();
  auto* worker = new Worker;
  auto creds = TlsClient::LoadCredentials(ctx->config, false);
  Result<void> init = creds ? InitWorker(worker, *ctx, false, std::move(*creds), false) : Err(creds.error());
  if (!init) return std::fprintf(stderr, "postern send: %s\n", init.error().c_str()), kSendError;
  worker->message = std::move(message);
  worker->settings.ehlo_first = o.ehlo_first;
  worker->settings.gateway = o.gateway;
  worker->settings.mx_ignore_hosts = o.busted;
  if (o.auth) worker->login = LoginFor(o.user);
  int status = kSendError;
  auto d = std::make_shared<Delivery>(*worker, Request(o, *worker->message),
                                      [&status, &o, worker](const std::vector<ipc::DeliveryResult>& r) {
                                        status = Report(o, r);
                                        // QUIT said (or its reply awaited): then the process is done.
                                        worker->cache->WhenQuiet([worker] { uv_stop(worker->ctx->loop); });
                                      });
  d->Start();
  d.reset();
  uv_run(ctx->loop, UV_RUN_DEFAULT);
  return status;
}

}  // namespace postern::smtp_client
