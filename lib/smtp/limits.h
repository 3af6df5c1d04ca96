// smtp/limits.h — the length limits of RFC 5321 §4.5.3 and Postfix's defaults,
// in one place so smtpd, the client and the parsers agree on them.
#pragma once

#include <cstddef>

namespace postern::smtp {

// RFC 5321 §4.5.3.1.4: a command line is at most 512 octets including CRLF.
inline constexpr size_t kMaxCommandLine = 512;
// Postfix's line_length_limit default: text lines longer than this are
// broken up (smtpd) or refused; also the reply-line limit of the client.
inline constexpr size_t kDefaultLineLengthLimit = 2048;
// RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets including CRLF.
inline constexpr size_t kMaxReplyLine = 512;
// RFC 5321 §4.5.3.1.1-3: local part 64, domain 255, path 256 (with <>).
inline constexpr size_t kMaxLocalPart = 64;
inline constexpr size_t kMaxDomain = 255;
inline constexpr size_t kMaxPath = 256;
// RFC 3696 erratum 1690: a mailbox (local@domain) is at most 254 octets.
inline constexpr size_t kMaxMailbox = 254;
// RFC 1035: a DNS label is at most 63 octets.
inline constexpr size_t kMaxLabel = 63;
// RFC 3461: ENVID at most 100 characters, ORCPT at most 500.
inline constexpr size_t kMaxEnvid = 100;
inline constexpr size_t kMaxOrcpt = 500;
// Upper bound on ESMTP parameters on one MAIL/RCPT line (far above any real use).
inline constexpr size_t kMaxEsmtpParams = 16;

}  // namespace postern::smtp
