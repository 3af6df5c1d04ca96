// local/deliver_test.cc — the expansion logic of one recipient against a
// real queue in a scratch directory: aliases (nested, self-referencing,
// looping), files and commands, Delivered-To loops, forwarding.
#include "local/deliver.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "local/test_util.h"
#include "postern/queue/testing.h"

namespace postern::local {
namespace {

namespace fs = std::filesystem;

using testing::Slurp;

class DeliverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string t = (fs::temp_directory_path() / "deliver_test.XXXXXX").string();
    dir_ = mkdtemp(t.data());
    chmod(dir_.c_str(), 0777);  // under root, alias files are written as default_privs
    auto q = queue::Queue::Open(dir_ + "/queue", queue::Options{});
    ASSERT_TRUE(q.ok()) << q.status().message;
    agent_.queue = std::move(*q);
    // Forwarded mail goes in through cleanup, with its defaults.
    agent_.cleanup = std::make_unique<cleanup::Cleanup>(agent_.queue.get(), cleanup::Options{},
                                                        rewrite::AddressRewriter{}, rewrite::VirtualAliases{},
                                                        dir_ + "/queue");
    route::Settings rs;
    rs.mydestination = {"localhost"};
    rs.myhostname = "mx.test";
    auto r = route::Router::Make(rs, table::TableList{});
    ASSERT_TRUE(r.ok()) << r.error();
    agent_.router = std::make_unique<route::Router>(std::move(*r));
    agent_.settings.myorigin = agent_.settings.myhostname = "localhost";
    agent_.settings.recipient_delimiter = "+";
    agent_.settings.commands = agent_.settings.files = Sources{true, true, false};
    agent_.settings.queue_directory = dir_ + "/queue";
    if (Privileged()) agent_.default_privs = UserByName("nobody");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Aliases(const std::string& inline_map) {
    auto t = table::Open(inline_map);
    ASSERT_TRUE(t.ok()) << t.error();
    agent_.aliases.push_back(std::move(*t));
    agent_.alias_owners.push_back(std::nullopt);
  }

  // Queues `body` for `rcpt` and delivers it; returns the recipient's result.
  ipc::DeliveryResult Deliver(const std::string& rcpt, const std::string& body) {
    queue::MessageRecord rec;
    rec.sender = "s@x.test";
    auto id = queue::testing::EnqueueOne(*agent_.queue, rec, body, {rcpt});
    Message m;
    m.req.message_id = id;
    m.req.transport = "local";
    m.req.sender = "s@x.test";
    m.req.arrival = std::time(nullptr);
    m.req.recipients.push_back({1, rcpt, "", 0});
    m.msgid = queue::FormatMsgId(id);
    EXPECT_EQ(LoadMessage(*agent_.queue, &m), "");
    return RecipientDelivery(agent_, m, m.req.recipients[0], std::chrono::steady_clock::now()).Run();
  }

  std::string dir_;
  Agent agent_;
};

TEST_F(DeliverTest, NestedAliasesFilesAndCommands) {
  std::string f1 = dir_ + "/one", f2 = dir_ + "/two", out = dir_ + "/cmd";
  Aliases("inline:{ { list = inner, " + f1 + " }, { inner = inner, " + f2 + ", \"|cat > " + out +
          "\" }, { inner+x = " + f2 + " } }");
  auto r = Deliver("list@localhost", "Subject: t\r\n\r\nFrom me\r\n");
  EXPECT_EQ(r.status, ipc::DeliveryStatus::kBounced) << r.reason;  // "inner" is no user: 5.1.1
  EXPECT_EQ(r.reason, "unknown user: \"inner\"");
  std::string mbox = Slurp(f1);
  EXPECT_NE(mbox.find("Return-Path: <s@x.test>\nDelivered-To: list@localhost\nSubject: t\n\n>From me\n\n"),
            std::string::npos)
      << mbox;
  EXPECT_EQ(Slurp(f2).substr(0, 15), "From s@x.test  ");
  std::string piped = Slurp(out);
  EXPECT_NE(piped.find("Delivered-To: inner@localhost\nSubject: t\n\nFrom me\n"), std::string::npos) << piped;
}

TEST_F(DeliverTest, ExtensionAndLoops) {
  std::string f = dir_ + "/ext";
  Aliases("inline:{ { box = " + f + " }, { a = b }, { b = a } }");
  EXPECT_EQ(Deliver("box+tag@localhost", "Subject: x\r\n\r\nbody\r\n").status, ipc::DeliveryStatus::kSent);
  EXPECT_NE(Slurp(f).find("Delivered-To: box+tag@localhost\n"), std::string::npos);
  auto loop = Deliver("box@localhost", "Delivered-To: BOX@localhost\r\n\r\nbody\r\n");
  EXPECT_EQ(loop.status, ipc::DeliveryStatus::kBounced);
  EXPECT_EQ(loop.dsn, "5.4.6");
  EXPECT_EQ(loop.reason, "mail forwarding loop for box@localhost");
  auto alias_loop = Deliver("a@localhost", "\r\nbody\r\n");
  EXPECT_EQ(alias_loop.status, ipc::DeliveryStatus::kBounced);
  EXPECT_EQ(alias_loop.reason.rfind("possible mail forwarding loop for ", 0), 0u) << alias_loop.reason;
}

TEST_F(DeliverTest, RestrictedDestinationsAndForwarding) {
  agent_.settings.commands = Sources{false, true, false};
  Aliases("inline:{ { cmd = \"|true\" }, { fwd = x@remote.test, y@remote.test } }");
  auto r = Deliver("cmd@localhost", "\r\nbody\r\n");
  EXPECT_EQ(r.status, ipc::DeliveryStatus::kBounced);
  EXPECT_EQ(r.reason, "mail to command is restricted");
  auto f = Deliver("fwd@localhost", "Subject: f\r\n\r\nbody\r\n");
  EXPECT_EQ(f.status, ipc::DeliveryStatus::kSent);
  EXPECT_EQ(f.reason.rfind("forwarded as ", 0), 0u) << f.reason;
  auto id = queue::ParseMsgId(f.reason.substr(13));
  ASSERT_TRUE(id);
  auto envs = agent_.queue->Envelopes(*id);
  ASSERT_TRUE(envs.ok());
  ASSERT_EQ(envs->size(), 2u);
  EXPECT_EQ((*envs)[0].orig_recipient, "rfc822;fwd@localhost");
  auto rec = agent_.queue->GetMessage(*id);
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->sender, "s@x.test");
  Message copy;
  copy.req.message_id = *id;
  ASSERT_EQ(LoadMessage(*agent_.queue, &copy), "");
  EXPECT_EQ(copy.raw, "Delivered-To: fwd@localhost\r\nSubject: f\r\n\r\nbody\r\n");
  EXPECT_EQ(copy.delivered_to, std::vector<std::string>{"fwd@localhost"});
}

}  // namespace
}  // namespace postern::local
