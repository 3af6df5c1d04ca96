// mda/copy_test.cc — message bytes for mailboxes and commands: From_ line,
// headers, >From and dot escapes, blank line, record delimiter, quoting.
#include "postern/mda/copy.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace postern::mda {
namespace {

TEST(Copy, FromLine) {
  setenv("TZ", "UTC", 1);
  tzset();
  EXPECT_EQ(FromLine("a@b.test", 0), "From a@b.test  Thu Jan  1 00:00:00 1970\n");
  EXPECT_EQ(FromLine("", 86400 * 40), "From MAILER-DAEMON  Tue Feb 10 00:00:00 1970\n");
}

TEST(Copy, CopyFormats) {
  setenv("TZ", "UTC", 1);
  tzset();
  const std::string msg = "Subject: x\n\nFrom here\n>From there\nFrom\nnot From \nlast";
  struct Case {
    CopyOptions o;
    std::string want;
  } cases[] = {
      {{true, true, true, true, "s@x", "r@y", 0},
       "From s@x  Thu Jan  1 00:00:00 1970\nReturn-Path: <s@x>\nDelivered-To: r@y\nSubject: x\n\n>From here\n"
       ">From there\nFrom\nnot From \nlast\n\n"},
      {{false, false, false, true, "", "r@y", 0},
       "Return-Path: <>\nDelivered-To: r@y\nSubject: x\n\nFrom here\n>From there\nFrom\nnot From \nlast"},
      {{true, false, false, true, "s@x", "", 0},
       "From s@x  Thu Jan  1 00:00:00 1970\nReturn-Path: <s@x>\nSubject: x\n\nFrom here\n>From there\nFrom\nnot "
       "From \nlast"},
  };
  for (const auto& c : cases) EXPECT_EQ(FormatCopy(c.o, msg), c.want);
  CopyOptions o;
  o.blank_line = true;
  o.return_path = false;
  EXPECT_EQ(FormatCopy(o, "a\n"), "a\n\n");
}

TEST(Copy, CrlfToLf) {
  EXPECT_EQ(CrlfToLf("a\r\nb\r\n\r\nc\rd\r\n"), "a\nb\n\nc\rd\n");
  EXPECT_EQ(CrlfToLf(""), "");
  EXPECT_EQ(CrlfToLf("no newline"), "no newline");
}

TEST(Copy, PipeFlagsAndEol) {
  setenv("TZ", "UTC", 1);
  tzset();
  CopyOptions o;
  o.return_path = true;
  o.sender = "s@x";
  o.orig_to = "Orig@Y";
  o.delivered_to = "r@y";
  o.dot_stuff = true;
  o.quote_from = true;
  o.blank_line = true;
  o.eol = "\r\n";
  EXPECT_EQ(FormatCopy(o, "Subject: x\n\n.dot\nFrom me\n..two\n"),
            "Return-Path: <s@x>\r\nX-Original-To: Orig@Y\r\nDelivered-To: r@y\r\nSubject: x\r\n\r\n"
            "..dot\r\n>From me\r\n...two\r\n\r\n");
  CopyOptions plain;
  plain.return_path = false;
  EXPECT_EQ(FormatCopy(plain, ".dot\nFrom me\n"), ".dot\nFrom me\n");
}

TEST(Copy, QuoteAddress) {
  struct {
    const char* in;
    const char* want;
  } cases[] = {
      {"a@b.test", "a@b.test"},       {"a b@b.test", "\"a b\"@b.test"}, {"x\"y@b", "\"x\\\"y\"@b"},
      {"first.last@b", "first.last@b"}, {"", ""},                         {"MAILER-DAEMON", "MAILER-DAEMON"},
  };
  for (const auto& c : cases) EXPECT_EQ(QuoteAddress(c.in), c.want) << c.in;
}

}  // namespace
}  // namespace postern::mda
