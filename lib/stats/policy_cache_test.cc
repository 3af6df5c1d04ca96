// stats/policy_cache_test.cc — the record codec, redis: names, greylist and limit
// keys, and the LMDB backend through the asynchronous interface.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cstdlib>
#include <filesystem>

#include "postern/stats/policy_cache.h"
#include "postern/stats/cache_keys.h"
#include "postern/stats/redis_cache.h"

namespace postern::cache {
namespace {

TEST(CacheRecord, RoundTripsEveryField) {
  const Record cases[] = {
      {"", 0, 0, 0, 0},
      {"grey", 1, 1700000000, 1700000300, 1700172800},
      {std::string("bin\0ary", 7), ~0ull, 1, 2, 3},
  };
  for (const Record& r : cases) {
    Record got;
    ASSERT_TRUE(stats::DecodeRecord(stats::EncodeRecord(r), &got));
    EXPECT_EQ(got.value, r.value);
    EXPECT_EQ(got.hits, r.hits);
    EXPECT_EQ(got.created, r.created);
    EXPECT_EQ(got.touched, r.touched);
    EXPECT_EQ(got.expires, r.expires);
  }
}

TEST(CacheRecord, ReadsTheOlderFormAndRefusesShortOnes) {
  std::string old("\0\0\0\0\0\0\0\x2a" "ok", 10);  // expires 42, value "ok"
  Record r;
  ASSERT_TRUE(stats::DecodeRecord(old, &r));
  EXPECT_EQ(r.expires, 42);
  EXPECT_EQ(r.value, "ok");
  EXPECT_EQ(r.hits, 0u);
  EXPECT_FALSE(stats::DecodeRecord("short", &r));
  EXPECT_FALSE(stats::DecodeRecord(std::string(1, '\xff') + "cut", &r));
}

TEST(RedisRecord, FromHashFields) {
  std::string v = "grey", h = "3", c = "10", t = "20", e = "0", bad = "x";
  const std::string* ok[5] = {&v, &h, &c, &t, &e};
  Record r;
  ASSERT_TRUE(RecordFromFields(ok, &r));
  EXPECT_EQ(r.hits, 3u);
  EXPECT_EQ(r.touched, 20);
  const std::string* garbage[5] = {&v, &bad, &c, &t, &e};
  EXPECT_FALSE(RecordFromFields(garbage, &r));
  const std::string* missing[5] = {&v, nullptr, &c, &t, &e};
  EXPECT_FALSE(RecordFromFields(missing, &r));
  EXPECT_EQ(GlobPrefix("grey:"), "grey:*");
  EXPECT_EQ(GlobPrefix("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\*");
}

TEST(RedisTarget, ParsesTheDatabaseNames) {
  struct Case {
    const char* in;
    bool ok;
    const char* host;
    int port;
    const char* socket;
    int db;
  };
  const Case cases[] = {
      {"redis:127.0.0.1:6380", true, "127.0.0.1", 6380, "", 0},
      {"redis:localhost", true, "localhost", 6379, "", 0},
      {"redis:127.0.0.1:6379?db=2", true, "127.0.0.1", 6379, "", 2},
      {"redis:[::1]:7000", true, "::1", 7000, "", 0},
      {"redis:unix:/run/redis.sock?db=1", true, "", 6379, "/run/redis.sock", 1},
      {"redis:unix:relative", false, "", 0, "", 0},
      {"redis:127.0.0.1:0", false, "", 0, "", 0},
      {"redis:127.0.0.1:x", false, "", 0, "", 0},
      {"redis::6379", false, "", 0, "", 0},
      {"redis:h?db=x", false, "", 0, "", 0},
      {"redis:h?user=x", false, "", 0, "", 0},
  };
  for (const Case& c : cases) {
    auto t = ParseRedisTarget(c.in);
    ASSERT_EQ(bool(t), c.ok) << c.in;
    if (!c.ok) continue;
    EXPECT_EQ(t->host, c.host) << c.in;
    EXPECT_EQ(t->port, c.port) << c.in;
    EXPECT_EQ(t->socket, c.socket) << c.in;
    EXPECT_EQ(t->db, c.db) << c.in;
  }
  EXPECT_TRUE(IsRedis("redis:x"));
  EXPECT_FALSE(IsRedis("/var/spool/postern/policy_cache.lmdb"));
}

TEST(GreyKey, BuildsFromTheConfiguredFields) {
  GreyFacts f{"192.0.2.77", "Mail.Example.COM", "HELO.example", "Sender@Example.org", "rcpt@example.net"};
  using G = GreyField;
  struct Case {
    std::vector<GreyField> fields;
    const char* key;
  };
  const Case cases[] = {
      {{G::kClientNetwork, G::kSender, G::kRecipient}, "grey:192.0.2.0/24,sender@example.org,rcpt@example.net"},
      {{G::kClientAddress, G::kRecipient}, "grey:192.0.2.77,rcpt@example.net"},
      {{G::kClientName, G::kHeloName}, "grey:mail.example.com,helo.example"},
      {{G::kClientNetwork, G::kSender, G::kContent}, "grey:192.0.2.0/24,sender@example.org,0123abcd"},
  };
  f.content = "0123abcd";
  for (const Case& c : cases) EXPECT_EQ(GreyKey(c.fields, f), c.key);
  GreyFacts v6{"2001:db8:1:2:3:4:5:6", "", "", "", ""};
  EXPECT_EQ(GreyKey({G::kClientNetwork, G::kClientName}, v6), "grey:2001:db8:1:2::/64,unknown");
  EXPECT_EQ(GreyWhiteKey({G::kClientNetwork, G::kSender}, "192.0.2.77"), "grey:white:192.0.2.0/24");
  EXPECT_EQ(GreyWhiteKey({G::kClientAddress, G::kSender}, "192.0.2.77"), "grey:white:192.0.2.77");
  std::string longer(600, 'a');
  GreyFacts big{"192.0.2.1", "", "", longer, "x@y"};
  std::string k = GreyKey({G::kSender, G::kRecipient}, big);
  EXPECT_LE(k.size(), stats::PolicyCache::kMaxKey);
  big.recipient = "z@y";
  EXPECT_NE(GreyKey({G::kSender, G::kRecipient}, big), k);  // the tail is hashed, not cut
  EXPECT_TRUE(ParseGreyFields({"client_network", "Sender"}));
  auto with_content = ParseGreyFields({"client_network", "content"});
  ASSERT_TRUE(with_content);
  EXPECT_TRUE(HasContent(*with_content));
  EXPECT_FALSE(HasContent({G::kSender, G::kRecipient}));
  EXPECT_FALSE(ParseGreyFields({"client_ip"}));
  EXPECT_FALSE(ParseGreyFields({}));
  EXPECT_EQ(MessageLimitKey("sender", "A@Example.org"), "msg-limit:sender:a@example.org");
  EXPECT_EQ(DumbKey("192.0.2.7"), "dumb:192.0.2.7");
  EXPECT_EQ(DumbKey("2001:DB8::1"), "dumb:2001:db8::1");
}

TEST(LmdbCache, AnswersInlineThroughTheInterface) {
  std::string dir = std::filesystem::temp_directory_path() / ("cache_test." + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    auto c = Open(&loop, Options{dir + "/cache.lmdb", "", std::chrono::milliseconds(1000)});
    ASSERT_TRUE(c) << c.error();
    Cache& cache = **c;
    uint64_t hits = 0;
    for (int i = 0; i < 3; ++i)
      cache.Hit("msg-limit:sender:a@b", "", 3600, [&](Result<Record> r) { hits = r ? r->hits : 0; });
    EXPECT_EQ(hits, 3u);
    bool put = false;
    cache.Put("grey:1,a,b", "pass", 60, [&](Result<bool> r) { put = r && *r; });
    EXPECT_TRUE(put);
    size_t listed = 0;
    cache.List("grey:", [&](Result<Listing> l) { listed = l ? l->size() : 99; });
    EXPECT_EQ(listed, 1u);
    bool deleted = false;
    cache.Delete("grey:1,a,b", [&](Result<bool> r) { deleted = r && *r; });
    EXPECT_TRUE(deleted);
    std::optional<Record> got = Record{};
    cache.Get("grey:1,a,b", [&](Result<std::optional<Record>> r) { got = r ? *r : Record{}; });
    EXPECT_FALSE(got);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  std::filesystem::remove_all(dir);
}

// A port nobody listens on: the request fails, and the next one within the
// retry delay fails at once, without a new connection.
TEST(RedisCache, ARefusedServerFailsRequestsAndThenFailsFast) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  close(s);  // bound, never listened: refused
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    auto c = Open(&loop, Options{"redis:127.0.0.1:" + std::to_string(ntohs(a.sin_port)), "", std::chrono::milliseconds(2000)});
    ASSERT_TRUE(c) << c.error();
    std::optional<std::string> first, second;
    (*c)->Get("grey:x", [&](Result<std::optional<Record>> r) { first = r ? "found" : r.error(); });
    while (!first) uv_run(&loop, UV_RUN_ONCE);
    EXPECT_NE(first->find("redis:127.0.0.1:"), std::string::npos) << *first;
    EXPECT_EQ(first->find("no answer"), std::string::npos) << "a refused connect fails at once: " << *first;
    (*c)->Hit("grey:x", "", 1, [&](Result<Record> r) { second = r ? "hit" : r.error(); });
    ASSERT_TRUE(second) << "answered at once while the server is known to be down";
    EXPECT_NE(second->find("redis:127.0.0.1:"), std::string::npos) << *second;
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
}

}  // namespace
}  // namespace postern::cache
