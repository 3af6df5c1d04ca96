// smtp/format.h — how the client words what it saw, as Postfix does: reply
// quotes and DSN codes made from bare reply codes.
#pragma once

#include <string>

#include "postern/smtp/reply.h"

namespace postern::smtp_client {

// "250 2.0.0 Ok: queued as X": the reply as Postfix quotes it in logs and DSNs
// (the lines of a multi-line reply joined with spaces).
std::string ReplyText(const smtp::Reply& r);
// The reply's enhanced status when it agrees with the code's class, else one
// made from the code ("4.0.0").
std::string ReplyDsn(const smtp::Reply& r);

}  // namespace postern::smtp_client
