// pipe/expand.h — argv= macro expansion as Postfix's pipe(8) does it: each
// element is expanded on its own (never through a shell); an element that
// names a per-recipient macro ($recipient, $user, ...) becomes one element per
// recipient; the h, q and u flags fold and quote addresses.
#pragma once

#include <string>
#include <vector>

#include "postern/mda/pipe_attr.h"
#include "postern/util/result.h"

namespace postern::pipe {

struct Rcpt {
  std::string address;   // the envelope recipient
  std::string original;  // before rewriting ($original_recipient, X-Original-To:)
};

// What the macros expand to, before folding and quoting.
struct MacroValues {
  std::string sender;  // the envelope sender, the null sender already replaced by null_sender=
  std::string nexthop, size;
  std::string client_address, client_helo, client_hostname, client_port, client_protocol;
  std::string sasl_method, sasl_sender, sasl_username;
  std::vector<Rcpt> recipients;
  std::string recipient_delimiter;  // main.cf recipient_delimiter
};

Result<std::vector<std::string>> ExpandArgv(const std::vector<std::string>& argv, const MacroValues& v,
                                            const mda::PipeFlags& flags);

}  // namespace postern::pipe
