// queue/ids.h — smtpctl's identifiers: a message id is a random non-zero
// 32-bit number (%08x); an envelope id is msgid << 32 | random non-zero 32 bits (%016x).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace postern::queue {

using MsgId = uint32_t;
using EnvId = uint64_t;

MsgId RandomMsgId();                          // never 0
EnvId MakeEnvId(MsgId msg, uint32_t low);     // low must be non-zero
uint32_t RandomLow32();                       // never 0
inline MsgId MsgOf(EnvId e) { return static_cast<MsgId>(e >> 32); }

std::string FormatMsgId(MsgId id);   // 8 lower-case hex digits
std::string FormatEnvId(EnvId id);   // 16 lower-case hex digits

// Parses exactly 8 (message) or 16 (envelope) hex digits; nullopt otherwise.
std::optional<MsgId> ParseMsgId(std::string_view s);
std::optional<EnvId> ParseEnvId(std::string_view s);
// smtpctl's "ID" argument: 8 digits name a message, 16 an envelope. A value
// that fits in 32 bits is therefore a message id (an envelope id never does).
std::optional<uint64_t> ParseAnyId(std::string_view s);
inline bool IsMsgId(uint64_t id) { return id != 0 && id <= 0xffffffffULL; }

}  // namespace postern::queue
