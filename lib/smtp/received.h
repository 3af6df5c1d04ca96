// smtp/received.h — the Received: header lines postern prepends, in Postfix's
// shapes: smtpd's "from ... by ... with PROTO" and pickup's local "by HOST
// (postern, from userid N)" for mail a local user submitted.
#pragma once

#include <ctime>
#include <string>
#include <string_view>

namespace postern::smtp {

// RFC 5322 date in local time, with the zone name as a comment, as Postfix writes it.
std::string ReceivedDate(time_t t);

// Postfix pickup's header for locally submitted mail (sendmail, maildrop):
// "Received: by HOST (MAIL_NAME, from userid UID)\r\n\tid QUEUE_ID; DATE\r\n".
std::string LocalReceived(std::string_view host, std::string_view mail_name, unsigned uid, std::string_view queue_id,
                          time_t t);

}  // namespace postern::smtp
