// http/response_test.cc — the HTTPS client's response parser: framing by
// Content-Length, chunks and close, limits, and malformed answers.
#include "postern/http/response.h"

#include <gtest/gtest.h>

namespace postern::http {
namespace {

using S = Response::State;

TEST(HttpResponse, ContentLengthBody) {
  std::string in = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n\r\nhello";
  EXPECT_EQ(ParseResponse(in.substr(0, in.size() - 1), false, {}).state, S::kIncomplete);
  Response r = ParseResponse(in, false, {});
  ASSERT_EQ(r.state, S::kComplete) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain");
  EXPECT_EQ(r.body, "hello");
  EXPECT_EQ(ParseResponse(in.substr(0, in.size() - 1), true, {}).state, S::kBad);
}

TEST(HttpResponse, BodyEndingAtCloseAndChunkedBody) {
  std::string close = "HTTP/1.0 200 OK\nContent-Type: text/plain\n\nversion: STSv1\n";
  EXPECT_EQ(ParseResponse(close, false, {}).state, S::kIncomplete);
  EXPECT_EQ(ParseResponse(close, true, {}).body, "version: STSv1\n");
  std::string chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nabcd\r\n2\r\nef\r\n0\r\n\r\n";
  Response r = ParseResponse(chunked, false, {});
  ASSERT_EQ(r.state, S::kComplete) << r.error;
  EXPECT_EQ(r.body, "abcdef");
  EXPECT_EQ(ParseResponse(chunked.substr(0, chunked.size() - 2), false, {}).state, S::kIncomplete);
  EXPECT_EQ(ParseResponse(chunked.substr(0, chunked.size() - 2), true, {}).state, S::kBad);
}

TEST(HttpResponse, LimitsAndMalformedAnswers) {
  ResponseLimits small{64, 4};
  EXPECT_EQ(ParseResponse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false, small).state, S::kTooLarge);
  EXPECT_EQ(ParseResponse("HTTP/1.1 200 OK\r\n\r\nhello", true, small).state, S::kTooLarge);
  EXPECT_EQ(ParseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", false, small)
                .state,
            S::kTooLarge);
  EXPECT_EQ(ParseResponse("HTTP/1.1 200 OK\r\nX: " + std::string(100, 'a') + "\r\n", false, small).state, S::kTooLarge);
  EXPECT_EQ(ParseResponse("SMTP 220 hi\r\n", false, {}).state, S::kBad);
  EXPECT_EQ(ParseResponse("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false, {}).state, S::kBad);
  EXPECT_EQ(ParseResponse("HTTP/1.1 200 OK\r\nno colon\r\n\r\n", false, {}).state, S::kBad);
  EXPECT_EQ(ParseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false, {}).state, S::kBad);
  Response redirect = ParseResponse("HTTP/1.1 301 Moved\r\nLocation: https://x/\r\nContent-Length: 0\r\n\r\n", false, {});
  EXPECT_EQ(redirect.status, 301);
  EXPECT_EQ(redirect.location, "https://x/");
}

TEST(HttpResponse, GetRequestAsksForOneResourceAndCloses) {
  EXPECT_EQ(GetRequest("mta-sts.example.com", "/.well-known/mta-sts.txt"),
            "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.example.com\r\nUser-Agent: postern\r\n"
            "Accept: text/plain\r\nConnection: close\r\n\r\n");
}

}  // namespace
}  // namespace postern::http
