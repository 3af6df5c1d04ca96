// smtpd/policy_client.cc — connection reuse, timeouts and retries of the
// policy delegation client; see policy_client.h.
#include "smtpd/policy_client.h"

#include "postern/log/log.h"
#include "postern/util/strings.h"

namespace postern::smtpd::policy {

namespace {

uint64_t Ms(std::chrono::milliseconds d) { return uint64_t(d.count()); }

}  // namespace

Client::Client(uv_loop_t* loop, ServiceSpec spec)
    : loop_(loop), spec_(std::move(spec)), connector_(loop), timer_(loop), idle_(loop), kick_(loop) {
  name_ = spec_.endpoint.substr(spec_.endpoint.find(':') + 1);
}

void Client::Query(Attributes attrs, Done done) {
  queue_.push_back({EncodeRequest(attrs), std::move(done), 0});
  if (!busy_) kick_.Start(0, 0, [this] { Next(); });
}

void Client::Next() {
  if (busy_ || queue_.empty()) return;
  busy_ = true;
  idle_.Stop();
  bool expired = conn_ && ((spec_.request_limit > 0 && conn_requests_ >= spec_.request_limit) ||
                           std::chrono::steady_clock::now() - conn_since_ >= spec_.max_ttl);
  if (expired) Drop();
  if (conn_) return Send();
  Connect();
}

void Client::Connect() {
  auto done = [this](Result<std::unique_ptr<event::Stream>> s) {
    if (!s) return Fail(s.error());
    conn_ = std::move(*s);
    conn_since_ = std::chrono::steady_clock::now();
    conn_requests_ = 0;
    lines_ = event::LineBuffer(kMaxReplyLine);
    conn_->ReadStart([this](std::string_view d) { OnData(d); },
                     [this](int status) {
                       std::string why = status == UV_EOF ? "lost connection" : uv_strerror(status);
                       if (busy_) return Fail(why);
                       Drop();  // the server closed an idle connection: the next request reconnects
                     });
    Send();
  };
  if (StartsWith(spec_.endpoint, "unix:"))
    return connector_.Unix(spec_.endpoint.substr(5), Ms(spec_.timeout), std::move(done));
  if (!target_) {
    auto t = net::ResolveHostPort(std::string_view(spec_.endpoint).substr(5));
    if (!t) return Fail(t.error());
    target_ = *t;
  }
  connector_.Tcp(target_->first, target_->second, nullptr, Ms(spec_.timeout), std::move(done));
}

void Client::Send() {
  reply_ = ReplyParser();
  ++conn_requests_;
  conn_->Write(queue_.front().text);
  timer_.Start(Ms(spec_.timeout), 0, [this] { Fail("Connection timed out"); });
}

void Client::OnData(std::string_view data) {
  if (!busy_) return Drop();  // unasked-for bytes: the connection is out of step
  lines_.Feed(data);
  std::string line;
  bool truncated = false;
  while (lines_.Next(&line, &truncated)) {
    if (truncated || (reply_.Feed(line) && reply_.lines() > kMaxReplyLines)) {
      Drop();
      return Fail("reply too long");
    }
    if (!reply_.done()) continue;
    if (reply_.action().empty()) {
      Drop();  // out of step, or not a policy server at all
      log::Warning("problem talking to server {}: reply without action=", name_);
      return Finish(spec_.default_action);
    }
    if (lines_.pending() > 0) Drop();  // more than one reply: out of step
    return Finish(reply_.action());
  }
}

void Client::Fail(const std::string& why) {
  Drop();
  timer_.Stop();
  Request& r = queue_.front();
  if (++r.tries < spec_.try_limit) {
    timer_.Start(Ms(spec_.retry_delay), 0, [this] { Connect(); });
    return;
  }
  log::Warning("problem talking to server {}: {}", name_, why);
  Finish(spec_.default_action);
}

void Client::Finish(std::string action) {
  timer_.Stop();
  Done done = std::move(queue_.front().done);
  queue_.pop_front();
  busy_ = false;
  if (conn_) ArmIdle();
  if (!queue_.empty()) kick_.Start(0, 0, [this] { Next(); });
  done(std::move(action));  // may queue the next request
}

void Client::Drop() {
  connector_.Cancel();
  conn_.reset();
  idle_.Stop();
}

void Client::ArmIdle() {
  idle_.Start(Ms(spec_.max_idle), 0, [this] { Drop(); });
}

Client& Clients::Get(const ServiceSpec& spec, const std::string& key) {
  auto& c = clients_[key];
  if (!c) c = std::make_unique<Client>(loop_, spec);
  return *c;
}

}  // namespace postern::smtpd::policy
