// queue/schema.cc — the binary encoding: a version byte, then fields in a
// fixed order; integers as LEB128 varints, strings as varint length + bytes.
#include "postern/queue/schema.h"

#include <limits>

namespace postern::queue {

namespace {

constexpr uint8_t kMessageVersion = 1;
constexpr uint8_t kMessageVersionPort = 2;  // version 1 + the client's TCP port (non-zero)
constexpr uint8_t kEnvelopeVersion = 1;
constexpr uint8_t kEnvelopeVersionFilter = 2;  // version 1 + the FILTER action's route

class Encoder {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void Var(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  // Times are signed; zigzag keeps small negatives short and lossless.
  void Time(int64_t t) { Var((static_cast<uint64_t>(t) << 1) ^ static_cast<uint64_t>(t >> 63)); }
  void Str(std::string_view s, size_t max) {
    if (s.size() > max) ok_ = false;
    Var(s.size());
    out_.append(s);
  }
  std::optional<std::string> Done() { return ok_ ? std::optional(std::move(out_)) : std::nullopt; }

 private:
  std::string out_;
  bool ok_ = true;
};

class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) {}
  bool U8(uint8_t* v) {
    if (in_.empty()) return false;
    *v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool Var(uint64_t* v) {
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b;
      if (!U8(&b)) return false;
      r |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        *v = r;
        return true;
      }
    }
    return false;
  }
  template <class I>
  bool Int(I* v) {
    uint64_t r;
    if (!Var(&r) || r > std::numeric_limits<I>::max()) return false;
    *v = static_cast<I>(r);
    return true;
  }
  bool Time(int64_t* t) {
    uint64_t z;
    if (!Var(&z)) return false;
    *t = static_cast<int64_t>((z >> 1) ^ (~(z & 1) + 1));
    return true;
  }
  bool Str(std::string* s, size_t max) {
    uint64_t n;
    if (!Var(&n) || n > max || n > in_.size()) return false;
    s->assign(in_.substr(0, n));
    in_.remove_prefix(n);
    return true;
  }
  bool AtEnd() const { return in_.empty(); }

 private:
  std::string_view in_;
};

bool ParseStateByte(uint8_t b) { return b >= 1 && b <= 5; }

}  // namespace

const char* StateName(State s) {
  switch (s) {
    case State::kIncoming: return "incoming";
    case State::kActive: return "active";
    case State::kDeferred: return "deferred";
    case State::kHold: return "hold";
    case State::kCorrupt: return "corrupt";
  }
  return "unknown";
}

std::optional<State> ParseState(std::string_view name) {
  for (State s : kAllStates) {
    if (name == StateName(s)) return s;
  }
  return std::nullopt;
}

std::optional<std::string> EncodeMessage(const MessageRecord& m) {
  Encoder e;
  e.U8(m.client_port ? kMessageVersionPort : kMessageVersion);
  e.Str(m.sender, kMaxAddress);
  e.Time(m.arrival);
  e.Var(m.size);
  e.Str(m.client_name, kMaxAttr);
  e.Str(m.client_addr, kMaxAttr);
  e.Str(m.helo, kMaxAttr);
  e.Str(m.protocol, kMaxAttr);
  e.Str(m.auth_user, kMaxAttr);
  e.Str(m.dsn_envid, kMaxAttr);
  e.U8(static_cast<uint8_t>(m.dsn_ret));
  e.Var(m.flags);
  e.Var(m.nrcpt);
  if (m.client_port) e.Var(m.client_port);
  return e.Done();
}

std::optional<MessageRecord> DecodeMessage(MsgId id, std::string_view value) {
  Decoder d(value);
  MessageRecord m;
  m.id = id;
  uint8_t version = 0, ret = 0;
  bool ok = d.U8(&version) && (version == kMessageVersion || version == kMessageVersionPort) &&
            d.Str(&m.sender, kMaxAddress) &&
            d.Time(&m.arrival) && d.Var(&m.size) && d.Str(&m.client_name, kMaxAttr) &&
            d.Str(&m.client_addr, kMaxAttr) && d.Str(&m.helo, kMaxAttr) &&
            d.Str(&m.protocol, kMaxAttr) && d.Str(&m.auth_user, kMaxAttr) &&
            d.Str(&m.dsn_envid, kMaxAttr) && d.U8(&ret) && ret <= 2 && d.Int(&m.flags) &&
            d.Int(&m.nrcpt) &&
            (version == kMessageVersion || (d.Int(&m.client_port) && m.client_port != 0)) && d.AtEnd();
  if (!ok) return std::nullopt;
  m.dsn_ret = static_cast<DsnRet>(ret);
  return m;
}

std::optional<std::string> EncodeEnvelope(const Envelope& v) {
  Encoder e;
  e.U8(v.filter.empty() ? kEnvelopeVersion : kEnvelopeVersionFilter);
  e.Str(v.recipient, kMaxAddress);
  e.Str(v.orig_recipient, kMaxAddress);
  e.U8(v.notify);
  e.U8(static_cast<uint8_t>(v.state));
  e.Var(v.owner_pid);
  e.Var(v.owner_start);
  e.Var(v.attempts);
  e.Str(v.last_error, kMaxError);
  e.Time(v.created);
  e.Time(v.next_attempt);
  e.Time(v.expiry);
  e.Time(v.last_attempt);
  e.Str(v.transport, kMaxAttr);
  e.Str(v.nexthop, kMaxAttr);
  if (!v.filter.empty()) e.Str(v.filter, kMaxAttr);
  return e.Done();
}

std::optional<Envelope> DecodeEnvelope(EnvId id, std::string_view value) {
  Decoder d(value);
  Envelope v;
  v.id = id;
  uint8_t version = 0, state = 0;
  bool ok = d.U8(&version) && (version == kEnvelopeVersion || version == kEnvelopeVersionFilter) &&
            d.Str(&v.recipient, kMaxAddress) &&
            d.Str(&v.orig_recipient, kMaxAddress) && d.U8(&v.notify) && d.U8(&state) &&
            ParseStateByte(state) && d.Int(&v.owner_pid) && d.Var(&v.owner_start) &&
            d.Int(&v.attempts) && d.Str(&v.last_error, kMaxError) && d.Time(&v.created) &&
            d.Time(&v.next_attempt) && d.Time(&v.expiry) && d.Time(&v.last_attempt) &&
            d.Str(&v.transport, kMaxAttr) && d.Str(&v.nexthop, kMaxAttr) &&
            (version == kEnvelopeVersion || (d.Str(&v.filter, kMaxAttr) && !v.filter.empty())) && d.AtEnd();
  if (!ok) return std::nullopt;
  v.state = static_cast<State>(state);
  return v;
}

void AppendBE(std::string* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t LoadBE(std::string_view bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < bytes.size() && i < 8; ++i) v = v << 8 | static_cast<unsigned char>(bytes[i]);
  return v;
}

std::string MsgKey(MsgId id) {
  std::string k;
  AppendBE(&k, id, 4);
  return k;
}

std::string EnvKey(EnvId id) {
  std::string k;
  AppendBE(&k, id, 8);
  return k;
}

std::string SchedKey(int64_t when, EnvId id) {
  std::string k;
  // Times before 1970 do not occur in a queue; clamp so byte order stays time order.
  AppendBE(&k, when < 0 ? 0 : static_cast<uint64_t>(when), 8);
  AppendBE(&k, id, 8);
  return k;
}

std::string StateKey(State s, EnvId id) {
  std::string k(1, static_cast<char>(s));
  AppendBE(&k, id, 8);
  return k;
}

}  // namespace postern::queue
