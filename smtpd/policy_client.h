// smtpd/policy_client.h — the client side of check_policy_service on smtpd's
// loop: one connection per policy service per process, reused for requests
// one after another, with Postfix's timeout, idle, ttl, request and try limits.
#pragma once

#include <uv.h>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "postern/event/event.h"
#include "postern/net/connect.h"
#include "smtpd/policy_proto.h"

namespace postern::smtpd::policy {

class Client {
 public:
  // The server's action, or the service's default_action when it could not
  // give one (timeout, closed connection, no action=).
  using Done = std::function<void(std::string action)>;
  Client(uv_loop_t* loop, ServiceSpec spec);
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Queues a request; done runs on the loop, never inside Query.
  void Query(Attributes attrs, Done done);
  const ServiceSpec& spec() const { return spec_; }

 private:
  struct Request {
    std::string text;
    Done done;
    long long tries = 0;
  };
  void Next();
  void Connect();
  void Send();
  void OnData(std::string_view data);
  void Fail(const std::string& why);
  void Finish(std::string action);
  void Drop();  // closes the connection
  void ArmIdle();

  uv_loop_t* loop_;
  ServiceSpec spec_;
  std::string name_;  // as Postfix names the server in its warnings
  std::optional<std::pair<dns::IpAddress, uint16_t>> target_;  // inet: once looked up
  net::Connector connector_;
  std::unique_ptr<event::Stream> conn_;
  std::chrono::steady_clock::time_point conn_since_;
  long long conn_requests_ = 0;
  event::LineBuffer lines_{kMaxReplyLine};
  ReplyParser reply_;
  std::deque<Request> queue_;
  bool busy_ = false;  // the front request is being connected, sent or waited for
  event::Timer timer_;  // request timeout, retry delay
  event::Timer idle_;   // max_idle
  event::Timer kick_;   // runs Next() on a later loop turn
};

// The clients of one smtpd process, one per distinct check_policy_service argument.
class Clients {
 public:
  explicit Clients(uv_loop_t* loop) : loop_(loop) {}
  Client& Get(const ServiceSpec& spec, const std::string& key);

 private:
  uv_loop_t* loop_;
  std::map<std::string, std::unique_ptr<Client>> clients_;
};

}  // namespace postern::smtpd::policy
