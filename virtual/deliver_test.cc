// virtual/deliver_test.cc — virtual(8)'s table keys, ids and start-up checks,
// and whole deliveries against a real queue in a scratch directory.
#include "virtual/deliver.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "postern/mda/privs.h"
#include "postern/queue/ids.h"
#include "postern/queue/testing.h"

namespace postern::virt {
namespace {

namespace fs = std::filesystem;

TEST(LookupKeys, FullAddressThenWithoutExtensionThenDomain) {
  auto keys = LookupKeys("Bob+Lists@Example.COM", "+-");
  ASSERT_EQ(keys.size(), 3u);
  EXPECT_EQ(keys[0].text, "bob+lists@example.com");
  EXPECT_FALSE(keys[0].partial);
  EXPECT_EQ(keys[1].text, "bob@example.com");
  EXPECT_TRUE(keys[1].partial);
  EXPECT_EQ(keys[2].text, "@example.com");
  EXPECT_TRUE(keys[2].partial);
  EXPECT_EQ(LookupKeys("bob+x@example.com", "").size(), 2u);  // no delimiter: no extension
}

TEST(ParseId, DigitsOnly) {
  EXPECT_EQ(ParseId("5000"), 5000);
  EXPECT_EQ(ParseId(" 42 "), 42);
  for (const char* bad : {"", "-1", "12a", "vmail", "99999999999"}) EXPECT_FALSE(ParseId(bad)) << bad;
}

Result<Settings> Load(const std::string& main_cf) {
  auto cfg = config::Config::Parse(main_cf);
  if (!cfg) return Err(cfg.error());
  return Settings::Load(*cfg, "virtual");
}

TEST(Settings, PostfixStartUpChecks) {
  EXPECT_NE(Load("").error().find("virtual_mailbox_base"), std::string::npos);
  EXPECT_EQ(Load("virtual_mailbox_base = var/mail").error(),
            "do not specify relative pathname: virtual_mailbox_base = var/mail");
  EXPECT_EQ(Load("virtual_mailbox_base = /m\nvirtual_mailbox_limit = 1000").error(),
            "main.cf configuration error: virtual_mailbox_limit is smaller than message_size_limit");
  EXPECT_NE(Load("virtual_mailbox_base = /m\nvirtual_mailbox_lock = fcntl, lockf").error().find("lockf"),
            std::string::npos);
  auto s = Load("virtual_mailbox_base = /m\nvirtual_mailbox_lock = flock");
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->minimum_uid, 100);
  EXPECT_EQ(s->mailbox_limit, 51200000u);
  EXPECT_TRUE(s->locks.flock);
  EXPECT_FALSE(s->locks.fcntl || s->locks.dotlock);
}

class DeliverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string t = (fs::temp_directory_path() / "virtual_test.XXXXXX").string();
    dir_ = mkdtemp(t.data());
    chmod(dir_.c_str(), 0755);
    auto q = queue::Queue::Open(dir_ + "/queue", queue::Options{});
    ASSERT_TRUE(q.ok()) << q.status().message;
    agent_.queue = std::move(*q);
    fs::create_directory(dir_ + "/base");
    // Run as root, mailboxes belong to the mapped ids; else to whoever runs the test.
    id_ = mda::Privileged() ? 5000 : geteuid();
    chown((dir_ + "/base").c_str(), id_, id_);
    Settings& s = agent_.settings;
    s.service = "virtual";
    s.myhostname = "mx.test";
    s.recipient_delimiter = "+";
    s.mailbox_base = dir_ + "/base";
    s.minimum_uid = 1;
    s.mailbox_limit = 2000;
    auto tables = [](const std::string& text) { return config::ParseTableList(text).value(); };
    s.mailbox_maps = tables("inline:{ bob@v.test=bob/, carol@v.test=carol, @w.test=catchall/, up@v.test=../x }");
    s.uid_maps = tables("static:" + std::to_string(id_));
    s.gid_maps = tables("inline:{ @v.test=" + std::to_string(id_) + " }");
    OpenTables(&agent_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  ipc::DeliveryResult Deliver(const std::string& rcpt, const std::string& body = "Subject: t\r\n\r\nFrom me\r\n") {
    queue::MessageRecord rec;
    rec.sender = "s@x.test";
    auto id = queue::testing::EnqueueOne(*agent_.queue, rec, body, {rcpt});
    ipc::DeliveryRequest req;
    req.message_id = id;
    req.transport = "virtual";
    req.sender = "s@x.test";
    req.recipients.push_back({1, rcpt, "", 0});
    auto out = virt::Deliver(agent_, req);
    EXPECT_EQ(out.size(), 1u);
    return out[0];
  }

  std::string Slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }

  std::string dir_;
  uid_t id_ = 0;
  Agent agent_;
};

TEST_F(DeliverTest, MaildirAndMboxOwnedByTheMappedIds) {
  auto r = Deliver("Bob+news@V.test");
  ASSERT_EQ(r.status, ipc::DeliveryStatus::kSent) << r.reason;
  EXPECT_EQ(r.reason, "delivered to maildir");
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir_ + "/base/bob/new")) files.push_back(e.path());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(Slurp(files[0]),
            "Return-Path: <s@x.test>\nX-Original-To: Bob+news@V.test\nDelivered-To: bob+news@v.test\n"
            "Subject: t\n\nFrom me\n");
  r = Deliver("carol@v.test");
  ASSERT_EQ(r.status, ipc::DeliveryStatus::kSent) << r.reason;
  EXPECT_EQ(r.reason, "delivered to mailbox");
  std::string mbox = Slurp(dir_ + "/base/carol");
  EXPECT_EQ(mbox.rfind("From s@x.test  ", 0), 0u) << mbox;
  EXPECT_NE(mbox.find("\n\n>From me\n\n"), std::string::npos) << mbox;
  for (const std::string& p : {files[0].string(), dir_ + "/base/bob", dir_ + "/base/carol"}) {
    struct stat st {};
    ASSERT_EQ(stat(p.c_str(), &st), 0) << p;
    EXPECT_EQ(st.st_uid, id_) << p;
    EXPECT_EQ(st.st_gid, id_) << p;
  }
  EXPECT_EQ(geteuid(), mda::Privileged() ? 0u : geteuid());  // root again after the delivery
}

TEST_F(DeliverTest, UnknownUserBouncesTableTroubleDefers) {
  auto r = Deliver("nobody@v.test");
  EXPECT_EQ(r.status, ipc::DeliveryStatus::kBounced);
  EXPECT_EQ(r.dsn, "5.1.1");
  EXPECT_EQ(r.reason, "unknown user: \"nobody@v.test\"");
  r = Deliver("x@w.test");  // a mailbox, but no gid for w.test
  EXPECT_EQ(r.status, ipc::DeliveryStatus::kDeferred);
  EXPECT_EQ(r.dsn, "4.3.5");
  EXPECT_EQ(r.reason, "mail system configuration error");
  r = Deliver("up@v.test");  // outside the base
  EXPECT_EQ(r.status, ipc::DeliveryStatus::kDeferred);
  EXPECT_FALSE(fs::exists(dir_ + "/x"));
}

TEST_F(DeliverTest, MailboxLimitBounces) {
  std::string big = "Subject: big\r\n\r\n" + std::string(1200, 'x') + "\r\n";
  ASSERT_EQ(Deliver("carol@v.test", big).status, ipc::DeliveryStatus::kSent);
  auto r = Deliver("carol@v.test", big);
  EXPECT_EQ(r.status, ipc::DeliveryStatus::kBounced);
  EXPECT_EQ(r.dsn, "5.2.2");
  EXPECT_EQ(r.reason, "delivery failed to mailbox " + dir_ + "/base/carol: cannot update mailbox " + dir_ +
                          "/base/carol: mailbox full (virtual_mailbox_limit)");
}

}  // namespace
}  // namespace postern::virt
