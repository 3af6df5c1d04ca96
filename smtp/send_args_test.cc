// smtp/send_args_test.cc — postern send's flags, destination forms and
// .domain rewriting of the envelope and the address headers.
#include "smtp/send_args.h"

#include <gtest/gtest.h>

namespace postern::smtp_client {
namespace {

Result<SendOptions> Parse(std::vector<std::string> words) {
  words.insert(words.begin(), "send");
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  return ParseSendArgs(int(words.size()), argv.data());
}

TEST(SendArgs, Flags) {
  auto o = Parse({"-C", "/etc/x", "-aAdfiops", "-b", "MX1.example", "-bmx2.example", "-g", "gw.example", "-h",
                  "me.example", "-u", "bob", ".dom.example", "example.com", "a", "b@x.example", "c"});
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(o->config_dir, "/etc/x");
  EXPECT_TRUE(o->auth && o->ehlo_first && o->dialogue && o->filter && o->auth_without_tls && o->tls_may &&
              o->ping && o->tls_encrypt);
  EXPECT_EQ(o->busted, (std::vector<std::string>{"mx1.example", "mx2.example"}));
  EXPECT_EQ(o->gateway, "gw.example");
  EXPECT_EQ(o->helo, "me.example");
  EXPECT_EQ(o->user, "bob");
  EXPECT_EQ(o->domain, "dom.example");
  EXPECT_EQ(o->nexthop, "example.com");
  EXPECT_EQ(o->sender, "a@dom.example");
  EXPECT_EQ(o->recipients, (std::vector<std::string>{"b@x.example", "c@dom.example"}));
}

TEST(SendArgs, AuthImpliesEncryptUnlessInsecure) {
  auto a = Parse({"-a", "h", "s", "r"});
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->tls_encrypt);
  auto ai = Parse({"-ai", "h", "s", "r"});
  ASSERT_TRUE(ai);
  EXPECT_FALSE(ai->tls_encrypt);
}

TEST(SendArgs, Errors) {
  for (std::vector<std::string> bad : std::vector<std::vector<std::string>>{
           {"h", "s"}, {"-x", "h", "s", "r"}, {"-g"}, {"udp!h!25", "s", "r"}, {"[::1]:0", "s", "r"},
           {".dom", "h", "s"}, {"-g", "il!x", "h", "s", "r"}}) {
    EXPECT_FALSE(Parse(bad)) << bad.front();
  }
  auto null_sender = Parse({"h", "<>", "r"});
  ASSERT_TRUE(null_sender);
  EXPECT_EQ(null_sender->sender, "");
}

TEST(SendArgs, Destinations) {
  const std::pair<const char*, const char*> cases[] = {
      {"tcp!mx.example!2525", "[mx.example]:2525"}, {"net!127.0.0.1!smtp", "[127.0.0.1]:smtp"},
      {"tcp!mx.example", "[mx.example]"},          {"tcp!::1!26", "[::1]:26"},
      {"[127.0.0.1]:2525", "[127.0.0.1]:2525"},    {"example.com", "example.com"},
      {"mx.example.com:587", "mx.example.com:587"},
  };
  for (auto [in, want] : cases) {
    auto h = DestNexthop(in);
    ASSERT_TRUE(h) << in << ": " << h.error();
    EXPECT_EQ(*h, want) << in;
  }
}

TEST(SendArgs, Qualify) {
  EXPECT_EQ(Qualify("bob", "x.example"), "bob@x.example");
  EXPECT_EQ(Qualify("bob@host", "x.example"), "bob@host.x.example");
  EXPECT_EQ(Qualify("bob@y.example", "x.example"), "bob@y.example");
  EXPECT_EQ(Qualify("bob@[127.0.0.1]", "x.example"), "bob@[127.0.0.1]");
  EXPECT_EQ(Qualify("", "x.example"), "");
}

TEST(SendArgs, QualifyHeaders) {
  const std::pair<const char*, const char*> cases[] = {
      {"From: bob\r\nTo: Al <al>, c@d.example, \"x, y\" <xy@h>\r\n\r\nbody bob\r\n",
       "From: bob@x.example\r\nTo: Al <al@x.example>, c@d.example, \"x, y\" <xy@h.x.example>\r\n\r\nbody bob\r\n"},
      {"Cc: team: a, b;\n\tbcc-me (comment)\nSubject: to: bob\n\nx\n",
       "Cc: team: a@x.example, b@x.example;\n\tbcc-me@x.example (comment)\nSubject: to: bob\n\nx\n"},
      {"Reply-To: <@relay:al>\nX: y\n", "Reply-To: <@relay:al@x.example>\nX: y\n"},
      {"Resent-To: a (not) b\n\n", "Resent-To: a (not) b\n\n"},
  };
  for (auto [in, want] : cases) EXPECT_EQ(QualifyHeaders(in, "x.example"), want) << in;
  EXPECT_EQ(QualifyHeaders("From: bob\n\n", ""), "From: bob\n\n");
}

}  // namespace
}  // namespace postern::smtp_client
