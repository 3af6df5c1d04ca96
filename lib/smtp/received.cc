// smtp/received.cc — Received: header lines; see received.h.
#include "smtp/received.h"

namespace postern::smtp {

namespace {

std::string Format(time_t t, const char* fmt) {
  tm lt{};
  localtime_r(&t, &lt);
  char buf[80];
  strftime(buf, sizeof buf, fmt, &lt);
  return buf;
}

}  // namespace

std::string RfcDate(time_t t) { return Format(t, "%a, %d %b %Y %H:%M:%S %z"); }

std::string ReceivedDate(time_t t) { return Format(t, "%a, %d %b %Y %H:%M:%S %z (%Z)"); }

std::string LocalReceived(std::string_view host, std::string_view mail_name, unsigned uid, std::string_view queue_id,
                          time_t t) {
  std::string h = "Received: by ";
  h.append(host).append(" (").append(mail_name).append(", from userid ").append(std::to_string(uid));
  h.append(")\r\n\tid ").append(queue_id).append("; ").append(ReceivedDate(t)).append("\r\n");
  return h;
}

}  // namespace postern::smtp
