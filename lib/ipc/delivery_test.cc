// ipc/delivery_test.cc — the delivery protocol round-trips and refuses
// malformed frames.
#include "postern/ipc/delivery.h"

#include <gtest/gtest.h>

namespace postern::ipc {
namespace {

DeliveryRequest Sample() {
  DeliveryRequest r;
  r.message_id = 0x9f3a01c2;
  r.transport = "smtp";
  r.nexthop = "[127.0.0.2]:2525";
  r.sender = "a@example.org";
  r.dsn_envid = "ENV1";
  r.dsn_ret = 2;
  r.flags = 3;
  r.arrival = 1700000000;
  r.recipients = {{0x9f3a01c200000001ull, "b@example.net", "rfc822;b@example.net", 4},
                  {0x9f3a01c200000002ull, "c@example.net", "", 0}};
  return r;
}

TEST(Delivery, RequestRoundTrip) {
  auto wire = EncodeRequest(Sample());
  EXPECT_EQ(KindOf(wire), DeliveryFrame::kRequest);
  auto back = DecodeRequest(wire);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, Sample());
}

TEST(Delivery, ResultRoundTrip) {
  DeliveryResult r{0x1234, DeliveryStatus::kBounced, "5.1.1", "550 5.1.1 no such user",
                   "mx.example[192.0.2.7]:25", true};
  auto back = DecodeResult(EncodeResult(r));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, r);
  EXPECT_EQ(KindOf(EncodeEnd()), DeliveryFrame::kEnd);
}

TEST(Delivery, EndFrameSaysWhetherTheAgentKeepsTheConnection) {
  EXPECT_EQ(KindOf(EncodeEnd(true)), DeliveryFrame::kEnd);
  EXPECT_TRUE(EndKeeps(EncodeEnd(true)));
  EXPECT_FALSE(EndKeeps(EncodeEnd()));
  EXPECT_FALSE(EndKeeps(EncodeEnd(false)));
  EXPECT_EQ(KindOf("EX"), DeliveryFrame::kBad);
  EXPECT_EQ(KindOf("EKK"), DeliveryFrame::kBad);
}

TEST(Delivery, ConnectionFactRoundTripAndTruncation) {
  ConnectionFact c{ConnectionFact::Kind::kFailed, "example.com", 2525, "may", "mx.example.com", "192.0.2.7",
                   "192.0.2.1", "Connection refused"};
  std::string wire = EncodeConnection(c);
  EXPECT_EQ(KindOf(wire), DeliveryFrame::kConnection);
  auto back = DecodeConnection(wire);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, c);
  for (size_t n = 0; n < wire.size(); ++n)
    EXPECT_FALSE(DecodeConnection(std::string_view(wire).substr(0, n)).has_value()) << n;
  EXPECT_FALSE(DecodeConnection(wire + "x").has_value());
  wire[1] = 'Z';  // unknown kind
  EXPECT_FALSE(DecodeConnection(wire).has_value());
  EXPECT_FALSE(DecodeResult(EncodeConnection(c)).has_value());
}

TEST(Delivery, RefusesMalformedFrames) {
  std::string req = EncodeRequest(Sample());
  for (size_t n = 0; n < req.size(); ++n)
    EXPECT_FALSE(DecodeRequest(std::string_view(req).substr(0, n)).has_value()) << n;
  EXPECT_FALSE(DecodeRequest(req + "x").has_value());
  std::string res = EncodeResult({1, DeliveryStatus::kSent, "2.0.0", "ok", "local", false});
  res[9] = 'X';  // unknown status
  EXPECT_FALSE(DecodeResult(res).has_value());
  EXPECT_FALSE(DecodeResult(EncodeRequest(Sample())).has_value());
  EXPECT_EQ(KindOf(""), DeliveryFrame::kBad);
  EXPECT_EQ(KindOf("E1"), DeliveryFrame::kBad);
  // A huge recipient count in a tiny frame is refused before allocating.
  EXPECT_FALSE(DecodeRequest(std::string(1, 'Q') + std::string(60, '\0') + "\xff\xff\xff\xff").has_value());
}

}  // namespace
}  // namespace postern::ipc
