// postconf/info.cc — postconf's reports on what this build supports: -m (table
// types), -a/-A (SASL plug-in types), -l (mailbox locks), -T (the TLS library).
#include <cstdio>
#include <string>

#include "postconf.h"
#include "postern/config/compat.h"
#include "postern/log/log.h"
#include "postern/tls/tls.h"

namespace postern::postconf {
namespace {

template <class List>
void PrintLines(const List& list) {
  std::string out;
  for (const auto& item : list) (out += item) += '\n';
  std::fputs(out.c_str(), stdout);
}

void ShowTls(const std::string& what) {
  if (what == "compile-version") return PrintLines(std::initializer_list<std::string>{tls::CompileVersion()});
  if (what == "run-version") return PrintLines(std::initializer_list<std::string>{tls::RunVersion()});
  if (what == "public-key-algorithms") return PrintLines(tls::PublicKeyAlgorithms());
  log::Fatal("invalid -T argument \"{}\": specify compile-version, run-version or public-key-algorithms", what);
}

}  // namespace

void ShowInfo(const Options& o) {
  if (o.mode & kShowMaps) return PrintLines(config::SupportedTableTypes());
  if (o.mode & kShowLocks) return PrintLines(config::MailboxLockTypes());
  // smtpd_sasl_type: Dovecot's auth server, or postern's own password
  // tables (smtpd/auth.cc). The smtp/lmtp clients send PLAIN/LOGIN
  // themselves, no plug-in: no client types, as Postfix built without Cyrus.
  if (o.mode & kShowSaslServer) return PrintLines(std::initializer_list<std::string>{"dovecot", "postern"});
  if (o.mode & kShowSaslClient) return;
  if (o.mode & kShowTls) ShowTls(o.tls_query);
}

}  // namespace postern::postconf
