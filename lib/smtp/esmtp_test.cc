// smtp/esmtp_test.cc — table tests for ESMTP parameters and xtext.
#include "postern/smtp/esmtp.h"

#include <gtest/gtest.h>

namespace postern::smtp {
namespace {

TEST(Esmtp, SplitParams) {
  auto r = SplitParams("SIZE=100  BODY=8BITMIME\tSMTPUTF8");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].key, "SIZE");
  EXPECT_EQ((*r)[0].value, "100");
  EXPECT_TRUE((*r)[0].has_value);
  EXPECT_EQ((*r)[2].key, "SMTPUTF8");
  EXPECT_FALSE((*r)[2].has_value);
  EXPECT_TRUE(SplitParams("").ok());
  EXPECT_TRUE(SplitParams("   ").ok());
  struct { const char* in; bool ok; } cases[] = {
      {"SIZE=1 size=2", false},  // duplicate, case-insensitive
      {"=1", false}, {"-X=1", false}, {"SI_ZE=1", false}, {"SIZE=", false},
      {"SIZE==1", false}, {"X=\x01", false}, {"X=\xc3\xa9", true}, {"X=\xff", false},
      {"A B C D E F G H I J K L M N O P", true}, {"A B C D E F G H I J K L M N O P Q", false},
  };
  for (const auto& c : cases) EXPECT_EQ(SplitParams(c.in).ok(), c.ok) << c.in;
}

TEST(Esmtp, MailParams) {
  MailParams p;
  auto st = ParseMailParams("SIZE=12345 BODY=8bitmime SMTPUTF8 RET=HDRS ENVID=QQ+2B314 AUTH=<>", &p);
  ASSERT_TRUE(st.ok()) << st.text;
  EXPECT_EQ(p.size, 12345u);
  EXPECT_EQ(p.body, Body::k8BitMime);
  EXPECT_TRUE(p.smtputf8);
  EXPECT_EQ(p.ret, Ret::kHdrs);
  EXPECT_EQ(p.envid, "QQ+314");
  EXPECT_EQ(p.auth, "<>");
  ASSERT_TRUE(ParseMailParams("", &p).ok());
  EXPECT_FALSE(p.size.has_value());  // reset on each call
  EXPECT_EQ(p.body, Body::kUnspecified);

  struct { const char* in; ParamError err; } cases[] = {
      {"BODY=7BIT", ParamError::kNone}, {"BODY=BINARYMIME", ParamError::kNone},
      {"RET=FULL", ParamError::kNone}, {"SIZE=0", ParamError::kNone},
      {"SIZE=18446744073709551615", ParamError::kNone},
      {"SIZE=18446744073709551616", ParamError::kSyntax}, {"SIZE=-1", ParamError::kSyntax},
      {"SIZE=1k", ParamError::kSyntax}, {"SIZE", ParamError::kSyntax},
      {"BODY=9BIT", ParamError::kSyntax}, {"RET=ALL", ParamError::kSyntax},
      {"SMTPUTF8=yes", ParamError::kSyntax}, {"ENVID=a+2", ParamError::kSyntax},
      {"ENVID", ParamError::kSyntax}, {"AUTH=a+ZZb", ParamError::kSyntax},
      {"SIZE=1 SIZE=2", ParamError::kSyntax}, {"XFOO=1", ParamError::kUnsupported},
      {"NOTIFY=NEVER", ParamError::kUnsupported},
  };
  for (const auto& c : cases) {
    auto s = ParseMailParams(c.in, &p);
    EXPECT_EQ(s.error, c.err) << c.in << ": " << s.text;
    if (!s.ok()) {
      EXPECT_FALSE(s.text.empty());
    }
  }
  EXPECT_EQ(ParseMailParams("ENVID=" + std::string(100, 'a'), &p).error, ParamError::kNone);
  EXPECT_EQ(ParseMailParams("ENVID=" + std::string(101, 'a'), &p).error, ParamError::kSyntax);
}

TEST(Esmtp, RcptParams) {
  RcptParams p;
  auto st = ParseRcptParams("NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;user+2Bx@example.org", &p);
  ASSERT_TRUE(st.ok()) << st.text;
  EXPECT_EQ(p.notify, unsigned(kNotifySuccess | kNotifyFailure));
  EXPECT_EQ(p.orcpt_type, "rfc822");
  EXPECT_EQ(p.orcpt, "user+x@example.org");
  struct { const char* in; ParamError err; unsigned notify; } cases[] = {
      {"NOTIFY=NEVER", ParamError::kNone, kNotifyNever},
      {"notify=delay", ParamError::kNone, kNotifyDelay},
      {"NOTIFY=SUCCESS,FAILURE,DELAY", ParamError::kNone,
       kNotifySuccess | kNotifyFailure | kNotifyDelay},
      {"NOTIFY=NEVER,SUCCESS", ParamError::kSyntax, 0},
      {"NOTIFY=SUCCESS,SUCCESS", ParamError::kSyntax, 0},
      {"NOTIFY=SOMETIMES", ParamError::kSyntax, 0},
      {"NOTIFY=,", ParamError::kSyntax, 0},
      {"NOTIFY", ParamError::kSyntax, 0},
      {"ORCPT=rfc822", ParamError::kSyntax, 0},
      {"ORCPT=;a@b", ParamError::kSyntax, 0},
      {"ORCPT=rfc822;", ParamError::kSyntax, 0},
      {"ORCPT=rfc822;a+4", ParamError::kSyntax, 0},
      {"SIZE=10", ParamError::kUnsupported, 0},
  };
  for (const auto& c : cases) {
    auto s = ParseRcptParams(c.in, &p);
    EXPECT_EQ(s.error, c.err) << c.in << ": " << s.text;
    if (s.ok()) {
      EXPECT_EQ(p.notify, c.notify) << c.in;
    }
  }
  EXPECT_EQ(ParseRcptParams("ORCPT=rfc822;" + std::string(493, 'a'), &p).error, ParamError::kNone);
  EXPECT_EQ(ParseRcptParams("ORCPT=rfc822;" + std::string(494, 'a'), &p).error, ParamError::kSyntax);
}

TEST(Esmtp, FormatNotify) {
  EXPECT_EQ(FormatNotify(kNotifyNever), "NEVER");
  EXPECT_EQ(FormatNotify(kNotifyFailure | kNotifyDelay), "FAILURE,DELAY");
  EXPECT_EQ(FormatNotify(kNotifySuccess | kNotifyFailure | kNotifyDelay), "SUCCESS,FAILURE,DELAY");
}

TEST(Esmtp, FormatThenParseRoundTrip) {
  MailParams m;
  m.size = 4096;
  m.body = Body::k8BitMime;
  m.smtputf8 = true;
  m.ret = Ret::kFull;
  m.envid = "id with space+plus";
  m.auth = "<>";
  std::string wire = FormatMailParams(m);
  EXPECT_EQ(wire, " SIZE=4096 BODY=8BITMIME SMTPUTF8 RET=FULL ENVID=id+20with+20space+2Bplus AUTH=<>");
  MailParams back;
  ASSERT_TRUE(ParseMailParams(wire, &back).ok());
  EXPECT_EQ(back.size, m.size);
  EXPECT_EQ(back.body, m.body);
  EXPECT_EQ(back.smtputf8, m.smtputf8);
  EXPECT_EQ(back.ret, m.ret);
  EXPECT_EQ(back.envid, m.envid);
  EXPECT_EQ(back.auth, m.auth);
  EXPECT_EQ(FormatMailParams(MailParams{}), "");

  RcptParams r;
  r.notify = kNotifyFailure | kNotifyDelay;
  r.orcpt = "u=1@x.test";  // type defaults to rfc822
  wire = FormatRcptParams(r);
  EXPECT_EQ(wire, " NOTIFY=FAILURE,DELAY ORCPT=rfc822;u+3D1@x.test");
  RcptParams rback;
  ASSERT_TRUE(ParseRcptParams(wire, &rback).ok());
  EXPECT_EQ(rback.notify, r.notify);
  EXPECT_EQ(rback.orcpt, r.orcpt);
  EXPECT_EQ(rback.orcpt_type, "rfc822");
  EXPECT_EQ(FormatRcptParams(RcptParams{}), "");
}

TEST(Esmtp, Xtext) {
  struct { std::string raw; const char* x; } cases[] = {
      {"abc", "abc"}, {"a+b", "a+2Bb"}, {"a=b", "a+3Db"}, {"a b", "a+20b"},
      {std::string("\0\xff", 2), "+00+FF"}, {"", ""}, {"~!", "~!"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(XtextEncode(c.raw), c.x);
    auto d = XtextDecode(c.x);
    ASSERT_TRUE(d.ok()) << c.x;
    EXPECT_EQ(*d, c.raw);
  }
  EXPECT_EQ(*XtextDecode("a+2bb"), "a+b");  // lower-case hex tolerated on input
  for (const char* bad : {"+", "+2", "+G0", "a b", "a=b", "\x7f", "\xc3\xa9"})
    EXPECT_FALSE(XtextDecode(bad).ok()) << bad;
  // Every octet survives a round trip.
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(char(i));
  EXPECT_EQ(*XtextDecode(XtextEncode(all)), all);
}

}  // namespace
}  // namespace postern::smtp
