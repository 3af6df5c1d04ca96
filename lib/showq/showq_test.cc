// showq/showq_test.cc — golden tests of the mailq listing (Postfix's
// showq_compat format) and postqueue -j's JSON lines over a real queue with
// deferred, active and held mail, and the table of Postfix queue names.
#include "postern/showq/showq.h"
#include "postern/queue/testing.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>

namespace postern::showq {
namespace {

namespace fs = std::filesystem;

class MailqTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("TZ", "UTC", 1);
    tzset();
    std::string tmpl = fs::temp_directory_path() / "mailq_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto q = queue::Queue::Open(dir_, queue::Options{});
    ASSERT_TRUE(q.ok()) << q.status().message;
    q_ = std::move(*q);
  }
  void TearDown() override {
    q_.reset();
    fs::remove_all(dir_);
  }
  queue::MsgId Enqueue(std::string sender, int64_t arrival, size_t size, std::vector<std::string> rcpts) {
    queue::MessageRecord rec;
    rec.sender = std::move(sender);
    rec.arrival = arrival;
    return queue::testing::EnqueueOne(*q_, rec, std::string(size, 'x'), rcpts);
  }
  std::vector<queue::Envelope> Envs(queue::MsgId id) { return *q_->Envelopes(id); }
  // What a listing writes.
  std::string Capture(bool (*list)(queue::Queue&, FILE*)) {
    char* buf = nullptr;
    size_t len = 0;
    FILE* f = open_memstream(&buf, &len);
    EXPECT_TRUE(list(*q_, f));
    fclose(f);
    std::string s(buf, len);
    free(buf);
    return s;
  }
  std::string List() { return Capture(ListQueue); }
  std::string dir_;
  std::unique_ptr<queue::Queue> q_;
};

TEST_F(MailqTest, EmptyQueue) { EXPECT_EQ(List(), "Mail queue is empty\n"); }

TEST_F(MailqTest, DeferredActiveAndHeldMessagesInPostfixFormat) {
  // Mon Nov 23 09:12:01 2026 UTC and a single-digit day for asctime's padding.
  const int64_t t1 = 1795425121, t2 = 1793696400;
  queue::MsgId deferred = Enqueue("alice@example.org", t1, 2048, {"b@x.test", "c@x.test", "d@y.test"});
  queue::MsgId active = Enqueue("", t2, 600, {"postmaster@example.org"});
  queue::MsgId held = Enqueue("carol@example.org", t1, 100, {"e@z.test"});
  auto de = Envs(deferred);
  ASSERT_EQ(de.size(), 3u);
  const std::string why = "connect to mx.x.test[192.0.2.1]:25: Connection refused";
  for (const auto& e : de) {
    queue::EnvelopeUpdate u;
    u.state = queue::State::kDeferred;
    u.last_error = e.recipient == "d@y.test" ? "host mx.y.test said: 451 try later" : why;
    ASSERT_TRUE(q_->Update(e.id, u).ok());
  }
  queue::EnvelopeUpdate ua;
  ua.state = queue::State::kActive;
  ASSERT_TRUE(q_->Update(Envs(active)[0].id, ua).ok());
  ASSERT_TRUE(q_->Hold(held).ok());

  std::map<queue::MsgId, std::string> block;
  auto pad = [](const std::string& r) { return std::string(76 - r.size(), ' ') + "(" + r + ")\n"; };
  const std::string rc(41, ' ');
  block[deferred] = queue::FormatMsgId(deferred) + "       2048 Mon Nov 23 09:12:01  alice@example.org\n" + pad(why) +
                    rc + "b@x.test\n" + rc + "c@x.test\n" + pad("host mx.y.test said: 451 try later") + rc +
                    "d@y.test\n";
  block[active] = queue::FormatMsgId(active) + "*       600 Tue Nov  3 09:00:00  MAILER-DAEMON\n" + rc +
                  "postmaster@example.org\n";
  block[held] = queue::FormatMsgId(held) + "!       100 Mon Nov 23 09:12:01  carol@example.org\n" + rc + "e@z.test\n";
  std::string want = "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n";
  bool first = true;
  for (auto& [id, text] : block) {  // queue id order
    if (!first) want += "\n";
    first = false;
    want += text;
  }
  want += "\n-- 2 Kbytes in 3 Requests.\n";
  EXPECT_EQ(List(), want);
}

TEST_F(MailqTest, OneRequestIsSingular) {
  Enqueue("a@example.org", 1795425121, 10, {"b@x.test"});
  std::string s = List();
  EXPECT_TRUE(s.ends_with("\n-- 0 Kbytes in 1 Request.\n")) << s;
}

TEST_F(MailqTest, JsonLinesCarryPostfixFieldsAndDelayReasons) {
  queue::MsgId id = Enqueue("alice@example.org", 1795425121, 321, {"b@x.test", "c@x.test"});
  auto envs = Envs(id);
  queue::EnvelopeUpdate u;
  u.state = queue::State::kDeferred;
  u.last_error = "host mx said: 451 \"busy\"";
  ASSERT_TRUE(q_->Update(envs[0].id, u).ok());
  std::string got = Capture(ListJson);
  std::string first = Envs(id)[0].recipient, second = Envs(id)[1].recipient;
  auto rcpt = [&](const std::string& a) {
    return a == Envs(id)[0].recipient ? "{\"address\": \"" + a + "\", \"delay_reason\": \"host mx said: 451 \\\"busy\\\"\"}"
                                      : "{\"address\": \"" + a + "\"}";
  };
  EXPECT_EQ(got, "{\"queue_name\": \"deferred\", \"queue_id\": \"" + queue::FormatMsgId(id) +
                     "\", \"arrival_time\": 1795425121, \"message_size\": 321, \"forced_expire\": false, "
                     "\"sender\": \"alice@example.org\", \"recipients\": [" + rcpt(first) + ", " + rcpt(second) + "]}\n");
}

TEST(Json, NullSenderIsMailerDaemon) {
  queue::MessageRecord m;
  m.id = 0x0a1b2c3d;
  queue::Envelope e;
  e.recipient = "r@x.test";
  EXPECT_EQ(FormatJson(m, {e}, QueueName::kIncoming),
            "{\"queue_name\": \"incoming\", \"queue_id\": \"0a1b2c3d\", \"arrival_time\": 0, \"message_size\": 0, "
            "\"forced_expire\": false, \"sender\": \"MAILER-DAEMON\", \"recipients\": [{\"address\": \"r@x.test\"}]}");
}

TEST(QueueNames, MessageQueueFollowsItsEnvelopes) {
  using S = queue::State;
  struct Case {
    std::vector<S> states;
    QueueName want;
  } cases[] = {
      {{S::kIncoming}, QueueName::kIncoming},
      {{S::kIncoming, S::kDeferred}, QueueName::kDeferred},
      {{S::kDeferred, S::kHold}, QueueName::kHold},
      {{S::kHold, S::kActive, S::kDeferred}, QueueName::kActive},
      {{S::kCorrupt}, QueueName::kCorrupt},
      {{S::kCorrupt, S::kIncoming}, QueueName::kIncoming},
  };
  for (const auto& c : cases) {
    std::vector<queue::Envelope> envs;
    for (S s : c.states) {
      envs.emplace_back();
      envs.back().state = s;
    }
    EXPECT_EQ(QueueOf(envs), c.want) << Name(c.want);
  }
  EXPECT_EQ(QueueOf({}), std::nullopt);
  for (auto n : {"maildrop", "incoming", "active", "deferred", "hold", "corrupt"})
    EXPECT_EQ(Name(*ParseQueueName(n)), n);
  EXPECT_EQ(ParseQueueName("Deferred"), std::nullopt);
  EXPECT_EQ(ParseQueueName("bounce"), std::nullopt);
}

}  // namespace
}  // namespace postern::showq
