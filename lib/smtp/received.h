// smtp/received.h — dates and Received: lines of the headers postern adds, in
// Postfix's shapes (pickup's local "by HOST (postern, from userid N)" for mail
// a local user submitted; sendmail's Date:).
#pragma once

#include <ctime>
#include <string>
#include <string_view>

namespace postern::smtp {

// RFC 5322 date of `t` in local time, as Postfix's mail_date writes it
// (day of month space-padded, English names): "Mon,  7 Dec 2026 09:12:01 +0000"
// (a Date: header).
std::string RfcDate(time_t t);
// The same with the zone name as a comment, "... +0000 (UTC)": Received:
// headers and the dates of delivery status notifications.
std::string MailDate(time_t t);

// Postfix pickup's header for locally submitted mail (sendmail, maildrop):
// "Received: by HOST (MAIL_NAME, from userid UID)\r\n\tid QUEUE_ID; DATE\r\n".
std::string LocalReceived(std::string_view host, std::string_view mail_name, unsigned uid, std::string_view queue_id,
                          time_t t);

}  // namespace postern::smtp
