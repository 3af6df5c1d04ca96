// tests/system/testd.cc — a test-only worker built on the server skeleton:
// greets with its pid and the expanded smtpd_banner, echoes lines, and in
// other modes (first argument) runs as a trigger service or fails at start.
//   testd [single|multi|trigger|fail|quit]
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "postern/event/event.h"
#include "postern/log/log.h"
#include "postern/server/server.h"

using namespace postern;

namespace {

// One echo session: "220 pid=N banner", "250 line" per line, QUIT ends it.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(server::Context& ctx, server::Client c) : ctx_(ctx), c_(std::move(c)), lines_(1000) {}

  void Start() {
    auto self = shared_from_this();
    c_.stream->Write("220 pid=" + std::to_string(getpid()) + " " + ctx_.config.Str("smtpd_banner") + "\r\n");
    c_.stream->ReadStart([self](std::string_view d) { self->OnData(d); }, [self](int) { self->End(); });
  }

 private:
  void OnData(std::string_view d) {
    lines_.Feed(d);
    std::string line, out;
    while (lines_.Next(&line)) {
      if (line == "QUIT") {
        c_.stream->ReadStop();
        auto self = shared_from_this();
        c_.stream->Write(out + "221 bye\r\n", [self](int) { self->End(); });
        return;
      }
      out += "250 " + line + "\r\n";
    }
    if (!out.empty()) c_.stream->Write(std::move(out));
  }

  // Dropping the stream closes the connection; dropping the lease tells the
  // skeleton this client is done.
  void End() {
    c_.stream.reset();
    c_.lease.Release();
  }

  server::Context& ctx_;
  server::Client c_;
  event::LineBuffer lines_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string mode = "single";
  // The kind must be known before server::Run parses the skeleton options,
  // so skip those (each takes a value) to find the mode word.
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-c" || a == "-n" || a == "-t" || a == "-s" || a == "-g" || a == "-o") ++i;
    else if (a[0] != '-') mode = a;
  }
  server::Service svc;
  svc.kind = mode == "multi" ? server::Kind::kMulti : mode == "trigger" ? server::Kind::kTrigger : server::Kind::kSingle;
  svc.init = [mode](server::Context& ctx) -> Result<void> {
    if (mode == "fail") return Err("startup failure requested by the test configuration");
    if (mode == "quit") std::exit(0);  // like a command that is no postern worker
    log::Info("started as {} service {}/{}", mode, ctx.service, ctx.type);
    return {};
  };
  svc.on_client = [](server::Context& ctx, server::Client c) { std::make_shared<Session>(ctx, std::move(c))->Start(); };
  svc.on_trigger = [](server::Context& ctx, std::string_view req) { log::Info("wakeup request \"{}\"", req); };
  return server::Run("testd", argc, argv, std::move(svc));
}
