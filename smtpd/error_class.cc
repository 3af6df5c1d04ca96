// smtpd/error_class.cc — the notify_classes class of smtpd's error replies
// (see notify.h); Postfix sets these bits reply by reply in smtpd.c and
// smtpd_check.c, postern derives the usual ones from the codes.
#include "smtpd/notify.h"

namespace postern::smtpd {

namespace {

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace

unsigned ErrorClass(int code, std::string_view enh) {
  using namespace notify;
  if (code < 400 || code == 421) return 0;
  if (enh == "4.3.0" || enh == "4.3.1") return kClassResource;  // queue file write, lookup failure, disk space
  if (enh == "4.3.5" || (code == 454 && enh == "4.7.0")) return kClassSoftware;  // configuration, TLS/SASL broken
  if (enh == "5.3.4" || enh == "5.4.0") return kClassBounce;   // message too big, too many hops
  if ((StartsWith(enh, "5.5.") || StartsWith(enh, "4.5.")) && enh != "4.5.3") return kClassProtocol;
  if (code == 500 || code == 501 || code == 502 || code == 503 || code == 555 || enh == "5.6.7")
    return kClassProtocol;
  return kClassPolicy;  // restrictions, unknown users, too many recipients, AUTH refused
}

unsigned QueueErrorClass(queue::Code code) {
  bool resource = code == queue::Code::kInsufficientStorage || code == queue::Code::kIo;
  return resource ? notify::kClassResource : notify::kClassSoftware;
}

}  // namespace postern::smtpd
