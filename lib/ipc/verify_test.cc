// ipc/verify_test.cc — the verify protocol's frames: round trips and the
// malformed payloads a decoder must refuse.
#include "postern/ipc/verify.h"

#include <gtest/gtest.h>

namespace postern::ipc {
namespace {

TEST(Verify, QueriesAndAnswersRoundTrip) {
  const VerifyQuery queries[] = {
      {VerifyKind::kRecipient, "user@example.test", 6000, false},
      {VerifyKind::kSender, "", 0, true},
      {VerifyKind::kSender, std::string(300, 'a') + "@b.test", 1, false},
  };
  for (const VerifyQuery& q : queries) EXPECT_EQ(DecodeVerifyQuery(EncodeVerifyQuery(q)), q);
  const VerifyAnswer answers[] = {
      {VerifyStatus::kDeliverable, "host mx[127.0.0.1] said: 250 2.1.5 Ok (in reply to RCPT TO command)"},
      {VerifyStatus::kUndeliverable, "x"},
      {VerifyStatus::kUnknown, ""},
      {VerifyStatus::kInProgress, "Address verification in progress"},
  };
  for (const VerifyAnswer& a : answers) EXPECT_EQ(DecodeVerifyAnswer(EncodeVerifyAnswer(a)), a);
}

TEST(Verify, MalformedFramesAreRefused) {
  std::string q = EncodeVerifyQuery({VerifyKind::kRecipient, "a@b", 5, false});
  for (size_t n = 0; n < q.size(); ++n) EXPECT_FALSE(DecodeVerifyQuery(q.substr(0, n))) << n;
  EXPECT_FALSE(DecodeVerifyQuery(q + "x"));
  std::string bad_kind = q;
  bad_kind[1] = 'X';
  EXPECT_FALSE(DecodeVerifyQuery(bad_kind));
  std::string a = EncodeVerifyAnswer({VerifyStatus::kDeliverable, "ok"});
  for (size_t n = 0; n < a.size(); ++n) EXPECT_FALSE(DecodeVerifyAnswer(a.substr(0, n))) << n;
  std::string bad_status = a;
  bad_status[1] = '3';
  EXPECT_FALSE(DecodeVerifyAnswer(bad_status));
  EXPECT_FALSE(DecodeVerifyAnswer(q));  // a query is not an answer
}

}  // namespace
}  // namespace postern::ipc
