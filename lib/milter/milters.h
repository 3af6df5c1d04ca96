// milter/milters.h — the milters of one SMTP session (or one local
// submission), in the configured order: each event goes to one milter after
// the other until one gives a final answer; at end of message each milter in
// turn sees the message as the milters before it left it (as in Postfix).
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "postern/milter/client.h"
#include "postern/milter/message.h"
#include "postern/milter/spec.h"

namespace postern::milter {

class Milters {
 public:
  using Done = std::function<void(Outcome)>;
  // macros: the value of each named macro the session knows (unknown names left out).
  // specs: settings->smtpd or settings->non_smtpd.
  Milters(uv_loop_t* loop, std::shared_ptr<const Settings> settings, const std::vector<Spec>& specs,
          Client::MacroFn macros);
  Milters(const Milters&) = delete;
  Milters& operator=(const Milters&) = delete;

  // Opens every milter, then reports the connection. family: '4', '6', 'L', 'U'.
  void Connect(std::string host, char family, uint16_t port, std::string addr, Done done);
  void Helo(const std::string& name, Done done);
  // args[0] is the address in <>, then the ESMTP parameters.
  void Mail(const std::vector<std::string>& args, Done done);
  void Rcpt(const std::vector<std::string>& args, Done done);
  void Data(Done done);
  void Unknown(const std::string& line, Done done);
  // The message (headers, body) through every milter; edits are applied to
  // *m and collected in *env. Outcome::quarantine gathers every hold request.
  void Content(Message* m, EnvelopeEdits* env, Done done);
  void Abort();
  void Quit();

 private:
  struct Run;
  struct ContentRun;
  void Each(Event ev, Done done);
  void Step(std::shared_ptr<Run> run);
  void ContentStep(std::shared_ptr<ContentRun> run);
  bool ContentReply(ContentRun& run, const Client& c, Outcome o);  // false: the run ended
  bool NextContentEvent(ContentRun& run, Event* ev);
  const std::vector<std::string>& Names(Stage s) const;

  uv_loop_t* loop_;
  std::shared_ptr<const Settings> settings_;
  Client::MacroFn macros_;
  std::vector<std::unique_ptr<Client>> clients_;
};

}  // namespace postern::milter
