// tests/system/qsink.cc — a test-only delivery agent for the qmgr tests: speaks
// the delivery protocol (ipc/delivery.h) and answers each recipient from a
// rules file, recording every request (with the number of the qmgr connection it
// came on, counted per process) so tests can see order, parallelism and reuse.
//   master.cf: NAME unix - - n - MAXPROC qsink RULES_FILE RECORD_FILE
// Rules (re-read per request, first match wins, default "sent"):
//   sleep MS                     wait before answering
//   GLOB sent|defer|bounce|sitefail|crash [text]
// sitefail defers with relay=none (no server reached); crash exits after the
// results of the recipients before it, without the end frame.
#include <fcntl.h>
#include <fnmatch.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "postern/event/event.h"
#include "postern/ipc/delivery.h"
#include "postern/ipc/frame.h"
#include "postern/log/log.h"
#include "postern/server/delivery_conn.h"
#include "postern/server/server.h"

using namespace postern;

namespace {

struct Rule {
  std::string glob, action, text;
};

struct Rules {
  long sleep_ms = 0;
  std::vector<Rule> rules;
};

Rules Load(const std::string& path) {
  Rules r;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream s(line);
    std::string a, b;
    if (!(s >> a >> b) || a[0] == '#') continue;
    if (a == "sleep") {
      r.sleep_ms = std::stol(b);
      continue;
    }
    std::string text;
    std::getline(s, text);
    if (!text.empty() && text[0] == ' ') text.erase(0, 1);
    r.rules.push_back({a, b, text});
  }
  return r;
}

std::string Hex(uint32_t id) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", id);
  return buf;
}

long long NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

void Record(const std::string& path, const std::string& line) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return;
  (void)!::write(fd, line.data(), line.size());
  ::close(fd);
}

// One request on qmgr's connection (server::DeliveryConn carries the next).
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(server::Context& ctx, std::shared_ptr<server::DeliveryConn> conn, ipc::DeliveryRequest req, int conn_no)
      : ctx_(ctx), conn_(std::move(conn)), timer_(ctx.loop), req_(std::move(req)), conn_no_(conn_no) {}

  void Start() {
    rules_ = Load(ctx_.args.at(0));
    Record(ctx_.args.at(1), "start " + std::to_string(getpid()) + " " + Hex(req_.message_id) + " " +
                                req_.transport + " " + req_.nexthop + " " + std::to_string(req_.recipients.size()) +
                                " " + std::to_string(NowMs()) + " " + std::to_string(conn_no_) + "\n");
    auto self = shared_from_this();
    timer_.Start(static_cast<uint64_t>(rules_.sleep_ms), 0, [self] { self->Answer(); });
  }

  const Rule* Match(const std::string& rcpt) const {
    for (const Rule& r : rules_.rules) {
      if (fnmatch(r.glob.c_str(), rcpt.c_str(), 0) == 0) return &r;
    }
    return nullptr;
  }

  void Answer() {
    std::string record;
    std::vector<ipc::DeliveryResult> out;
    for (const auto& rc : req_.recipients) {
      const Rule* rule = Match(rc.address);
      std::string action = rule ? rule->action : "sent";
      std::string text = rule && !rule->text.empty() ? rule->text : action;
      if (action == "crash") {
        // Whatever was answered so far reaches qmgr; then the agent dies.
        for (const auto& r : out) conn_->Result(r);
        Record(ctx_.args.at(1), record + "crash " + std::to_string(getpid()) + "\n");
        timer_.Start(50, 0, [self = shared_from_this()] { ::_exit(3); });  // we live until then
        return;
      }
      ipc::DeliveryResult r;
      r.envelope_id = rc.envelope_id;
      r.relay = "sink[127.0.0.1]:25";
      if (action == "defer") {
        r.status = ipc::DeliveryStatus::kDeferred;
        r.dsn = "4.0.0";
      } else if (action == "sitefail") {
        r.status = ipc::DeliveryStatus::kDeferred;
        r.dsn = "4.4.1";
        r.relay = "none";
      } else if (action == "bounce") {
        r.status = ipc::DeliveryStatus::kBounced;
        r.dsn = "5.1.1";
      } else {
        r.status = ipc::DeliveryStatus::kSent;
        r.dsn = "2.0.0";
        record += "sent " + Hex(req_.message_id) + " " + rc.address + "\n";
      }
      r.reason = text;
      static const char* const kStatus[] = {"sent", "deferred", "bounced"};
      const char* status = r.status == ipc::DeliveryStatus::kSent       ? kStatus[0]
                           : r.status == ipc::DeliveryStatus::kDeferred ? kStatus[1]
                                                                        : kStatus[2];
      log::Info("{}: to=<{}>, relay={}, dsn={}, status={} ({})", Hex(req_.message_id), rc.address, r.relay, r.dsn,
                status, text);
      out.push_back(std::move(r));
    }
    Record(ctx_.args.at(1), record + "end " + std::to_string(getpid()) + " " + Hex(req_.message_id) + " " +
                                std::to_string(NowMs()) + "\n");
    conn_->Finish(out);
  }

  server::Context& ctx_;
  std::shared_ptr<server::DeliveryConn> conn_;
  event::Timer timer_;
  ipc::DeliveryRequest req_;
  int conn_no_;
  Rules rules_;
};

}  // namespace

int main(int argc, char** argv) {
  server::Service svc;
  svc.kind = server::Kind::kSingle;
  svc.init = [](server::Context& ctx) -> Result<void> {
    if (ctx.args.size() != 2) return Err("usage: qsink RULES_FILE RECORD_FILE");
    return {};
  };
  svc.on_client = [](server::Context& ctx, server::Client c) {
    static int connections = 0;
    server::DeliveryConn::Serve(std::move(c), [&ctx, n = ++connections](std::shared_ptr<server::DeliveryConn> conn,
                                                                         ipc::DeliveryRequest req) {
      std::make_shared<Session>(ctx, std::move(conn), std::move(req), n)->Start();
    });
  };
  return server::Run("qsink", argc, argv, std::move(svc));
}
