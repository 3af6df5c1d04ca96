// milter/client.h — one milter connection of one SMTP session, on the
// caller's libuv loop: connect, option negotiation, then one event at a time
// with Postfix's per-milter state (accept/reject for the connection or the
// message, SMFIR_SKIP, persistent default action after an error).
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "postern/event/event.h"
#include "postern/milter/protocol.h"
#include "postern/milter/spec.h"
#include "postern/net/connect.h"

namespace postern::milter {

using MacroValues = std::vector<std::pair<std::string, std::string>>;

// What one event came to, in Postfix's terms.
struct Outcome {
  enum class Kind { kContinue, kReply, kDiscard, kShutdown };
  Kind kind = Kind::kContinue;
  std::string reply;        // kReply: "550 5.7.1 Command rejected" (multi-line: CRLF between lines)
  std::string quarantine;   // non-empty: hold the message (SMFIR_QUARANTINE's reason, or "default_action")
  std::vector<Edit> edits;  // end of message: the modifications, in the order given
  bool final() const { return kind != Kind::kContinue; }
};

// One event to send: its packet, the SMFIP_NO* bit that says the filter does
// not want it and the SMFIP_NR_* bit that says it will not reply.
struct Event {
  char code = 0;
  std::string packet;
  uint32_t no_send = 0, no_reply = 0;
  Stage stage = Stage::kConnect;  // whose macros go before it
  bool has_macros = false;        // this event carries a SMFIC_MACRO
  bool content = false;           // header/body/EOB: milter_content_timeout applies
};

class Client {
 public:
  using MacroFn = std::function<MacroValues(const std::vector<std::string>& names)>;
  using Done = std::function<void(Outcome)>;

  Client(uv_loop_t* loop, const Spec& spec);
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();

  // Connects and negotiates; done runs once (also on failure: the
  // milter then answers every event with its default action).
  void Open(std::function<void()> done);
  // Sends the event (and the macros of its stage, from macros()), waits for
  // the reply unless none is due. done may run before Send returns.
  void Send(const Event& ev, const std::vector<std::string>& stage_macros, const MacroFn& macros, Done done);
  // A new transaction: SMFIC_ABORT when the filter is in one (no reply).
  void Abort();
  // End of the SMTP session: SMFIC_QUIT, then close.
  void Quit();

  const Spec& spec() const { return spec_; }
  uint32_t protocol() const { return ev_mask_; }
  // The filter's own macro list for a stage (from negotiation), or nullptr.
  const std::string* MacroOverride(Stage s) const;
  bool usable() const;  // neither failed nor done with this connection

 private:
  enum class State { kClosed, kReady, kEnvelope, kMessage, kAcceptCon, kAcceptMsg, kRejectCon, kError };
  void OnConnected(Result<std::unique_ptr<event::Stream>> s);
  void OnData(std::string_view data);
  void OnEnd(int status);
  void OnPacket(Packet p);
  void OnOptneg(const Packet& p);
  void OnReply(Packet p);
  bool OnEdit(Packet p);
  void Finish(Outcome o);
  void Wait(char event, uint64_t timeout_ms);
  void CommError(const std::string& why);  // logs, closes, sets the default action
  void ConfError(const std::string& why);
  void Close();
  Outcome Default() const;  // the persistent reply after an error or a connection-level decision

  uv_loop_t* loop_;
  Spec spec_;
  State state_ = State::kClosed;
  net::Connector connector_;
  std::unique_ptr<event::Stream> stream_;
  PacketReader reader_;
  event::Timer timer_;
  Negotiated neg_;
  uint32_t ev_mask_ = 0;  // what the filter negotiated (SMFIP_*)
  uint32_t np_mask_ = 0;  // events outside the negotiated protocol version
  char skip_event_ = 0;   // SMFIR_SKIP: further events of this type are not sent
  std::string def_reply_; // non-empty after an error or a connection-level reject
  bool def_discard_ = false;
  std::string def_quarantine_;
  // The event waiting for its reply.
  char waiting_ = 0;
  uint64_t wait_ms_ = 0;
  Outcome pending_;
  Done done_;
  std::function<void()> open_done_;
};

}  // namespace postern::milter
