// ipc/control.h — the control channel behind `postern show|pause|...`: a framed
// request/response protocol, the runtime state master hands every worker, and
// the per-process handler table commands plug into.
//
// Design (read this before adding a command)
// ------------------------------------------
// Path of a request:
//
//   postern (ctl) ──$queue_directory/public/control──▶ master
//        master ──worker control link──▶ qmgr          (queue commands)
//        master ──worker control link──▶ every worker   (sessions, tables, ...)
//
// * The socket $queue_directory/public/control is master's: mode 0600, owned by
//   the instance user (mail_owner when master runs as root). master checks the
//   caller with SO_PEERCRED: root or that user, anyone else is answered
//   "permission denied" (ctl prints `postern: permission denied`, exit 1).
// * Frames are ipc/frame.h frames whose payload starts with one kind byte;
//   all but 'S' then carry the u32 request id the requester chose:
//     'R' request   id, u32 word count, then per word u32 length + bytes
//     'T' text      id, one or more complete lines, each ending in '\n'
//                   (an empty one is a keep-alive: still working on it)
//     'E' end       id, u8 status (0 ok, 1 error), then the error text
//     'C' cancel    id; master → worker: the client went away, stop producing
//     'P' pause     id; master → worker: the client lags, produce nothing more
//                   for this request until 'U' (the other requests go on)
//     'U' unpause   id; master → worker: the client caught up
//     'S' state     master → worker: the new RuntimeState (its Encode())
//   A response is any number of 'T' frames and one 'E'. Nothing is ever
//   buffered whole: a handler that lists much (show queue on 100,000
//   envelopes) streams through Reply::Stream, which is called only while the
//   peer keeps up, and master pauses that one request while its client lags.
// * Every worker master starts gets its own control link: a socketpair end
//   inherited right after the status socket (server.h, option -k). Requests
//   on a link run at once, side by side (a `remove all` working through a
//   large queue in pages does not keep `show queue` waiting); their frames
//   interleave and the id says whose each is. A worker that sends nothing
//   for control_timeout while master waits for it is reported as not
//   answering (the client gets an error, the late answer is dropped); a
//   handler with a long silent task sends Reply::KeepAlive() now and then.
// * The words reaching a handler are whole (ctl expands abbreviations) and
//   include the command words: {"show", "queue", "--json"}.
//
// Handler tables: each process has one (ProcessTable()); an entry is the
// longest command-word prefix it answers. A command is added by one static
// Registration in a file of its own, compiled into the program that answers it:
//   master/control_*.cc   commands master answers (state changes: log, trace,
//                         set option, pause smtp) and relay entries, built
//                         with master::RelayToQmgr() / master::Broadcast()
//                         (master/control.h), which forward to the workers;
//   qmgr/control*.cc      commands qmgr answers (show queue, schedule, ...);
//   <worker>/control*.cc  commands any worker answers (show sessions).
// A worker entry is reached only through a master relay entry with the same
// words, so a new worker command needs both.
//
// Runtime state: master owns RuntimeState (paused smtp/mta/mda, log level,
// traces, profiles, option overrides). On every change it writes it to
// $queue_directory/pid/runtime (StatePath) and sends an 'S' frame to every
// live worker; a new worker reads the file at start, before its first client.
// The state survives `postern reload` except `options`, which reload clears;
// master start begins with an empty state. In a worker, server::Context::runtime
// holds the current state and server::Service::on_runtime hears changes.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "postern/config/maincf.h"
#include "postern/util/result.h"

namespace postern::ipc::control {

constexpr size_t kFrameMax = 1u << 20;    // any control frame
constexpr size_t kMaxWords = 64;          // per request
constexpr size_t kMaxWordLen = 4096;
constexpr size_t kTextChunk = 32u << 10;  // a 'T' frame is cut at about this size

enum class Kind : char {
  kRequest = 'R', kText = 'T', kEnd = 'E', kCancel = 'C', kPause = 'P', kUnpause = 'U', kState = 'S', kBad = 0
};
Kind KindOf(std::string_view payload);

// Payloads (wrap with AppendFrame). `id` is the request id of every frame
// but 'S' (ctl's one request uses 0).
std::string EncodeRequest(const std::vector<std::string>& words, uint32_t id = 0);
std::optional<std::vector<std::string>> DecodeRequest(std::string_view payload);
std::string EncodeText(std::string_view lines, uint32_t id = 0);
std::string_view DecodeText(std::string_view payload);  // payload must be a whole kText
struct End {
  bool ok = true;
  std::string error;
};
std::string EncodeEnd(const End& e, uint32_t id = 0);
std::optional<End> DecodeEnd(std::string_view payload);
std::string EncodeCancel(uint32_t id = 0);
std::string EncodePause(uint32_t id, bool pause);  // 'P' or 'U'
// The request id of any payload but 'S'; nullopt when too short.
std::optional<uint32_t> IdOf(std::string_view payload);

// What every worker must know of the operator's runtime decisions.
struct RuntimeState {
  bool pause_smtp = false;  // smtpd: accept no new sessions
  bool pause_mta = false;   // qmgr: dispatch nothing to non-local transports
  bool pause_mda = false;   // qmgr: dispatch nothing to local transports
  bool verbose = false;     // `log verbose`
  std::set<std::string> traces;    // `trace SUBSYSTEM`
  std::set<std::string> profiles;  // `profile SUBSYSTEM`
  std::map<std::string, std::string> options;  // `set option name=value`; reload clears
  std::string Encode() const;
  static std::optional<RuntimeState> Decode(std::string_view s);
  bool operator==(const RuntimeState&) const = default;
};
// $queue_directory/pid/runtime
std::string StatePath(const config::Config& cfg);
// A missing file is the empty state.
Result<RuntimeState> LoadState(const std::string& path);
// Written to a temporary file and renamed, so a reader never sees half.
Result<void> SaveState(const std::string& path, const RuntimeState& s);

// The handler's side of one response. Text is queued in frames; Finish/Fail
// end the response (once; later calls are ignored). A handler may answer
// later (after a queue walk or a relay) by keeping the shared_ptr.
class Reply {
 public:
  // write: frame bytes to send; backlog: bytes queued but not yet sent;
  // id: the request's, put in every frame of the response.
  Reply(std::function<void(std::string)> write, std::function<size_t()> backlog, uint32_t id = 0);
  void Line(std::string_view line);  // adds '\n'
  void Text(std::string_view text);  // complete lines, each with its '\n'
  // Streams: more(*this) is called while the peer keeps up; it adds some
  // lines and returns false when it has nothing more (it then calls Finish or
  // Fail, or the stream finishes ok).
  void Stream(std::function<bool(Reply&)> more);
  void Finish();
  void Fail(std::string_view error);
  // Tells the requester that the answer is still being worked on (an empty
  // text frame), for handlers that are silent for long (a paged `remove all`).
  void KeepAlive();
  bool done() const { return done_; }
  bool cancelled() const { return cancelled_; }
  // Output backlog at or above the high-water mark: a relay should stop
  // reading its source and wait for OnDrain.
  bool congested() const;
  // fn runs once, the next time the backlog falls below the mark.
  void OnDrain(std::function<void()> fn) { drain_ = std::move(fn); }
  // fn runs if the requester goes away before the end (a relay cancels).
  void OnCancel(std::function<void()> fn) { on_cancel_ = std::move(fn); }
  // The requester asks for a pause ('P') or for more ('U'): a paused reply
  // is congested whatever the backlog, so a stream produces nothing.
  void SetPaused(bool paused);
  // The transport calls these: output drained / the requester went away.
  void Pump();
  void Cancel();

 private:
  void Flush();
  void Conclude(const End& end);  // Finish and Fail
  std::function<void(std::string)> write_;
  std::function<size_t()> backlog_;
  uint32_t id_;
  std::function<bool(Reply&)> more_;
  std::function<void()> drain_, on_cancel_;
  std::string pending_;
  bool done_ = false, cancelled_ = false, pumping_ = false, paused_ = false;
};

struct Request {
  std::vector<std::string> words;  // the whole request
  size_t command_words = 0;        // how many name the matched command
  std::vector<std::string> Args() const {
    return {words.begin() + long(command_words), words.end()};
  }
};

using Handler = std::function<void(const Request&, std::shared_ptr<Reply>)>;

class Table {
 public:
  void Add(std::vector<std::string> words, Handler h);
  // The entry with the longest word prefix of `words`; nullptr when none.
  const Handler* Find(const std::vector<std::string>& words, size_t* consumed) const;
  // Runs the matching handler or answers "unknown command".
  void Dispatch(std::vector<std::string> words, std::shared_ptr<Reply> reply) const;

 private:
  std::map<std::vector<std::string>, Handler> entries_;
};

Table& ProcessTable();

// `static Registration r({"show", "queue"}, Handler);` in a program's file.
struct Registration {
  Registration(std::vector<std::string> words, Handler h) { ProcessTable().Add(std::move(words), std::move(h)); }
};

// Ids as smtpctl prints them: 8 hex digits a message, 16 an envelope.
struct IdArg {
  bool all = false;
  bool is_envelope = false;
  uint64_t id = 0;  // envelope id, or message id
};
// Parses "all" (when allowed), an 8-digit message id or a 16-digit envelope id.
Result<IdArg> ParseIdArg(std::string_view s, bool allow_all);

}  // namespace postern::ipc::control
