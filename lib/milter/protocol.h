// milter/protocol.h — the Sendmail milter protocol (version 6, as Postfix's
// milter8 speaks it): packet framing, the MTA's command packets and the
// filter's replies. Pure: no I/O; every length read from a filter is bounded.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "postern/util/result.h"

namespace postern::milter {

// Commands from the MTA to the filter (SMFIC_*).
namespace cmd {
inline constexpr char kAbort = 'A', kBody = 'B', kConnect = 'C', kMacro = 'D', kBodyEob = 'E', kHelo = 'H',
                      kHeader = 'L', kMail = 'M', kEoh = 'N', kOptneg = 'O', kQuit = 'Q', kRcpt = 'R', kData = 'T',
                      kUnknown = 'U';
}  // namespace cmd

// Replies from the filter (SMFIR_*).
namespace rep {
inline constexpr char kAddRcpt = '+', kDelRcpt = '-', kAccept = 'a', kReplBody = 'b', kContinue = 'c',
                      kDiscard = 'd', kConnFail = 'f', kChgHeader = 'm', kProgress = 'p', kReject = 'r',
                      kTempfail = 't', kShutdown = '4', kAddHeader = 'h', kInsHeader = 'i', kReplyCode = 'y',
                      kQuarantine = 'q', kSkip = 's', kChgFrom = 'e', kAddRcptPar = '2', kSetSymList = 'l';
}  // namespace rep

// Protocol steps (SMFIP_*): events the filter does not want, replies it will not send.
enum : uint32_t {
  kNoConnect = 1u << 0, kNoHelo = 1u << 1, kNoMail = 1u << 2, kNoRcpt = 1u << 3, kNoBody = 1u << 4,
  kNoHdrs = 1u << 5, kNoEoh = 1u << 6, kNrHdr = 1u << 7, kNoUnknown = 1u << 8, kNoData = 1u << 9,
  kSkip = 1u << 10, kRcptRej = 1u << 11, kNrConn = 1u << 12, kNrHelo = 1u << 13, kNrMail = 1u << 14,
  kNrRcpt = 1u << 15, kNrData = 1u << 16, kNrUnkn = 1u << 17, kNrEoh = 1u << 18, kNrBody = 1u << 19,
  kHdrLeadSpc = 1u << 20,
};
inline constexpr uint32_t kNoSendMask = kNoConnect | kNoHelo | kNoMail | kNoRcpt | kNoBody | kNoHdrs | kNoEoh |
                                        kNoUnknown | kNoData;
inline constexpr uint32_t kNoReplyMask =
    kNrConn | kNrHelo | kNrMail | kNrRcpt | kNrData | kNrUnkn | kNrHdr | kNrEoh | kNrBody;
// Events each protocol version defines (Postfix's MILTER8_V*_PROTO_MASK).
inline constexpr uint32_t kV2Events = kNoConnect | kNoHelo | kNoMail | kNoRcpt | kNoBody | kNoHdrs | kNoEoh;
inline constexpr uint32_t kV4Events = kV2Events | kNoUnknown | kNoData;
inline constexpr uint32_t kV6Events = kV4Events | kSkip | kRcptRej | kNoReplyMask | kHdrLeadSpc;

// Actions the filter may request (SMFIF_*); the MTA offers all of them.
enum : uint32_t {
  kAddHdrs = 1u << 0, kChgBody = 1u << 1, kAddRcptAct = 1u << 2, kDelRcptAct = 1u << 3, kChgHdrs = 1u << 4,
  kQuarantineAct = 1u << 5, kChgFromAct = 1u << 6, kAddRcptParAct = 1u << 7, kSetSymListAct = 1u << 8,
};
inline constexpr uint32_t kAllActions = kAddHdrs | kChgBody | kAddRcptAct | kDelRcptAct | kChgHdrs |
                                        kQuarantineAct | kChgFromAct | kAddRcptParAct | kSetSymListAct;

// Macro stages (SMFIM_*), the first data byte of SMFIC_MACRO's own stage list.
enum class Stage : uint32_t { kConnect = 0, kHelo = 1, kMail = 2, kRcpt = 3, kData = 4, kEom = 5, kEoh = 6 };
inline constexpr size_t kStages = 7;
// SMFIC_UNKNOWN's macros (milter_unknown_command_macros): no SMFIM_* number, so no filter override.
inline constexpr Stage kUnknownStage = Stage(kStages);

// Largest packet accepted from a filter (a body replacement chunk is ≤ 64 KiB;
// Postfix allows more, but nothing legitimate comes near this).
inline constexpr uint32_t kMaxPacket = 16 * 1024 * 1024;
// Body chunks sent to the filter (Postfix's MILTER_CHUNK_SIZE).
inline constexpr size_t kChunk = 65535;

struct Packet {
  char code = 0;
  std::string data;
};

// "SMFIC_HELO", "SMFIR_ACCEPT": Postfix's names, for log lines.
const char* CommandName(char c);
const char* ReplyName(char c);

// Frames one packet: 4-byte big-endian length (code + data), code, data.
std::string Frame(char code, std::string_view data);

// Splits a filter's byte stream into packets.
class PacketReader {
 public:
  void Feed(std::string_view data) { buf_.append(data); }
  enum class Status { kMore, kPacket, kError };
  // kError: *why says what is wrong ("bad packet length: 0").
  Status Next(Packet* p, std::string* why);
  size_t pending() const { return buf_.size() - pos_; }

 private:
  std::string buf_;
  size_t pos_ = 0;
};

// The MTA's packets.
std::string Optneg(uint32_t version, uint32_t actions, uint32_t protocol);
// family: '4', '6', 'L' (unix) or 'U' (unknown: no port or address follow).
std::string Connect(std::string_view host, char family, uint16_t port, std::string_view addr);
std::string Helo(std::string_view name);
// MAIL/RCPT: the address in <>, then ESMTP parameters, each NUL-terminated.
std::string Envelope(char code, const std::vector<std::string>& args);
std::string Header(std::string_view name, std::string_view value);
std::string Body(std::string_view chunk);
std::string Macros(char for_code, const std::vector<std::pair<std::string, std::string>>& macros);
inline std::string Bare(char code) { return Frame(code, {}); }  // EOH, DATA, EOB, ABORT, QUIT

// The filter's answer to SMFIC_OPTNEG.
struct Negotiated {
  uint32_t version = 0, actions = 0, protocol = 0;
  std::map<Stage, std::string> macros;  // SMFIR_SETSYMLIST-style overrides of the macro lists
};
Result<Negotiated> ParseOptneg(const Packet& p);

// A modification requested at end of message (or a final reply's text).
struct Edit {
  char code = 0;        // rep::kAddHeader, kChgHeader, kInsHeader, kAddRcpt, kAddRcptPar, kDelRcpt, kChgFrom, kReplBody
  uint32_t index = 0;   // CHGHEADER: 1-based among headers of that name; INSHEADER: position (0: top)
  std::string name;     // header name; address for recipient and sender edits
  std::string value;    // header value (empty on CHGHEADER: delete); ESMTP args; body bytes
};
// Decodes an edit packet; an error names what is malformed.
Result<Edit> ParseEdit(const Packet& p);

// SMFIR_REPLYCODE's text checked as Postfix does ("4xx"/"5xx", matching
// enhanced class), with sendmail's "%%" undone; multi-line replies keep CRLF.
Result<std::string> ParseReplyCode(const Packet& p);

}  // namespace postern::milter
