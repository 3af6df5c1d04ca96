// smtp/lookup_failure_test.cc — the status a next hop gets when DNS leaves no
// server: null MX, NXDOMAIN, no address for any MX host (with and without
// smtp_defer_if_no_mx_address_found), SERVFAIL, and ignore_mx_lookup_error's case.
#include "smtp/lookup_failure.h"

#include <gtest/gtest.h>

namespace postern::smtp_client {
namespace {

using dns::Status;

dns::Outcome Out(Status s) { return dns::Outcome{s, "why", ""}; }

dns::MxResult Mx(Status s, size_t hosts, bool implicit = false, bool null_mx = false) {
  dns::MxResult r;
  r.outcome = Out(s);
  r.implicit = implicit;
  r.null_mx = null_mx;
  for (size_t i = 0; i < hosts; ++i) r.hosts.push_back(dns::MxHost{"mx.example", 10, Out(s), {}, false});
  return r;
}

struct Case {
  const char* what;
  dns::MxResult r;
  bool defer_no_address;
  const char* dsn;
  bool permanent;
  bool no_mx_address;
  bool query_failed;
};

TEST(LookupFailure, MxOutcomes) {
  const Case cases[] = {
      {"null MX", Mx(Status::kPermFail, 0, false, true), false, "5.1.10", true, false, false},
      {"null MX, defer flag", Mx(Status::kPermFail, 0, false, true), true, "5.1.10", true, false, false},
      {"NXDOMAIN", Mx(Status::kNxDomain, 0), false, "5.4.4", true, false, false},
      {"NXDOMAIN, defer flag", Mx(Status::kNxDomain, 0), true, "5.4.4", true, false, false},
      {"SERVFAIL of the MX query", Mx(Status::kTempFail, 0), false, "4.4.3", false, false, true},
      {"MX hosts without address", Mx(Status::kNxDomain, 2), false, "5.4.4", true, true, false},
      {"MX hosts without address, defer flag", Mx(Status::kNxDomain, 2), true, "4.4.4", false, true, false},
      {"MX host lookups failed temporarily", Mx(Status::kTempFail, 1), false, "4.4.3", false, true, false},
      {"implicit MX, no address", Mx(Status::kNoData, 1, true), true, "5.4.4", true, false, false},
  };
  for (const Case& c : cases) {
    LookupFailure f = MxLookupFailure(c.r, c.defer_no_address);
    EXPECT_EQ(f.dsn, c.dsn) << c.what;
    EXPECT_EQ(f.permanent, c.permanent) << c.what;
    EXPECT_EQ(f.no_mx_address, c.no_mx_address) << c.what;
    EXPECT_EQ(f.reason, "why") << c.what;
    EXPECT_EQ(MxQueryFailed(c.r), c.query_failed) << c.what;
  }
}

TEST(LookupFailure, AddressOutcomes) {
  dns::AddressResult r;
  r.outcome = Out(Status::kNxDomain);
  EXPECT_EQ(AddressLookupFailure(r).dsn, "5.4.4");
  EXPECT_TRUE(AddressLookupFailure(r).permanent);
  r.outcome = Out(Status::kTempFail);
  EXPECT_EQ(AddressLookupFailure(r).dsn, "4.4.3");
  EXPECT_FALSE(AddressLookupFailure(r).permanent);
}

}  // namespace
}  // namespace postern::smtp_client
