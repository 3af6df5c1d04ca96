// smtpd/sessions.h — this process's registry of live SMTP sessions, for the
// control commands `show sessions` and `kill session ID` (answered here, in
// every smtpd worker), the session counters of the statistics store, and the
// dialogue lines of `log verbose` / `trace smtp`. A Session holds one Entry.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace postern::smtpd::sessions {

class Entry {
 public:
  // name and addr belong to the session and live as long as it.
  Entry(const std::string* name, const std::string* addr);
  ~Entry();
  Entry(const Entry&) = delete;
  Entry& operator=(const Entry&) = delete;

  // The connection is known: counts the session (smtp.session, by family)
  // and says how an administrator's kill ends it.
  void Started(bool local, std::function<void()> kill);
  void Read(size_t n);
  void Wrote(size_t n);
  // A command line from the client (the session's state becomes its verb);
  // logged in verbose mode or with trace smtp, AUTH arguments masked.
  void Command(std::string_view verb, std::string_view line);
  // One reply line (`more`: a line of a multi-line reply, "250-...").
  void Reply(int code, std::string_view enhanced, std::string_view text, bool more = false);
  // "COMMIT" starts the clock of the profile queue line that Committed writes.
  void State(std::string_view state);
  void Committed(bool ok, size_t recipients);
  // debug_peer_list: this session's dialogue is logged whatever the log level.
  void SetDebug(bool on) { debug_ = on; }

  uint64_t id() const { return id_; }

 private:
  friend struct Lister;
  bool Dialogue() const;
  uint64_t id_;
  const std::string* name_;
  const std::string* addr_;
  std::string state_ = "CONNECT";
  std::chrono::steady_clock::time_point start_, last_, commit_;
  uint64_t in_ = 0, out_ = 0;
  bool debug_ = false;
  std::function<void()> kill_;
};

// Sessions open in this process now.
size_t Active();
// Every live session by id (sessions_control.cc lists and kills them).
std::map<uint64_t, Entry*>& Registry();

}  // namespace postern::smtpd::sessions
