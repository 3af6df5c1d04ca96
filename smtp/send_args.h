// smtp/send_args.h — postern send's command line (Plan 9's upas/smtp flags),
// its destination forms and the .domain rewriting of unqualified addresses
// in the envelope and the headers; pure functions, unit-tested.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "postern/util/result.h"

namespace postern::smtp_client {

// Exit status of postern send (postern-send(1)).
inline constexpr int kSendOk = 0;      // every recipient accepted (or, -f, the message printed)
inline constexpr int kSendError = 1;   // usage, configuration or input error
inline constexpr int kSendPerm = 69;   // EX_UNAVAILABLE: a recipient refused permanently, none temporarily
inline constexpr int kSendTemp = 75;   // EX_TEMPFAIL: at least one recipient failed temporarily

struct SendOptions {
  std::string config_dir;  // -C, given by `postern -c DIR send`
  bool auth = false;             // -a
  bool ehlo_first = false;       // -A
  std::vector<std::string> busted;  // -b host ...
  bool dialogue = false;         // -d
  bool filter = false;           // -f
  std::string gateway;           // -g
  std::string helo;              // -h
  bool auth_without_tls = false;  // -i
  bool tls_may = false;          // -o
  bool ping = false;             // -p
  bool tls_encrypt = false;      // -s (also -a without -i)
  std::string user;              // -u
  std::string domain;            // .domain, without the dot
  std::string destaddr, nexthop;  // as given; as smtp's next hop ("[host]:port", "domain")
  std::string sender;
  std::vector<std::string> recipients;
};

// argv as `smtp send [-C dir] [flags] [.domain] destaddr sender rcpt...`
// (argv[0] is "send"). An error names what is wrong.
Result<SendOptions> ParseSendArgs(int argc, char** argv);

// destaddr as a next hop: "net!host!port" and "net!host" (Plan 9 dial strings,
// net "tcp" or "net") become "[host]:port", "[host]"; "host", "domain",
// "[ip]:port", "domain:port" stay as they are (MX lookup for the bare names).
Result<std::string> DestNexthop(std::string_view destaddr);

// .domain: "user" becomes "user@domain", "user@host" (a host without a dot)
// "user@host.domain"; qualified addresses, literals and "" stay.
std::string Qualify(std::string_view address, std::string_view domain);
// The same for every address in the address headers of the primary header
// block (From, Sender, Reply-To, To, Cc, Bcc, their Resent- forms, ...:
// rewrite::HeaderAddressClass).
std::string QualifyHeaders(std::string_view message, std::string_view domain);

}  // namespace postern::smtp_client
