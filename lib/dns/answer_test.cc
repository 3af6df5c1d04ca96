// dns/answer_test.cc — the pure half of lib/dns: status mapping, name syntax,
// typed records out of crafted answers, MX ordering and null MX.
#include "postern/dns/answer.h"

#include <ares.h>
#include <gtest/gtest.h>

#include <set>

#include "postern/dns/test_message.h"

namespace postern::dns {
namespace {

using testing::Bytes;
using testing::Message;

constexpr uint16_t kA = 1, kNs = 2, kCname = 5, kPtr = 12, kMx = 15, kTxt = 16, kAaaa = 28, kTlsa = 52;

TEST(DnsStatus, FromAres) {
  struct Case {
    int ares;
    Status want;
  } cases[] = {
      {ARES_SUCCESS, Status::kOk},          {ARES_ENODATA, Status::kNoData},
      {ARES_ENOTFOUND, Status::kNxDomain},  {ARES_EBADNAME, Status::kPermFail},
      {ARES_ESERVFAIL, Status::kTempFail},  {ARES_ETIMEOUT, Status::kTempFail},
      {ARES_EREFUSED, Status::kTempFail},   {ARES_ECONNREFUSED, Status::kTempFail},
      {ARES_EFORMERR, Status::kTempFail},   {ARES_EBADRESP, Status::kTempFail},
  };
  for (const auto& c : cases) EXPECT_EQ(StatusFromAres(c.ares), c.want) << ares_strerror(c.ares);
}

TEST(DnsStatus, FromHeader) {
  struct Case {
    Bytes msg;
    Status want;
  } cases[] = {
      {Message(0).Question("a.test", kMx).Answer("a.test", kMx, testing::MxData(1, "b.test")).Build(),
       Status::kOk},
      {Message(0).Question("a.test", kMx).Build(), Status::kNoData},
      {Message(3).Question("a.test", kMx).Build(), Status::kNxDomain},
      {Message(2).Question("a.test", kMx).Build(), Status::kTempFail},
      {Message(5).Question("a.test", kMx).Build(), Status::kTempFail},
      {Message(1).Question("a.test", kMx).Build(), Status::kTempFail},
      {Bytes{0x12, 0x34, 0x81}, Status::kTempFail},
  };
  for (const auto& c : cases) EXPECT_EQ(StatusFromHeader(c.msg), c.want);
}

TEST(DnsStatus, AuthenticDataBit) {
  EXPECT_TRUE(IsAuthentic(Message(0, true).Question("a.test", kA).Build()));
  EXPECT_FALSE(IsAuthentic(Message(0, false).Question("a.test", kA).Build()));
  EXPECT_FALSE(IsAuthentic(Bytes{1, 2, 3}));
}

TEST(DnsStatus, DescribesFailuresInPostfixWords) {
  EXPECT_EQ(DescribeFailure(Status::kNxDomain, "nope.test", RrType::kMx),
            "Host or domain name not found. Name service error for name=nope.test type=MX: Host not found");
  EXPECT_EQ(DescribeFailure(Status::kTempFail, "a.test", RrType::kA),
            "Host or domain name not found. Name service error for name=a.test type=A: Host not found, try again");
  EXPECT_EQ(DescribeFailure(Status::kNoData, "a.test", RrType::kAaaa),
            "Host or domain name not found. Name service error for name=a.test type=AAAA: "
            "Host found but no data record of requested type");
  EXPECT_EQ(DescribeFailure(Status::kOk, "a.test", RrType::kA), "");
}

TEST(DnsName, Normalize) {
  const std::string label63(63, 'a');
  struct Case {
    std::string in;
    bool ok;
    std::string want;
  } cases[] = {
      {"example.test", true, "example.test"},
      {"example.test.", true, "example.test"},
      {"_25._tcp.mx.example.test", true, "_25._tcp.mx.example.test"},
      {label63 + ".test", true, label63 + ".test"},
      {"", false, ""},
      {".", false, ""},
      {"a..test", false, ""},
      {".a.test", false, ""},
      {"a.test..", false, ""},
      {"sp ace.test", false, ""},
      {"back\\slash.test", false, ""},
      {std::string("nul\0x.test", 10), false, ""},
      {"a" + label63 + ".test", false, ""},
      {std::string(254, 'a'), false, ""},
  };
  for (const auto& c : cases) {
    auto r = NormalizeName(c.in);
    ASSERT_EQ(r.ok(), c.ok) << c.in;
    if (c.ok) {
      EXPECT_EQ(*r, c.want);
    }
  }
  std::string longest = "a";
  while (longest.size() < 253) longest += ".a";
  EXPECT_TRUE(NormalizeName(longest).ok());
  EXPECT_FALSE(NormalizeName(longest + "a").ok());
}

TEST(DnsParse, AddressesFollowCname) {
  auto msg = Message()
                 .Question("www.test", kA)
                 .Answer("www.test", kCname, testing::WireName("host.test"))
                 .Answer("host.test", kA, {127, 0, 0, 2})
                 .Answer("host.test", kA, {127, 0, 0, 3})
                 .Build();
  auto r = ParseA(msg);
  ASSERT_EQ(r.status, Status::kOk);
  ASSERT_EQ(r.records.size(), 2u);
  EXPECT_EQ(r.records[0].ToString(), "127.0.0.2");
  EXPECT_EQ(r.records[1].ToString(), "127.0.0.3");

  Bytes v6(16, 0);
  v6[15] = 1;
  auto r6 = ParseAaaa(Message().Question("h.test", kAaaa).Answer("h.test", kAaaa, v6).Build());
  ASSERT_EQ(r6.status, Status::kOk);
  EXPECT_EQ(r6.records.at(0).ToString(), "::1");
}

TEST(DnsTtl, SmallestAnswerTtlOrNothing) {
  auto msg = Message().Question("h.test", kA).Answer("h.test", kA, {127, 0, 0, 2}).Build();
  EXPECT_EQ(AnswerTtl(msg), 256u);  // the builder's TTL
  // A negative answer without an SOA says nothing about how long it holds.
  EXPECT_EQ(AnswerTtl(Message(3).Question("h.test", kA).Build()), 0u);
  // A negative answer with an SOA in the authority section: min(TTL, MINIMUM).
  Bytes soa = testing::WireName("ns.test");
  Bytes rname = testing::WireName("root.test");
  soa.insert(soa.end(), rname.begin(), rname.end());
  soa.insert(soa.end(), {0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 60});  // MINIMUM 60
  auto neg = Message(3).Question("h.test", kA).Answer("test", 6, soa).Build();
  neg[7] = 0;  // move the SOA from the answer to the authority section
  neg[9] = 1;
  EXPECT_EQ(AnswerTtl(neg), 60u);
  msg.resize(msg.size() - 2);  // truncated rdata
  EXPECT_EQ(AnswerTtl(msg), 0u);
  EXPECT_EQ(AnswerTtl({}), 0u);
}

TEST(DnsParse, AddressesAbsentOrBroken) {
  auto only_cname =
      Message().Question("www.test", kA).Answer("www.test", kCname, testing::WireName("h.test")).Build();
  EXPECT_EQ(ParseA(only_cname).status, Status::kNoData);
  auto msg = Message().Question("h.test", kA).Answer("h.test", kA, {127, 0, 0, 2}).Build();
  msg.resize(msg.size() - 2);  // truncated rdata
  EXPECT_EQ(ParseA(msg).status, Status::kTempFail);
}

TEST(DnsParse, MxRecordsAndRoot) {
  auto msg = Message()
                 .Question("example.test", kMx)
                 .Answer("example.test", kMx, testing::MxData(20, "mx2.example.test"))
                 .Answer("example.test", kMx, testing::MxData(10, "mx1.example.test"))
                 .Build();
  auto r = ParseMx(msg);
  ASSERT_EQ(r.status, Status::kOk);
  EXPECT_EQ(r.records, (std::vector<Mx>{{20, "mx2.example.test"}, {10, "mx1.example.test"}}));

  auto null = ParseMx(Message().Question("n.test", kMx).Answer("n.test", kMx, testing::MxData(0, "")).Build());
  ASSERT_EQ(null.status, Status::kOk);
  EXPECT_EQ(null.records, (std::vector<Mx>{{0, ""}}));
  EXPECT_TRUE(IsNullMx(null.records));
}

TEST(DnsParse, TxtStringsJoinedPerRecord) {
  auto msg = Message()
                 .Question("t.test", kTxt)
                 .Answer("t.test", kTxt, testing::TxtData({"v=spf1 ", "ip4:127.0.0.1 ", "-all"}))
                 .Answer("t.test", kTxt, testing::TxtData({"second"}))
                 .Answer("t.test", kTxt, testing::TxtData({""}))
                 .Build();
  auto r = ParseTxt(msg);
  ASSERT_EQ(r.status, Status::kOk);
  EXPECT_EQ(r.records, (std::vector<std::string>{"v=spf1 ip4:127.0.0.1 -all", "second", ""}));
}

TEST(DnsParse, NsNames) {
  auto msg = Message()
                 .Question("z.test", kNs)
                 .Answer("z.test", kNs, testing::WireName("ns1.z.test"))
                 .Answer("z.test", kNs, testing::WireName("NS2.z.test"))
                 .Answer("z.test", kNs, testing::WireName("ns1.z.test"))
                 .Build();
  auto r = ParseNs(msg);
  ASSERT_EQ(r.status, Status::kOk);
  EXPECT_EQ(r.records, (std::vector<std::string>{"ns1.z.test", "NS2.z.test"}));
  EXPECT_EQ(ParseNs(Message().Question("z.test", kNs).Build()).status, Status::kNoData);
}

TEST(DnsParse, PtrNames) {
  auto ip = *IpAddress::Parse("127.0.0.3");
  auto msg = Message()
                 .Question(ip.ReverseName(), kPtr)
                 .Answer(ip.ReverseName(), kPtr, testing::WireName("one.test"))
                 .Answer(ip.ReverseName(), kPtr, testing::WireName("two.test"))
                 .Build();
  auto r = ParsePtr(msg, ip);
  ASSERT_EQ(r.status, Status::kOk);
  EXPECT_EQ(r.records, (std::vector<std::string>{"one.test", "two.test"}));
  EXPECT_EQ(ParsePtr(Message().Question(ip.ReverseName(), kPtr).Build(), ip).status, Status::kNoData);
}

TEST(DnsParse, TlsaRecords) {
  Bytes digest = {0xab, 0xcd, 0xef, 0x01};
  auto msg = Message(0, true)
                 .Question("_25._tcp.mx.test", kTlsa)
                 .Answer("_25._tcp.mx.test", kCname, testing::WireName("tlsa.test"))
                 .AnswerWire({0xC0, 12}, kTlsa, testing::TlsaData(3, 1, 1, digest))
                 .Answer("tlsa.test", kTlsa, testing::TlsaData(2, 0, 2, {0x01}))
                 .Answer("tlsa.test", kTlsa, {3, 1})              // too short: unusable, dropped
                 .AnswerWire(testing::WireName("tlsa.test"), kTlsa, testing::TlsaData(3, 1, 1, {1}), 3)  // class CH
                 .Answer("tlsa.test", kTlsa, testing::TlsaData(3, 0, 0, {}))
                 .Build();
  auto r = ParseTlsa(msg);
  ASSERT_EQ(r.status, Status::kOk);
  ASSERT_EQ(r.records.size(), 3u);
  EXPECT_EQ(r.records[0], (Tlsa{3, 1, 1, digest}));
  EXPECT_EQ(r.records[0].DataHex(), "abcdef01");
  EXPECT_EQ(r.records[1], (Tlsa{2, 0, 2, {0x01}}));
  EXPECT_EQ(r.records[2], (Tlsa{3, 0, 0, {}}));
}

TEST(DnsParse, TlsaMalformed) {
  auto good = Message()
                  .Question("_25._tcp.mx.test", kTlsa)
                  .Answer("_25._tcp.mx.test", kTlsa, testing::TlsaData(3, 1, 1, {1, 2, 3}))
                  .Build();
  ASSERT_EQ(ParseTlsa(good).status, Status::kOk);
  // Every truncation of a good answer is malformed (or, cut inside the
  // header, too short), never a crash or a half record.
  for (size_t n = 0; n < good.size(); ++n) {
    Bytes cut(good.begin(), good.begin() + static_cast<long>(n));
    EXPECT_EQ(ParseTlsa(cut).status, Status::kTempFail) << n;
  }
  Bytes bad_label = good;
  bad_label[12] = 0x40;  // obsolete extended label type
  EXPECT_EQ(ParseTlsa(bad_label).status, Status::kTempFail);

  Bytes long_name = Message().Build();
  long_name[5] = 1;  // one question whose name has 5 labels of 63: over 255
  for (int i = 0; i < 5; ++i) {
    long_name.push_back(63);
    long_name.insert(long_name.end(), 63, 'a');
  }
  long_name.insert(long_name.end(), {0, 0, 52, 0, 1});
  EXPECT_EQ(ParseTlsa(long_name).status, Status::kTempFail);

  EXPECT_EQ(ParseTlsa(Message().Question("_25._tcp.mx.test", kTlsa).Build()).status, Status::kNoData);
}

TEST(DnsMx, NullMxOnlyWhenNothingElse) {
  EXPECT_TRUE(IsNullMx({{0, ""}}));
  EXPECT_TRUE(IsNullMx({{0, ""}, {10, ""}}));
  EXPECT_FALSE(IsNullMx({{0, ""}, {10, "mx.test"}}));
  EXPECT_FALSE(IsNullMx({{0, "mx.test"}}));
  EXPECT_FALSE(IsNullMx({}));
}

TEST(DnsMx, OrderedByPreferenceRootDroppedDuplicatesMerged) {
  std::mt19937 rng(1);
  auto r = OrderMx({{30, "c.test"}, {10, "a.test"}, {0, ""}, {20, "b.test"}, {40, "A.TEST"}}, rng);
  EXPECT_EQ(r, (std::vector<Mx>{{10, "a.test"}, {20, "b.test"}, {30, "c.test"}}));
}

TEST(DnsMx, EqualPreferencesShuffled) {
  std::vector<Mx> in = {{20, "x.test"}, {10, "p.test"}, {20, "y.test"}, {20, "z.test"}, {30, "q.test"}};
  std::set<std::string> orders;
  std::mt19937 rng(7);
  for (int i = 0; i < 300; ++i) {
    auto r = OrderMx(in, rng);
    ASSERT_EQ(r.size(), 5u);
    EXPECT_EQ(r.front().exchange, "p.test");
    EXPECT_EQ(r.back().exchange, "q.test");
    orders.insert(r[1].exchange + r[2].exchange + r[3].exchange);
  }
  EXPECT_EQ(orders.size(), 6u);  // all 3! orders of the three 20s appear
}

}  // namespace
}  // namespace postern::dns
