// smtp/received_test.cc — the Received: lines keep Postfix's shapes.
#include "postern/smtp/received.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace postern::smtp {
namespace {

TEST(Received, LocalSubmissionNamesTheUserNotAClient) {
  setenv("TZ", "UTC", 1);
  tzset();
  EXPECT_EQ(LocalReceived("mx.example.test", "postern", 1000, "9f3a01c2", 1796619600),
            "Received: by mx.example.test (postern, from userid 1000)\r\n"
            "\tid 9f3a01c2; Mon,  7 Dec 2026 05:00:00 +0000 (UTC)\r\n");
  EXPECT_EQ(RfcDate(1796619600), "Mon,  7 Dec 2026 05:00:00 +0000");
  EXPECT_EQ(MailDate(1797656400), "Sat, 19 Dec 2026 05:00:00 +0000 (UTC)");
}

}  // namespace
}  // namespace postern::smtp
