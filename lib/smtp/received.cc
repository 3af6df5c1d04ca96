// smtp/received.cc — Received: header lines; see received.h.
#include "postern/smtp/received.h"

#include <cstdio>

namespace postern::smtp {

namespace {

// Postfix's mail_date: "%a, %e %b %Y %H:%M:%S %z", with English names
// whatever the locale, then " (%Z)" when asked.
std::string Format(time_t t, bool zone_name) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  tm lt{};
  localtime_r(&t, &lt);
  char zone[16];
  strftime(zone, sizeof zone, "%z", &lt);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%s, %2d %s %d %02d:%02d:%02d %s", kDays[lt.tm_wday % 7], lt.tm_mday,
                kMonths[lt.tm_mon % 12], lt.tm_year + 1900, lt.tm_hour, lt.tm_min, lt.tm_sec, zone);
  std::string out = buf;
  if (zone_name) out.append(" (").append(lt.tm_zone ? lt.tm_zone : "UTC").append(")");
  return out;
}

}  // namespace

std::string RfcDate(time_t t) { return Format(t, false); }

std::string MailDate(time_t t) { return Format(t, true); }

std::string LocalReceived(std::string_view host, std::string_view mail_name, unsigned uid, std::string_view queue_id,
                          time_t t) {
  std::string h = "Received: by ";
  h.append(host).append(" (").append(mail_name).append(", from userid ").append(std::to_string(uid));
  h.append(")\r\n\tid ").append(queue_id).append("; ").append(MailDate(t)).append("\r\n");
  return h;
}

}  // namespace postern::smtp
