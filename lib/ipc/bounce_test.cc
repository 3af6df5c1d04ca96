// ipc/bounce_test.cc — the bounce protocol round-trips and refuses malformed frames.
#include "postern/ipc/bounce.h"

#include <gtest/gtest.h>

namespace postern::ipc {
namespace {

BounceRequest Sample() {
  BounceRequest r;
  r.message_id = 0x9f3a01c2;
  r.kind = NoticeKind::kFailed;
  r.recipients = {{"b@example.net", "rfc822;b@example.net", 4, "failed", "5.1.1",
                   "host mx[192.0.2.7] said: 550 5.1.1 no such user", "mx[192.0.2.7]:25"},
                  {"c@example.net", "", 0, "failed", "4.4.1", "connection refused", "none"}};
  return r;
}

TEST(Bounce, RequestRoundTrip) {
  for (NoticeKind k : {NoticeKind::kFailed, NoticeKind::kDelayed, NoticeKind::kSuccess}) {
    BounceRequest r = Sample();
    r.kind = k;
    auto back = DecodeBounceRequest(EncodeBounceRequest(r));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, r);
  }
}

TEST(Bounce, AnswerRoundTrip) {
  for (const BounceAnswer& a : {BounceAnswer{true, 0x1234abcd, ""}, BounceAnswer{false, 0, "queue full"},
                                BounceAnswer{true, 0, "discarded"}}) {
    auto back = DecodeBounceAnswer(EncodeBounceAnswer(a));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, a);
  }
}

TEST(Bounce, RefusesMalformedFrames) {
  std::string req = EncodeBounceRequest(Sample());
  for (size_t n = 0; n < req.size(); ++n)
    EXPECT_FALSE(DecodeBounceRequest(std::string_view(req).substr(0, n)).has_value()) << n;
  EXPECT_FALSE(DecodeBounceRequest(req + "x").has_value());
  std::string bad_kind = req;
  bad_kind[5] = 'X';
  EXPECT_FALSE(DecodeBounceRequest(bad_kind).has_value());
  EXPECT_FALSE(DecodeBounceAnswer(req).has_value());
  std::string ans = EncodeBounceAnswer({true, 1, "x"});
  for (size_t n = 0; n < ans.size(); ++n)
    EXPECT_FALSE(DecodeBounceAnswer(std::string_view(ans).substr(0, n)).has_value()) << n;
  ans[1] = 7;  // neither ok nor failed
  EXPECT_FALSE(DecodeBounceAnswer(ans).has_value());
  // A huge recipient count in a tiny frame is refused before allocating.
  EXPECT_FALSE(DecodeBounceRequest(std::string("N\0\0\0\1F\xff\xff\xff\xff", 10)).has_value());
}

}  // namespace
}  // namespace postern::ipc
