// cleanup/cleanup_test.cc — one message through cleanup into a real queue:
// envelope sender and recipients rewritten (canonical, masquerading, virtual
// with ORCPT), header addresses by class, content filtered in pieces, missing
// headers of a local submission, a table failure refusing the message, the
// header_checks verdict applied at commit.
#include "postern/cleanup/cleanup.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "postern/config/maincf.h"
#include "postern/table/test_util.h"

namespace postern::cleanup {
namespace {

struct Fixture {
  table::testing::TempDir dir;
  std::unique_ptr<queue::Queue> q;
  std::unique_ptr<Cleanup> c;

  explicit Fixture(const std::string& maincf, bool checks = false) {
    auto qq = queue::Queue::Open(dir.path(), queue::Options{});
    EXPECT_TRUE(qq.ok());
    q = std::move(*qq);
    auto cfg = config::Config::Parse("myhostname = mx.example\nmydomain = example\nqueue_directory = " +
                                     dir.path() + "\nrecipient_delimiter = +\n" + maincf);
    EXPECT_TRUE(cfg.ok()) << cfg.error();
    auto cl = Cleanup::FromConfig(*cfg, q.get(), checks);
    EXPECT_TRUE(cl.ok()) << cl.error();
    c = std::move(*cl);
  }

  std::string Body(queue::MsgId id) {
    auto body = q->OpenBody(id);
    EXPECT_TRUE(body.ok());
    std::string got(4096, '\0');
    auto n = body->Read(got.data(), got.size());
    got.resize(n.ok() ? *n : 0);
    return got;
  }
};

const char* kRewriting =
    "canonical_maps = inline:{ { joe = joe.public@example }, { list@example = team@example } }\n"
    "masquerade_domains = example\n"
    "virtual_alias_maps = inline:{ { team@example = ann@example, bob@other.test } }\n";

TEST(Cleanup, RewritesEnvelopeAndHeaders) {
  Fixture f(kRewriting);
  Submission s;
  s.record.sender = "joe@mx.example";
  s.local = true;
  auto m = f.c->Begin(std::move(s));
  ASSERT_TRUE(m.ok()) << m.status().message;
  EXPECT_EQ((*m)->record().sender, "joe.public@example");
  ASSERT_TRUE((*m)->AddRecipient({"list+x@example", "", 0}).ok());
  ASSERT_TRUE((*m)->AddRecipient({"carl@mx.example", "rfc822;carl@mx.example", 0}).ok());
  // Any piece sizes: the header block is held a header at a time.
  std::string text = "Received: by us\r\nFrom: Joe <joe@mx.example>\r\nTo: list@example,\r\n\tx@y.test\r\n"
                     "Subject: joe@mx.example\r\n\r\nFrom: joe@mx.example in the body\r\n";
  for (size_t i = 0; i < text.size(); i += 7) ASSERT_TRUE((*m)->Append(text.substr(i, 7)).ok());
  ASSERT_TRUE((*m)->Finish().ok());
  auto id = f.c->Commit(std::move(*m));
  ASSERT_TRUE(id.ok()) << id.status().message;
  std::string body = f.Body(*id);
  EXPECT_NE(body.find("From: Joe <joe.public@example>\r\nTo: team@example,\r\n\tx@y.test\r\n"
                      "Subject: joe@mx.example\r\n"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("\r\n\r\nFrom: joe@mx.example in the body\r\n"), std::string::npos) << body;
  EXPECT_NE(body.find("Message-Id: <"), std::string::npos) << body;  // local submission
  auto envs = f.q->Envelopes(*id);
  ASSERT_TRUE(envs.ok());
  std::vector<std::pair<std::string, std::string>> got;
  for (const queue::Envelope& e : *envs) got.emplace_back(e.recipient, e.orig_recipient);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::pair<std::string, std::string>>{
                     {"ann+x@example", "rfc822;list+x@example"},
                     {"bob+x@other.test", "rfc822;list+x@example"},
                     {"carl@mx.example", "rfc822;carl@mx.example"}}));
}

// local_header_rewrite_clients said no: the envelope is rewritten, headers not.
TEST(Cleanup, RemoteHeadersStay) {
  Fixture f(kRewriting);
  Submission s;
  s.record.sender = "joe@mx.example";
  s.rewrite_headers = false;
  auto m = f.c->Begin(std::move(s));
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE((*m)->AddRecipient({"x@y.test", "", 0}).ok());
  ASSERT_TRUE((*m)->Append("From: joe@mx.example\r\n\r\nhi\r\n").ok());
  ASSERT_TRUE((*m)->Finish().ok());
  auto id = f.c->Commit(std::move(*m));
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(f.Body(*id), "From: joe@mx.example\r\n\r\nhi\r\n");
  EXPECT_EQ(f.q->GetMessage(*id)->sender, "joe.public@example");
}

TEST(Cleanup, ContentFilterAndHops) {
  using namespace std::string_literals;
  Fixture f("hopcount_limit = 3\nheader_size_limit = 20\n");
  auto m = f.c->Begin(Submission{});
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE((*m)->Append("Received: by us\r\nX: 0123456789abcdefghij\r").ok());
  ASSERT_TRUE((*m)->Append("\n\r\nNUL\0 and CR\r"s).ok());
  ASSERT_TRUE((*m)->Finish().ok());
  EXPECT_EQ((*m)->content().hops(), 1u);
  EXPECT_FALSE((*m)->too_many_hops());
  ASSERT_TRUE((*m)->AddRecipient({"a@example.org", "", 0}).ok());
  auto id = f.c->Commit(std::move(*m));
  ASSERT_TRUE(id.ok()) << id.status().message;
  EXPECT_EQ(f.Body(*id), "Received: by us\r\nX: 0123456789abcdefg\r\n\r\nNUL  and CR ");

  auto loop = f.c->Begin(Submission{});
  ASSERT_TRUE(loop.ok());
  ASSERT_TRUE((*loop)->Append("Received: a\r\nDelivered-To: b@x\r\nReceived: c\r\n\r\n").ok());
  ASSERT_TRUE((*loop)->Finish().ok());
  EXPECT_TRUE((*loop)->too_many_hops());
}

// A rewriting table that fails refuses the message for now; nothing is queued.
TEST(Cleanup, TableFailureRefuses) {
  Fixture f("virtual_alias_maps = lmdb:/nonexistent/postern/virtual\n");
  auto m = f.c->Begin(Submission{});
  ASSERT_TRUE(m.ok());
  queue::Status s = (*m)->AddRecipient({"a@example.org", "", 0});
  EXPECT_EQ(s.code, queue::Code::kIo);
  EXPECT_NE(s.message.find("virtual_alias_maps"), std::string::npos) << s.message;
  EXPECT_FALSE((*m)->Append("x").ok());  // the failure sticks
  EXPECT_FALSE(f.c->Commit(std::move(*m)).ok());
  EXPECT_EQ(f.q->GetCounters().messages, 0u);

  Fixture g("sender_canonical_maps = lmdb:/nonexistent/postern/canonical\n");
  Submission sub;
  sub.record.sender = "a@b";
  EXPECT_EQ(g.c->Begin(std::move(sub)).code(), queue::Code::kIo);
}

// header_checks' verdict is applied once, at commit, for every enqueuer:
// REDIRECT and BCC on the recipients, HOLD, FILTER over the caller's.
TEST(Cleanup, ChecksVerdictAppliedAtCommit) {
  table::testing::TempDir rules;
  std::string hc = rules.Write("hc", "/^X-Redirect:/ REDIRECT boss@example.org\n/^X-Bcc:/ BCC audit@example.org\n"
                                     "/^X-Hold:/ HOLD\n/^X-Filter:/ FILTER scan:[127.0.0.9]:10025\n");
  Fixture f("header_checks = regexp:" + hc + "\n", true);
  Submission s;
  s.checks = true;
  auto m = f.c->Begin(std::move(s));
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE((*m)->AddRecipient({"a@example.org", "", 0}).ok());
  ASSERT_TRUE((*m)->AddRecipient({"b@example.org", "", 0}).ok());
  (*m)->SetFilter("relay:[127.0.0.8]");  // an access FILTER: the checks' comes later and wins
  ASSERT_TRUE((*m)->Append("X-Bcc: 1\r\nX-Hold: 1\r\nX-Filter: 1\r\n\r\nbody\r\n").ok());
  ASSERT_TRUE((*m)->Finish().ok());
  auto id = f.c->Commit(std::move(*m));
  ASSERT_TRUE(id.ok()) << id.status().message;
  auto envs = f.q->Envelopes(*id);
  ASSERT_TRUE(envs.ok());
  std::vector<std::string> got;
  for (const queue::Envelope& e : *envs) {
    got.push_back(e.recipient + " " + std::to_string(e.notify));
    EXPECT_EQ(e.filter, "scan:[127.0.0.9]:10025");
    EXPECT_EQ(e.state, queue::State::kHold);
  }
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"a@example.org 0", "audit@example.org " + std::to_string(queue::kNotifyNever),
                                           "b@example.org 0"}));

  // REDIRECT replaces every recipient (duplicates go) and overrides FILTER.
  auto r = f.c->Begin(Submission{.checks = true});
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE((*r)->AddRecipient({"a@example.org", "", 0}).ok());
  ASSERT_TRUE((*r)->AddRecipient({"b@example.org", "", 0}).ok());
  ASSERT_TRUE((*r)->Append("X-Filter: 1\r\nX-Redirect: 1\r\n\r\nbody\r\n").ok());
  ASSERT_TRUE((*r)->Finish().ok());
  auto rid = f.c->Commit(std::move(*r));
  ASSERT_TRUE(rid.ok());
  auto renvs = f.q->Envelopes(*rid);
  ASSERT_TRUE(renvs.ok() && renvs->size() == 1);
  EXPECT_EQ((*renvs)[0].recipient, "boss@example.org");
  EXPECT_EQ((*renvs)[0].filter, "");

  // Mail cleanup makes itself (no Submission::checks) is not inspected.
  auto own = f.c->Begin(Submission{});
  ASSERT_TRUE(own.ok());
  ASSERT_TRUE((*own)->AddRecipient({"a@example.org", "", 0}).ok());
  ASSERT_TRUE((*own)->Append("X-Redirect: 1\r\n\r\nbody\r\n").ok());
  ASSERT_TRUE((*own)->Finish().ok());
  EXPECT_FALSE((*own)->verdict().hold || !(*own)->verdict().redirect.empty());
  auto id2 = f.c->Commit(std::move(*own));
  ASSERT_TRUE(id2.ok());
  auto envs2 = f.q->Envelopes(*id2);
  ASSERT_TRUE(envs2.ok() && envs2->size() == 1);
  EXPECT_EQ((*envs2)[0].recipient, "a@example.org");
}

}  // namespace
}  // namespace postern::cleanup
