// qmgr/mta_view_test.cc — the host/route/relay tables without I/O: connection
// facts in, refcounts, penalties, last connections and expiry out.
#include "qmgr/mta_view.h"

#include <gtest/gtest.h>

namespace postern::qmgr {
namespace {

constexpr int64_t kNow = 1'700'000'000;
using K = ipc::ConnectionFact::Kind;

ipc::ConnectionFact Fact(K kind, const std::string& addr, const std::string& source = "",
                         const std::string& error = "") {
  ipc::ConnectionFact c;
  c.kind = kind;
  c.relay = "example.net";
  c.port = 25;
  c.tls = "may";
  c.host = "mx." + addr;
  c.address = addr;
  c.source = source;
  c.error = error;
  return c;
}

const DestRef kDest{"smtp", "example.net"};

TEST(MtaView, NewConnectionIsInUseUntilTheDeliveryEnds) {
  MtaView v;
  v.Note(1, kDest, "smtp", Fact(K::kNew, "192.0.2.7"), kNow);
  const MtaHost& h = v.hosts().at("192.0.2.7");
  EXPECT_EQ(h.name, "mx.192.0.2.7");
  EXPECT_EQ(h.refcount, 1);
  EXPECT_EQ(h.nconn, 1u);
  EXPECT_EQ(h.lastconn, kNow);
  const MtaRelay& r = v.relays().at("[relay:example.net:25,smtp,tls=may]");
  EXPECT_EQ(r.refcount, 1);
  EXPECT_EQ(r.connectors.at("").refcount, 1);
  v.EndJob(1, kNow + 5);
  EXPECT_EQ(v.hosts().at("192.0.2.7").refcount, 0);
  EXPECT_EQ(v.routes().at({"", "192.0.2.7"}).refcount, 0);
  EXPECT_EQ(v.relays().begin()->second.refcount, 0);
  v.EndJob(1, kNow + 6);  // twice: nothing goes below zero
  EXPECT_EQ(v.hosts().at("192.0.2.7").refcount, 0);
}

TEST(MtaView, FailuresCountAsPenaltyUntilAConnectionWorks) {
  MtaView v;
  v.Note(1, kDest, "smtp", Fact(K::kFailed, "192.0.2.7", "", "Connection refused"), kNow);
  v.Note(2, kDest, "smtp", Fact(K::kFailed, "192.0.2.7", "", "Connection timed out"), kNow + 1);
  const MtaRoute& r = v.routes().at({"", "192.0.2.7"});
  EXPECT_EQ(r.penalty, 2);
  EXPECT_EQ(r.lastconn, 0);  // never connected
  EXPECT_EQ(r.error, "Connection timed out");
  EXPECT_EQ(r.refcount, 0);  // a failure holds nothing
  EXPECT_EQ(r.dest, kDest);
  EXPECT_EQ(v.hosts().at("192.0.2.7").nfail, 2u);
  EXPECT_TRUE(v.relays().begin()->second.connectors.at("").failing);
  v.Note(3, kDest, "smtp", Fact(K::kNew, "192.0.2.7"), kNow + 2);
  EXPECT_EQ(r.penalty, 0);
  EXPECT_EQ(r.lastconn, kNow + 2);
  EXPECT_FALSE(v.relays().begin()->second.connectors.at("").failing);
}

TEST(MtaView, RoutesAndConnectorsAreKeptPerSource) {
  MtaView v;
  v.Note(1, kDest, "smtp", Fact(K::kNew, "192.0.2.7", "127.0.0.1"), kNow);
  v.Note(2, kDest, "smtp", Fact(K::kFailed, "192.0.2.7", "127.0.0.9", "refused"), kNow);
  EXPECT_EQ(v.routes().size(), 2u);
  EXPECT_EQ(v.routes().at({"127.0.0.1", "192.0.2.7"}).penalty, 0);
  EXPECT_EQ(v.routes().at({"127.0.0.9", "192.0.2.7"}).penalty, 1);
  EXPECT_EQ(v.relays().begin()->second.connectors.size(), 2u);
  EXPECT_EQ(v.hosts().size(), 1u);
  EXPECT_NE(MtaView::RouteId({"127.0.0.1", "192.0.2.7"}), MtaView::RouteId({"127.0.0.9", "192.0.2.7"}));
  MtaRoute* found = v.FindRoute(MtaView::RouteId({"127.0.0.9", "192.0.2.7"}));
  ASSERT_NE(found, nullptr);
  v.ClearPenalty(*found);
  EXPECT_EQ(v.routes().at({"127.0.0.9", "192.0.2.7"}).penalty, 0);
}

TEST(MtaView, ADeliveryMovingToTheNextHostReleasesTheFirst) {
  MtaView v;
  v.Note(1, kDest, "smtp", Fact(K::kNew, "192.0.2.7"), kNow);
  v.Note(1, kDest, "smtp", Fact(K::kNew, "192.0.2.8"), kNow);
  EXPECT_EQ(v.hosts().at("192.0.2.7").refcount, 0);
  EXPECT_EQ(v.hosts().at("192.0.2.8").refcount, 1);
  EXPECT_EQ(v.relays().begin()->second.refcount, 1);
}

TEST(MtaView, ReusedConnectionsAreNotNewOnes) {
  MtaView v;
  v.Note(1, kDest, "smtp", Fact(K::kNew, "192.0.2.7"), kNow);
  v.EndJob(1, kNow);
  v.Note(2, kDest, "smtp", Fact(K::kReused, "192.0.2.7"), kNow + 30);
  const MtaHost& h = v.hosts().at("192.0.2.7");
  EXPECT_EQ(h.nconn, 1u);
  EXPECT_EQ(h.nreuse, 1u);
  EXPECT_EQ(h.refcount, 1);
  EXPECT_EQ(h.lastconn, kNow + 30);
}

TEST(MtaView, IdleEntriesExpireButOnesInUseStay) {
  MtaView v;
  v.Note(1, kDest, "smtp", Fact(K::kNew, "192.0.2.7"), kNow);
  v.Note(2, kDest, "smtp", Fact(K::kNew, "192.0.2.8"), kNow);
  v.EndJob(2, kNow);
  v.Expire(kNow + MtaView::kForgetAfter);
  EXPECT_EQ(v.hosts().size(), 2u);  // not idle long enough yet
  v.Expire(kNow + MtaView::kForgetAfter + 1);
  EXPECT_EQ(v.hosts().count("192.0.2.8"), 0u);
  EXPECT_EQ(v.routes().count({"", "192.0.2.8"}), 0u);
  EXPECT_EQ(v.hosts().count("192.0.2.7"), 1u);  // delivery 1 still uses it
  EXPECT_EQ(v.relays().size(), 1u);
}

TEST(MtaView, TablesAreBounded) {
  MtaView v;
  for (size_t i = 0; i < MtaView::kMaxEntries + 10; ++i)
    v.Note(i, kDest, "smtp", Fact(K::kFailed, "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256)),
           kNow + int64_t(i));
  EXPECT_LE(v.hosts().size(), MtaView::kMaxEntries);
  EXPECT_LE(v.routes().size(), MtaView::kMaxEntries);
  EXPECT_EQ(v.hosts().count("10.0.0.0"), 0u);  // the least recently seen went first
  EXPECT_EQ(v.hosts().count("10.0.16.9"), 1u);
}

TEST(MtaView, NamesAndDurationsAsSmtpctlPrintsThem) {
  ipc::ConnectionFact c = Fact(K::kNew, "192.0.2.7");
  EXPECT_EQ(MtaView::RelayName("smtp", c), "[relay:example.net:25,smtp,tls=may]");
  c.relay = "unix:/run/lmtp";
  c.port = 0;
  c.tls = "";
  EXPECT_EQ(MtaView::RelayName("lmtp", c), "[relay:unix:/run/lmtp,lmtp,tls=none]");
  struct {
    int64_t s;
    const char* text;
  } cases[] = {{0, "0s"}, {-3, "0s"}, {12, "12s"}, {65, "1m5s"}, {7200, "2h"}, {97320, "1d3h2m"}};
  for (const auto& t : cases) EXPECT_EQ(MtaView::Duration(t.s), t.text) << t.s;
}

}  // namespace
}  // namespace postern::qmgr
