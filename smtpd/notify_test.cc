// smtpd/notify_test.cc — the notify_classes class of smtpd's replies.
#include <gtest/gtest.h>

#include "smtpd/notify.h"

namespace postern::smtpd {
namespace {

using namespace notify;

TEST(ErrorClass, RepliesByCode) {
  struct Case {
    int code;
    const char* enh;
    unsigned want;
  } cases[] = {
      {250, "2.0.0", 0},
      {421, "4.4.2", 0},                 // timeout: a reason, not an error class
      {502, "5.5.2", kClassProtocol},    // command not recognized
      {500, "5.5.2", kClassProtocol},    // line too long
      {503, "5.5.1", kClassProtocol},    // bad sequence
      {501, "5.1.7", kClassProtocol},    // bad sender address syntax
      {554, "5.7.1", kClassPolicy},      // relay access denied
      {550, "5.1.1", kClassPolicy},      // unknown user
      {452, "4.5.3", kClassPolicy},      // too many recipients
      {452, "4.3.1", kClassResource},    // insufficient system storage
      {451, "4.3.0", kClassResource},    // queue file write error, temporary lookup failure
      {451, "4.3.5", kClassSoftware},    // server configuration error
      {454, "4.7.0", kClassSoftware},    // TLS not available due to local problem
      {454, "4.7.1", kClassPolicy},      // relay access denied (defer_unauth_destination)
      {552, "5.3.4", kClassBounce},      // message file too big
      {554, "5.4.0", kClassBounce},      // too many hops
  };
  for (const Case& c : cases) EXPECT_EQ(ErrorClass(c.code, c.enh), c.want) << c.code << " " << c.enh;
  EXPECT_EQ(QueueErrorClass(queue::Code::kInsufficientStorage), unsigned(kClassResource));
  EXPECT_EQ(QueueErrorClass(queue::Code::kIo), unsigned(kClassResource));
  EXPECT_EQ(QueueErrorClass(queue::Code::kCorrupt), unsigned(kClassSoftware));
}

}  // namespace
}  // namespace postern::smtpd
