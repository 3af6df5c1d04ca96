// smtpd/sessions.cc — the session registry (see sessions.h): ids, states,
// octet counts, the dialogue lines and the session counters.
#include "smtpd/sessions.h"

#include <fmt/format.h>

#include <map>
#include <random>

#include "postern/log/log.h"
#include "postern/stats/recorder.h"
#include "postern/util/strings.h"

namespace postern::smtpd::sessions {

std::map<uint64_t, Entry*>& Registry() {
  static std::map<uint64_t, Entry*> r;
  return r;
}

namespace {

uint64_t NewId() {
  static std::mt19937_64 rng{std::random_device{}()};
  uint64_t id;
  do id = rng(); while (id == 0 || Registry().count(id));
  return id;
}

}  // namespace

Entry::Entry(const std::string* name, const std::string* addr)
    : id_(NewId()), name_(name), addr_(addr), start_(std::chrono::steady_clock::now()), last_(start_) {
  Registry()[id_] = this;
}

Entry::~Entry() {
  Registry().erase(id_);
  stats::Count("smtp.session.closed");
}

void Entry::Started(bool local, std::function<void()> kill) {
  kill_ = std::move(kill);
  stats::Count("smtp.session");
  stats::Count(local ? "smtp.session.local"
                     : addr_->find(':') != std::string::npos ? "smtp.session.inet6" : "smtp.session.inet4");
}

void Entry::Read(size_t n) {
  in_ += n;
  last_ = std::chrono::steady_clock::now();
  log::Trace("io", "{}[{}]: read {} bytes", *name_, *addr_, n);
}

void Entry::Wrote(size_t n) {
  out_ += n;
  log::Trace("io", "{}[{}]: write {} bytes", *name_, *addr_, n);
}

bool Entry::Dialogue() const { return debug_ || log::GetLevel() == log::Level::kVerbose || log::Tracing("smtp"); }

void Entry::Command(std::string_view verb, std::string_view line) {
  state_ = std::string(verb);
  if (!Dialogue()) return;
  // Never log credentials: AUTH's argument may carry an initial response.
  if (EqualsIgnoreCase(verb, "AUTH") && line.size() > 4) {
    auto sp = line.find(' ', 5);
    line = line.substr(0, sp);
  }
  log::Info("< {}[{}]: {}", *name_, *addr_, line);
}

void Entry::Reply(int code, std::string_view enhanced, std::string_view text, bool more) {
  if (!Dialogue()) return;
  char sep = more ? '-' : ' ';
  if (enhanced.empty()) log::Info("> {}[{}]: {}{}{}", *name_, *addr_, code, sep, text);
  else log::Info("> {}[{}]: {}{}{} {}", *name_, *addr_, code, sep, enhanced, text);
}

void Entry::State(std::string_view state) {
  state_ = std::string(state);
  if (state == "COMMIT") commit_ = std::chrono::steady_clock::now();
}

void Entry::Committed(bool ok, size_t recipients) {
  if (log::Profiling("queue"))
    log::Info("profile: queue: commit of a message from {}[{}] took {} us ({})", *name_, *addr_,
              std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - commit_).count(),
              ok ? "ok" : "failed");
  if (!ok) return;
  stats::Count("smtp.message");
  stats::Count("smtp.recipient", recipients);
}

size_t Active() { return Registry().size(); }

}  // namespace postern::smtpd::sessions
