// smtp/lookup_failure.cc — status codes of a next hop that DNS could not
// turn into servers; see lookup_failure.h.
#include "smtp/lookup_failure.h"

namespace postern::smtp_client {

namespace {
// Postfix's codes: null MX 5.1.10, other permanent 5.4.4, temporary 4.4.3.
LookupFailure FromOutcome(const dns::Outcome& o) {
  LookupFailure f;
  f.permanent = o.permanent();
  f.dsn = f.permanent ? "5.4.4" : "4.4.3";
  f.reason = o.reason;
  return f;
}
}  // namespace

LookupFailure MxLookupFailure(const dns::MxResult& r, bool defer_if_no_mx_address) {
  LookupFailure f = FromOutcome(r.outcome);
  if (r.null_mx) {
    f.dsn = "5.1.10";
    f.permanent = true;
    return f;
  }
  f.no_mx_address = !r.implicit && !r.hosts.empty();
  if (f.no_mx_address && f.permanent && defer_if_no_mx_address) {
    f.dsn[0] = '4';  // the text stays, as in Postfix; only the class changes
    f.permanent = false;
  }
  return f;
}

LookupFailure AddressLookupFailure(const dns::AddressResult& r) { return FromOutcome(r.outcome); }

bool MxQueryFailed(const dns::MxResult& r) {
  return !r.outcome.ok() && r.outcome.temporary() && !r.null_mx && r.hosts.empty();
}

}  // namespace postern::smtp_client
