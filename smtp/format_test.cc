// smtp/format_test.cc — reply quotes and DSN codes as Postfix prints them.
#include "smtp/format.h"

#include <gtest/gtest.h>

namespace postern::smtp_client {
namespace {

TEST(Format, ReplyTextAndDsn) {
  struct Case {
    smtp::Reply r;
    const char* text;
    const char* dsn;
  };
  const Case cases[] = {
      {{250, "2.0.0", {"Ok: queued as X"}}, "250 2.0.0 Ok: queued as X", "2.0.0"},
      {{250, "", {"OK"}}, "250 OK", "2.0.0"},
      {{550, "5.1.1", {"first", "second"}}, "550 5.1.1 first second", "5.1.1"},
      {{451, "", {"try later"}}, "451 try later", "4.0.0"},
      // An enhanced code of another class than the reply is not believed.
      {{451, "5.7.1", {"odd"}}, "451 5.7.1 odd", "4.0.0"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ReplyText(c.r), c.text);
    EXPECT_EQ(ReplyDsn(c.r), c.dsn);
  }
}

}  // namespace
}  // namespace postern::smtp_client
