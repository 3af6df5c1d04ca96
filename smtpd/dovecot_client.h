// smtpd/dovecot_client.h — smtpd's connection to Dovecot's auth server
// (smtpd_sasl_type = dovecot) on the process's loop: one connection per
// process, shared by all sessions, reconnected when it drops.
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "postern/event/event.h"
#include "postern/net/connect.h"
#include "smtpd/dovecot_proto.h"

namespace postern::smtpd::dovecot {

class Client {
 public:
  // An answer to one AUTH exchange. kTempFail: Dovecot said "temp", or the
  // connection failed or dropped.
  struct Answer {
    enum class Kind { kOk, kFail, kTempFail, kCont };
    Kind kind = Kind::kTempFail;
    std::string data, user, reason;
  };
  using Done = std::function<void(Answer)>;

  // endpoint: an absolute socket path, or inet:host:port.
  Client(uv_loop_t* loop, std::string endpoint);
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Connects unless connected, connecting, or a failed try was less than a
  // second ago (a down Dovecot is not hammered by every EHLO).
  void Connect();
  bool ready() const { return state_ == State::kReady; }
  bool connecting() const { return state_ == State::kConnecting; }
  // The mechanisms of the last handshake (kept while Dovecot is down);
  // nullopt before any handshake succeeded.
  const std::optional<std::vector<Mechanism>>& mechanisms() const { return mechs_; }
  // Runs cb once the connection is ready or has failed (at once if it is
  // not connecting); connects first when it is down.
  void WhenSettled(std::function<void()> cb);

  // Starts an exchange (r.id is set here); done runs for every reply: CONT
  // (send Continue), then OK or FAIL. Not ready: done(kTempFail) later.
  unsigned Start(AuthRequest r, Done done);
  void Continue(unsigned id, std::string_view response);
  // The session went away or gave up: its answers are dropped.
  void Forget(unsigned id) { pending_.erase(id); }

 private:
  enum class State { kDown, kConnecting, kReady };
  struct Pending {
    Done done;
    bool awaiting = false;  // a request is out and its reply not in
  };
  void OnConnected(std::unique_ptr<event::Stream> s);
  void OnData(std::string_view data);
  void OnLine(const std::string& line);
  void Settle();
  void Fail(const std::string& why);
  void Send(unsigned id, std::string text);
  void FailLater(unsigned id);  // answers kTempFail on a later loop turn

  uv_loop_t* loop_;
  std::string endpoint_;
  State state_ = State::kDown;
  std::chrono::steady_clock::time_point last_try_{};
  net::Connector connector_;
  std::unique_ptr<event::Stream> conn_;
  event::LineBuffer lines_;
  Handshake handshake_;
  std::optional<std::vector<Mechanism>> mechs_;
  std::vector<std::function<void()>> waiters_;
  std::map<unsigned, Pending> pending_;
  unsigned next_id_ = 0;
  event::Timer timer_;  // connect + handshake, then each request's reply
  std::vector<unsigned> doomed_;  // FailLater's ids
  event::Timer kick_;   // answers on a later loop turn, never inside Start
};

}  // namespace postern::smtpd::dovecot
