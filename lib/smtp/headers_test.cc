// smtp/headers_test.cc — the streaming header filter: Return-Path removal,
// end-of-headers detection, every chunk split giving the same result.
#include "postern/smtp/headers.h"

#include "postern/smtp/filter_test_util.h"

#include <gtest/gtest.h>

namespace postern::smtp {
namespace {

TEST(HeaderFilter, Table) {
  struct { const char* name; std::string in, out; unsigned removed; uint64_t header_bytes; } cases[] = {
      {"removes Return-Path", "Return-Path: <evil@x>\r\nSubject: hi\r\n\r\nbody\r\n",
       "Subject: hi\r\n\r\nbody\r\n", 1, 15},
      {"case and blank before colon", "From: a\r\nreturn-path : <e@x>\r\n\r\nb\r\n", "From: a\r\n\r\nb\r\n", 1, 11},
      {"continuation lines go too", "Return-Path: <a@x>\r\n  folded\r\n\tmore\r\nTo: b\r\n\r\n",
       "To: b\r\n\r\n", 1, 9},
      {"continuation of kept header stays", "Subject: a\r\n b\r\nReturn-Path: <x>\r\n\r\n",
       "Subject: a\r\n b\r\n\r\n", 1, 18},
      {"several", "Return-Path: <a>\r\nReturn-Path: <b>\r\nX: y\r\n\r\n", "X: y\r\n\r\n", 2, 8},
      {"only in headers", "X: y\r\n\r\nReturn-Path: <a>\r\n", "X: y\r\n\r\nReturn-Path: <a>\r\n", 0, 8},
      {"body without headers", "Hello there\r\nReturn-Path: <a>\r\n", "Hello there\r\nReturn-Path: <a>\r\n", 0, 0},
      {"similar name kept", "Return-Paths: x\r\nX-Return-Path: y\r\n\r\n",
       "Return-Paths: x\r\nX-Return-Path: y\r\n\r\n", 0, 37},
      {"LF lines", "Return-Path: <a>\nX: y\n\nbody\n", "X: y\n\nbody\n", 1, 6},
      {"no empty line at all", "Return-Path: <a>\r\nX: y\r\n", "X: y\r\n", 1, 6},
      {"partial name at end kept", "X: y\r\nReturn-Pa", "X: y\r\nReturn-Pa", 0, 6},
  };
  for (const auto& c : cases) {
    for (size_t chunk : {size_t(1), size_t(2), size_t(5), size_t(4096)}) {
      HeaderFilter f;
      EXPECT_EQ(testing::Chunked(c.in, chunk, &f), c.out) << c.name << " chunk " << chunk;
      EXPECT_EQ(f.removed(), c.removed) << c.name;
      EXPECT_EQ(f.header_bytes(), c.header_bytes) << c.name << " chunk " << chunk;
    }
  }
}

TEST(HeaderFilter, FindsEndOfHeaders) {
  HeaderFilter f;
  std::string buf = "Subject: x\r\n";
  f.Apply(&buf, 0);
  EXPECT_FALSE(f.in_body());
  size_t from = buf.size();
  buf += "\r\nbody";
  f.Apply(&buf, from);
  EXPECT_TRUE(f.in_body());
  EXPECT_EQ(f.header_bytes(), 14u);
  EXPECT_EQ(buf, "Subject: x\r\n\r\nbody");
}

TEST(HeaderFilter, AddsMissingHeadersAtTheEndOfTheBlock) {
  struct { const char* name; std::string in, out, message_id; } cases[] = {
      {"all missing", "Subject: hi\r\n\r\nbody\r\n",
       "Subject: hi\r\nMessage-Id: <m@h>\r\nDate: d\r\n\r\nbody\r\n", "<m@h>"},
      {"present ones kept, any case", "message-id: <own@x>\r\n\r\nb\r\n",
       "message-id: <own@x>\r\nDate: d\r\n\r\nb\r\n", "<own@x>"},
      {"body without empty line gets one", "no header here\r\n",
       "Message-Id: <m@h>\r\nDate: d\r\n\r\nno header here\r\n", "<m@h>"},
      {"headers only, no empty line", "Subject: s\r\n", "Subject: s\r\nMessage-Id: <m@h>\r\nDate: d\r\n",
       "<m@h>"},
      {"last header without line end", "Subject: s", "Subject: s\r\nMessage-Id: <m@h>\r\nDate: d\r\n", "<m@h>"},
      {"a Date in the body does not count", "X: y\r\n\r\nDate: body\r\n",
       "X: y\r\nMessage-Id: <m@h>\r\nDate: d\r\n\r\nDate: body\r\n", "<m@h>"},
  };
  for (const auto& c : cases) {
    for (size_t chunk : {size_t(1), size_t(3), size_t(4096)}) {
      HeaderFilter f;
      f.AddIfMissing("Message-Id", "<m@h>");
      f.AddIfMissing("Date", "d");
      EXPECT_EQ(testing::Chunked(c.in, chunk, &f), c.out) << c.name << " chunk " << chunk;
      EXPECT_TRUE(f.has_message_id()) << c.name;
      std::string id = f.message_id();
      EXPECT_NE(id.find(c.message_id), std::string::npos) << c.name << ": " << id;
    }
  }
}

TEST(HeaderFilter, OtherNames) {
  HeaderFilter::Options o;
  o.drop = {"Bcc", "Return-Path"};
  HeaderFilter f(o);
  EXPECT_EQ(testing::Chunked("To: a\r\nBcc: secret\r\nReturn-Path: <x>\r\n\r\n", 3, &f), "To: a\r\n\r\n");
  EXPECT_EQ(f.removed(), 2u);
}

TEST(HeaderFilter, CountsHopHeadersOfTheHeaderBlockOnly) {
  HeaderFilter::Options o;
  o.hops = {"Received", "Delivered-To"};
  const std::string in =
      "Received: from a\r\n\tby b\r\nreceived : x\r\nDelivered-To: u@x\r\nX-Received: no\r\n"
      "Subject: s\r\n\r\nReceived: in the body\r\n";
  for (size_t chunk : {size_t(1), size_t(3), size_t(4096)}) {
    HeaderFilter f(o);
    EXPECT_EQ(testing::Chunked(in, chunk, &f), in) << chunk;
    EXPECT_EQ(f.hops(), 3u) << chunk;
  }
}

TEST(HeaderFilter, CutsAHeaderAtTheSizeLimit) {
  HeaderFilter::Options o;
  o.header_size_limit = 20;
  struct { const char* name; std::string in, out; unsigned truncated; } cases[] = {
      {"short header kept", "Subject: 0123456\r\n\r\nb\r\n", "Subject: 0123456\r\n\r\nb\r\n", 0},
      {"long line cut, CRLF kept", "Subject: 0123456789abcdefghij\r\nTo: x\r\n\r\nb\r\n",
       "Subject: 0123456789a\r\nTo: x\r\n\r\nb\r\n", 1},
      {"continuation lines past the limit dropped", "Subject: 01234\r\n 56789\r\n abcdef\r\n more\r\n\r\n",
       "Subject: 01234\r\n 567\r\n\r\n", 1},
      {"cut before a CR never leaves it alone", "Subject: 0123456789\r\nX: y\r\n\r\n",
       "Subject: 0123456789\r\nX: y\r\n\r\n", 1},
      {"cut just after a CR", "Subject: 012345678\r\n more\r\n\r\n", "Subject: 012345678\r\n\r\n", 1},
      {"cut header at the end of content", "Subject: 0123456789abcdefghij", "Subject: 0123456789a\r\n", 1},
      {"the body is not limited", "X: y\r\n\r\n0123456789012345678901234567890\r\n",
       "X: y\r\n\r\n0123456789012345678901234567890\r\n", 0},
  };
  for (const auto& c : cases) {
    for (size_t chunk : {size_t(1), size_t(2), size_t(7), size_t(4096)}) {
      HeaderFilter f(o);
      EXPECT_EQ(testing::Chunked(c.in, chunk, &f), c.out) << c.name << " chunk " << chunk;
      EXPECT_EQ(f.truncated(), c.truncated) << c.name << " chunk " << chunk;
    }
  }
}

TEST(HeaderFilter, AMegabyteHeaderIsNotStoredWhole) {
  HeaderFilter::Options o;
  o.header_size_limit = 102400;
  HeaderFilter f(o);
  std::string buf;
  const std::string piece(64 * 1024, 'a');
  size_t stored = 0;
  buf = "X-Big: ";
  f.Apply(&buf, 0);
  for (int i = 0; i < 16; ++i) {
    size_t from = buf.size();
    buf += piece;
    f.Apply(&buf, from);
    stored += buf.size();  // the caller writes buf out after each call
    buf.clear();
  }
  buf += "\r\nSubject: s\r\n\r\nbody\r\n";
  f.Apply(&buf, 0);
  f.Finish(&buf);
  stored += buf.size();
  EXPECT_EQ(f.truncated(), 1u);
  EXPECT_EQ(stored, 102400u + 2 + 12 + 2 + 6);
}

TEST(HeaderFilter, MessageId) {
  struct { const char* name; std::string in, id; bool has; } cases[] = {
      {"plain", "Subject: x\r\nMessage-ID: <a@b>\r\n\r\nbody\r\n", " <a@b>\r\n", true},
      {"folded", "message-id:\r\n <a@b>\r\nTo: c\r\n\r\n", "\r\n <a@b>\r\n", true},
      {"first of two", "Message-Id: <1@x>\nMessage-Id: <2@x>\n\n", " <1@x>\n", true},
      {"none", "Subject: x\r\n\r\nMessage-ID: <in@body>\r\n", "", false},
      {"similar name", "X-Message-ID: <a@b>\r\n\r\n", "", false},
  };
  for (const auto& c : cases) {
    for (size_t chunk : {size_t(1), size_t(3), size_t(4096)}) {
      HeaderFilter f;
      testing::Chunked(c.in, chunk, &f);
      EXPECT_EQ(f.message_id(), c.id) << c.name << " chunk " << chunk;
      EXPECT_EQ(f.has_message_id(), c.has) << c.name << " chunk " << chunk;
    }
  }
}

}  // namespace
}  // namespace postern::smtp
