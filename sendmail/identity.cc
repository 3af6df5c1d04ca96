// sendmail/identity.cc — who runs the command, and how it gives up (declared
// in sendmail.h); apart from main.cc so that the unit tests link them too.
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

#include "postern/log/log.h"
#include "sendmail/sendmail.h"

namespace postern::sendmail {

Identity WhoAmI() {
  Identity id;
  id.uid = getuid();
  if (const passwd* pw = getpwuid(id.uid)) {
    id.user = pw->pw_name;
    std::string_view g = pw->pw_gecos ? pw->pw_gecos : "";
    id.gecos = std::string(g.substr(0, g.find(',')));
  } else {
    id.user = "uid" + std::to_string(id.uid);
  }
  return id;
}

void Die(int status, std::string_view text) {
  log::Write(2, "fatal: " + std::string(text));
  exit(status);
}

}  // namespace postern::sendmail
