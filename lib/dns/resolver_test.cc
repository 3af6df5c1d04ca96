// dns/resolver_test.cc — the Resolver against real DNS on loopback: dnsmasq
// serving a small test zone, a server that answers SERVFAIL to everything,
// and a bound UDP socket nobody reads (timeouts).
#include "postern/dns/resolver.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <set>

#include "postern/dns/test_message.h"

extern char** environ;

namespace postern::dns {
namespace {

using Clock = std::chrono::steady_clock;

std::string FindDnsmasq() {
  for (const char* dir : {"/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin"}) {
    std::string p = std::string(dir) + "/dnsmasq";
    if (access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

// A UDP socket on 127.0.0.1 with a kernel-chosen port; closed on destruction.
struct UdpSocket {
  int fd = -1;
  uint16_t port = 0;
  UdpSocket() {
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sin;
    if (bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len) == 0)
      port = ntohs(sin.sin_port);
  }
  ~UdpSocket() {
    if (fd >= 0) close(fd);
  }
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;
};

// dnsmasq in the foreground on 127.0.0.1:port, answering only from its
// command line (--local makes unknown names NXDOMAIN instead of REFUSED).
class Dnsmasq {
 public:
  ~Dnsmasq() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  uint16_t port() const { return port_; }

  // Empty error: running. A port taken between probe and bind is retried.
  std::string Start(const std::string& binary, const std::vector<std::string>& records) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      uint16_t port;
      {
        UdpSocket probe;
        port = probe.port;
      }
      std::vector<std::string> args = {binary,
                                       "--no-daemon",
                                       "--port=" + std::to_string(port),
                                       "--listen-address=127.0.0.1",
                                       "--bind-interfaces",
                                       "--no-resolv",
                                       "--no-hosts",
                                       "--conf-file=/dev/null",
                                       "--pid-file=",
                                       "--local=/test/",
                                       "--local=/127.in-addr.arpa/"};
      args.insert(args.end(), records.begin(), records.end());
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      posix_spawn_file_actions_t fa;
      posix_spawn_file_actions_init(&fa);
      posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
      int rc = posix_spawn(&pid_, binary.c_str(), &fa, nullptr, argv.data(), environ);
      posix_spawn_file_actions_destroy(&fa);
      if (rc != 0) return "cannot run " + binary + ": " + strerror(rc);
      if (WaitReady(port)) {
        port_ = port;
        return "";
      }
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    return "dnsmasq did not start answering";
  }

 private:
  // Sends an A query for mx1.example.test until dnsmasq answers (or exits).
  bool WaitReady(uint16_t port) {
    UdpSocket s;
    testing::Bytes q = {0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
    auto name = testing::WireName("mx1.example.test");
    q.insert(q.end(), name.begin(), name.end());
    q.insert(q.end(), {0, 1, 0, 1});
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    auto deadline = Clock::now() + std::chrono::seconds(5);
    while (Clock::now() < deadline) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      sendto(s.fd, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
      pollfd p{s.fd, POLLIN, 0};
      if (poll(&p, 1, 50) == 1) {
        uint8_t buf[512];
        if (recv(s.fd, buf, sizeof buf, 0) > 0) return true;
      }
    }
    return false;
  }

  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

// Answers every query with SERVFAIL, on the test's own loop.
class ServfailServer {
 public:
  explicit ServfailServer(uv_loop_t* loop) {
    uv_udp_init(loop, udp_.get());
    udp_.get()->data = this;
    sockaddr_in sin{};
    uv_ip4_addr("127.0.0.1", 0, &sin);
    uv_udp_bind(udp_.get(), reinterpret_cast<sockaddr*>(&sin), 0);
    int len = sizeof sin;
    uv_udp_getsockname(udp_.get(), reinterpret_cast<sockaddr*>(&sin), &len);
    port_ = ntohs(sin.sin_port);
    uv_udp_recv_start(
        udp_.get(),
        [](uv_handle_t* h, size_t, uv_buf_t* b) {
          auto* self = static_cast<ServfailServer*>(h->data);
          *b = uv_buf_init(self->in_, sizeof self->in_);
        },
        [](uv_udp_t* h, ssize_t n, const uv_buf_t* b, const sockaddr* from, unsigned) {
          if (n < 12 || !from) return;
          b->base[2] = static_cast<char>(0x81);  // QR, RD
          b->base[3] = static_cast<char>(0x82);  // RA, SERVFAIL
          uv_buf_t out = uv_buf_init(b->base, static_cast<unsigned>(n));
          uv_udp_try_send(h, &out, 1, from);
          static_cast<ServfailServer*>(h->data)->queries_++;
        });
  }
  uint16_t port() const { return port_; }
  int queries() const { return queries_; }

 private:
  event::Handle<uv_udp_t> udp_;
  char in_[512];
  uint16_t port_ = 0;
  int queries_ = 0;
};

const std::vector<std::string> kZone = {
    "--mx-host=example.test,mx1.example.test,10",
    "--mx-host=example.test,mx2.example.test,20",
    "--mx-host=example.test,mx3.example.test,20",
    "--host-record=mx1.example.test,127.0.0.2",
    "--host-record=mx2.example.test,127.0.0.3,::1",
    "--host-record=mx3.example.test,127.0.0.4",
    "--host-record=implicit.test,127.0.0.5",
    "--host-record=v6only.test,::1",
    "--dns-rr=nullmx.test,15,000000",  // MX 0 .
    "--mx-host=dangling.test,nowhere.test,10",
    "--txt-record=txt.test,v=spf1 ,ip4:127.0.0.0/8 ,-all",
    "--txt-record=txt.test,second record",
    "--dns-rr=_25._tcp.mx1.example.test,52,030101ABCDEF0123",
    "--ptr-record=6.0.0.127.in-addr.arpa,liar.test",
    "--host-record=liar.test,127.0.0.7",
};

class ResolverTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string bin = FindDnsmasq();
    if (bin.empty()) return;
    dnsmasq_ = new Dnsmasq;
    start_error_ = dnsmasq_->Start(bin, kZone);
  }
  static void TearDownTestSuite() {
    delete dnsmasq_;
    dnsmasq_ = nullptr;
  }

  void SetUp() override {
    if (!dnsmasq_) GTEST_SKIP() << "dnsmasq is not installed (Debian package dnsmasq-base)";
    ASSERT_EQ(start_error_, "");
    uv_loop_init(&loop_);
  }
  void TearDown() override {
    if (!dnsmasq_) return;
    resolver_.reset();
    extra_.clear();
    uv_run(&loop_, UV_RUN_DEFAULT);  // close callbacks free every handle
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle was left open";
  }

  ResolverOptions Options(std::vector<std::string> servers = {}) {
    if (servers.empty()) servers.push_back("127.0.0.1:" + std::to_string(dnsmasq_->port()));
    ResolverOptions o;
    o.servers = *ResolverOptions::ParseServers(servers);
    o.timeout_ms = 300;
    o.tries = 1;
    o.hosts_file = "";  // this machine's /etc/hosts stays out of these answers
    return o;
  }
  Resolver& Make(const ResolverOptions& o) {
    auto r = Resolver::Create(&loop_, o);
    EXPECT_TRUE(r.ok()) << r.error();
    resolver_ = std::move(*r);
    return *resolver_;
  }
  Resolver& Default() { return resolver_ ? *resolver_ : Make(Options()); }

  // Runs the loop until `done` or 10 s (a hung lookup fails, not hangs).
  void RunUntil(const std::function<bool()>& done) {
    auto deadline = Clock::now() + std::chrono::seconds(10);
    event::Handle<uv_timer_t> tick;
    uv_timer_init(&loop_, tick.get());
    uv_timer_start(tick.get(), [](uv_timer_t*) {}, 50, 50);
    while (!done() && Clock::now() < deadline) uv_run(&loop_, UV_RUN_ONCE);
    ASSERT_TRUE(done()) << "lookup did not finish within 10 s";
  }

  template <class R, class Start>
  R Await(Start start) {
    std::optional<R> got;
    Ticket t = start([&](R r) { got = std::move(r); });
    EXPECT_FALSE(got) << "callback ran inside the call that started the lookup";
    RunUntil([&] { return got.has_value(); });
    return got ? std::move(*got) : R{};
  }
  MxResult Mx(std::string_view d) {
    return Await<MxResult>([&](auto cb) { return Default().LookupMx(d, cb); });
  }
  AddressResult Addresses(std::string_view h) {
    return Await<AddressResult>([&](auto cb) { return Default().LookupAddresses(h, cb); });
  }

  static std::vector<std::string> Texts(const std::vector<IpAddress>& v) {
    std::vector<std::string> out;
    for (const auto& a : v) out.push_back(a.ToString());
    return out;
  }

  static Dnsmasq* dnsmasq_;
  static std::string start_error_;
  uv_loop_t loop_;
  std::unique_ptr<Resolver> resolver_;
  std::vector<std::unique_ptr<ServfailServer>> extra_;
};

Dnsmasq* ResolverTest::dnsmasq_ = nullptr;
std::string ResolverTest::start_error_;

TEST_F(ResolverTest, MxSortedByPreferenceWithAddresses) {
  auto r = Mx("example.test");
  ASSERT_TRUE(r.outcome.ok()) << r.outcome.reason;
  EXPECT_FALSE(r.implicit);
  EXPECT_FALSE(r.null_mx);
  ASSERT_EQ(r.hosts.size(), 3u);
  EXPECT_EQ(r.hosts[0].name, "mx1.example.test");
  EXPECT_EQ(r.hosts[0].preference, 10);
  EXPECT_EQ(Texts(r.hosts[0].addresses), std::vector<std::string>{"127.0.0.2"});
  std::set<std::string> tied = {r.hosts[1].name, r.hosts[2].name};
  EXPECT_EQ(tied, (std::set<std::string>{"mx2.example.test", "mx3.example.test"}));
  EXPECT_EQ(r.hosts[1].preference, 20);
  for (const auto& h : r.hosts) {
    if (h.name == "mx2.example.test") {
      EXPECT_EQ(Texts(h.addresses), (std::vector<std::string>{"127.0.0.3", "::1"}));
    } else if (h.name == "mx3.example.test") {
      EXPECT_EQ(Texts(h.addresses), std::vector<std::string>{"127.0.0.4"});
    }
  }
}

TEST_F(ResolverTest, EqualPreferencesComeInBothOrders) {
  std::set<std::string> seconds;
  for (int i = 0; i < 24 && seconds.size() < 2; ++i) seconds.insert(Mx("example.test").hosts.at(1).name);
  EXPECT_EQ(seconds.size(), 2u);
}

TEST_F(ResolverTest, DomainWithoutMxIsItsOwnExchanger) {
  auto r = Mx("implicit.test");
  ASSERT_TRUE(r.outcome.ok()) << r.outcome.reason;
  EXPECT_TRUE(r.implicit);
  ASSERT_EQ(r.hosts.size(), 1u);
  EXPECT_EQ(r.hosts[0].name, "implicit.test");
  EXPECT_EQ(r.hosts[0].preference, 0);
  EXPECT_EQ(Texts(r.hosts[0].addresses), std::vector<std::string>{"127.0.0.5"});
}

TEST_F(ResolverTest, NullMxIsPermanentAndDistinct) {
  auto r = Mx("nullmx.test");
  EXPECT_TRUE(r.null_mx);
  EXPECT_TRUE(r.outcome.permanent());
  EXPECT_TRUE(r.hosts.empty());
  EXPECT_EQ(r.outcome.reason, "Domain nullmx.test does not accept mail (nullMX)");
}

TEST_F(ResolverTest, NxDomainIsPermanent) {
  auto r = Mx("nope.test");
  EXPECT_EQ(r.outcome.status, Status::kNxDomain);
  EXPECT_TRUE(r.outcome.permanent());
  EXPECT_FALSE(r.null_mx);
  EXPECT_EQ(r.outcome.reason,
            "Host or domain name not found. Name service error for name=nope.test type=MX: Host not found");
}

TEST_F(ResolverTest, ExchangerWithoutAddressIsPermanent) {
  auto r = Mx("dangling.test");
  EXPECT_TRUE(r.outcome.permanent()) << r.outcome.reason;
  ASSERT_EQ(r.hosts.size(), 1u);
  EXPECT_EQ(r.hosts[0].outcome.status, Status::kNxDomain);
}

TEST_F(ResolverTest, ServfailIsTemporary) {
  extra_.push_back(std::make_unique<ServfailServer>(&loop_));
  Make(Options({"127.0.0.1:" + std::to_string(extra_[0]->port())}));
  auto r = Mx("example.test");
  EXPECT_EQ(r.outcome.status, Status::kTempFail) << r.outcome.reason;
  EXPECT_TRUE(r.outcome.temporary());
  EXPECT_GE(extra_[0]->queries(), 1);
  auto a = Addresses("mx1.example.test");
  EXPECT_TRUE(a.outcome.temporary());
}

TEST_F(ResolverTest, TimeoutIsTemporaryAndQuick) {
  UdpSocket deaf;  // bound, never read
  Make(Options({"127.0.0.1:" + std::to_string(deaf.port)}));
  auto start = Clock::now();
  auto r = Mx("example.test");
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  EXPECT_TRUE(r.outcome.temporary()) << r.outcome.reason;
  EXPECT_NE(r.outcome.detail.find("Timeout"), std::string::npos) << r.outcome.detail;
  EXPECT_GE(ms, 250);
  EXPECT_LT(ms, 2000);
}

TEST_F(ResolverTest, NextServerAnswersAfterTimeout) {
  UdpSocket deaf;
  Make(Options({"127.0.0.1:" + std::to_string(deaf.port), "127.0.0.1:" + std::to_string(dnsmasq_->port())}));
  auto r = Mx("example.test");
  ASSERT_TRUE(r.outcome.ok()) << r.outcome.reason << " / " << r.outcome.detail;
  EXPECT_EQ(r.hosts.size(), 3u);
}

TEST_F(ResolverTest, AddressesFollowInetProtocols) {
  auto all = Addresses("mx2.example.test");
  ASSERT_TRUE(all.outcome.ok());
  EXPECT_EQ(Texts(all.addresses), (std::vector<std::string>{"127.0.0.3", "::1"}));

  auto o = Options();
  o.ipv6 = false;
  Make(o);
  EXPECT_EQ(Texts(Addresses("mx2.example.test").addresses), std::vector<std::string>{"127.0.0.3"});
  auto v6only = Addresses("v6only.test");
  EXPECT_EQ(v6only.outcome.status, Status::kNoData);
  EXPECT_TRUE(v6only.outcome.permanent());

  o.ipv4 = false;
  o.ipv6 = true;
  Make(o);
  EXPECT_EQ(Texts(Addresses("mx2.example.test").addresses), std::vector<std::string>{"::1"});
  EXPECT_EQ(Texts(Addresses("v6only.test").addresses), std::vector<std::string>{"::1"});
}

TEST_F(ResolverTest, AddressLiteralsAndBadNamesNeedNoServer) {
  UdpSocket deaf;
  Make(Options({"127.0.0.1:" + std::to_string(deaf.port)}));
  auto r = Addresses("127.0.0.9");
  ASSERT_TRUE(r.outcome.ok());
  EXPECT_EQ(Texts(r.addresses), std::vector<std::string>{"127.0.0.9"});
  auto bad = Addresses("bad..name");
  EXPECT_EQ(bad.outcome.status, Status::kPermFail);
  EXPECT_EQ(resolver_->queries_in_flight(), 0u);
}

TEST_F(ResolverTest, NxDomainAddresses) {
  auto r = Addresses("nope.test");
  EXPECT_EQ(r.outcome.status, Status::kNxDomain);
  EXPECT_TRUE(r.addresses.empty());
}

TEST_F(ResolverTest, TxtRecordsJoined) {
  auto r = Await<TxtResult>([&](auto cb) { return Default().LookupTxt("txt.test", cb); });
  ASSERT_TRUE(r.outcome.ok()) << r.outcome.reason;
  std::multiset<std::string> got(r.records.begin(), r.records.end());
  EXPECT_EQ(got, (std::multiset<std::string>{"v=spf1 ip4:127.0.0.0/8 -all", "second record"}));
  auto none = Await<TxtResult>([&](auto cb) { return Default().LookupTxt("implicit.test", cb); });
  EXPECT_EQ(none.outcome.status, Status::kNoData);
}

TEST_F(ResolverTest, TlsaRecord) {
  auto r = Await<TlsaResult>([&](auto cb) { return Default().LookupTlsa("_25._tcp.mx1.example.test", cb); });
  ASSERT_TRUE(r.outcome.ok()) << r.outcome.reason;
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].usage, 3);
  EXPECT_EQ(r.records[0].selector, 1);
  EXPECT_EQ(r.records[0].mtype, 1);
  EXPECT_EQ(r.records[0].DataHex(), "abcdef0123");
  EXPECT_FALSE(r.authentic);  // dnsmasq here does not validate
  auto none = Await<TlsaResult>([&](auto cb) { return Default().LookupTlsa("_25._tcp.mx2.example.test", cb); });
  EXPECT_TRUE(none.outcome.permanent());
}

TEST_F(ResolverTest, PtrAndForwardConfirmation) {
  auto ip = *IpAddress::Parse("127.0.0.2");
  auto p = Await<PtrResult>([&](auto cb) { return Default().LookupPtr(ip, cb); });
  ASSERT_TRUE(p.outcome.ok()) << p.outcome.reason;
  EXPECT_EQ(p.names, std::vector<std::string>{"mx1.example.test"});

  auto ok = Await<ConfirmedNameResult>([&](auto cb) { return Default().LookupConfirmedName(ip, cb); });
  ASSERT_TRUE(ok.outcome.ok()) << ok.outcome.reason;
  EXPECT_EQ(ok.name, "mx1.example.test");
  EXPECT_EQ(ok.reverse_name, "mx1.example.test");

  auto liar = *IpAddress::Parse("127.0.0.6");
  auto lie = Await<ConfirmedNameResult>([&](auto cb) { return Default().LookupConfirmedName(liar, cb); });
  EXPECT_TRUE(lie.outcome.permanent());
  EXPECT_EQ(lie.reverse_name, "liar.test");
  EXPECT_EQ(lie.name, "");
  EXPECT_EQ(lie.outcome.reason, "hostname liar.test does not resolve to address 127.0.0.6");

  auto unknown = *IpAddress::Parse("127.0.0.99");
  auto none = Await<ConfirmedNameResult>([&](auto cb) { return Default().LookupConfirmedName(unknown, cb); });
  EXPECT_TRUE(none.outcome.permanent()) << none.outcome.reason;
  EXPECT_EQ(none.reverse_name, "");
}

TEST_F(ResolverTest, ConfirmationFailsTemporarilyWhenDnsDoes) {
  extra_.push_back(std::make_unique<ServfailServer>(&loop_));
  Make(Options({"127.0.0.1:" + std::to_string(extra_[0]->port())}));
  auto r = Await<ConfirmedNameResult>(
      [&](auto cb) { return Default().LookupConfirmedName(*IpAddress::Parse("127.0.0.2"), cb); });
  EXPECT_TRUE(r.outcome.temporary());
}

// A client the hosts file names is named from it, DNS not asked (here the
// server SERVFAILs everything); one it does not name is asked of DNS.
TEST_F(ResolverTest, HostsFileNamesAClientBeforeDns) {
  extra_.push_back(std::make_unique<ServfailServer>(&loop_));
  auto o = Options({"127.0.0.1:" + std::to_string(extra_[0]->port())});
  char path[] = "/tmp/hosts_test.XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string text = "127.0.0.1 localhost\n127.0.0.77 Box.Example.test box # a comment\n";
  ASSERT_EQ(write(fd, text.data(), text.size()), ssize_t(text.size()));
  close(fd);
  o.hosts_file = path;
  Make(o);
  auto listed = Await<ConfirmedNameResult>(
      [&](auto cb) { return Default().LookupConfirmedName(*IpAddress::Parse("127.0.0.77"), cb); });
  EXPECT_TRUE(listed.outcome.ok()) << listed.outcome.reason;
  EXPECT_EQ(listed.name, "box.example.test");
  EXPECT_EQ(listed.reverse_name, "box.example.test");
  auto other = Await<ConfirmedNameResult>(
      [&](auto cb) { return Default().LookupConfirmedName(*IpAddress::Parse("127.0.0.78"), cb); });
  EXPECT_TRUE(other.outcome.temporary());  // DNS was asked: SERVFAIL
  unlink(path);
}

TEST_F(ResolverTest, CancelledTicketNeverCalls) {
  bool called = false;
  {
    Ticket t = Default().LookupMx("example.test", [&](MxResult) { called = true; });
    EXPECT_TRUE(t.pending());
  }  // dropped: cancelled
  Ticket literal = Default().LookupAddresses("127.0.0.1", [&](AddressResult) { called = true; });
  literal.Cancel();
  bool later = false;
  Ticket t2 = Default().LookupMx("example.test", [&](MxResult) { later = true; });
  RunUntil([&] { return later; });
  EXPECT_FALSE(called);
  EXPECT_FALSE(t2.pending());
}

TEST_F(ResolverTest, DestroyingWithQueriesInFlightCallsNothing) {
  UdpSocket deaf;
  Make(Options({"127.0.0.1:" + std::to_string(deaf.port)}));
  bool called = false;
  std::vector<Ticket> tickets;
  for (int i = 0; i < 10; ++i) tickets.push_back(resolver_->LookupMx("example.test", [&](MxResult) { called = true; }));
  EXPECT_GT(resolver_->queries_in_flight(), 0u);
  resolver_.reset();
  uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_FALSE(called);
}

TEST_F(ResolverTest, CallbackMayDestroyTheResolver) {
  int calls = 0;
  Ticket a = Default().LookupAddresses("127.0.0.1", [&](AddressResult) {
    ++calls;
    resolver_.reset();
  });
  Ticket b = Default().LookupAddresses("127.0.0.2", [&](AddressResult) { ++calls; });
  RunUntil([&] { return calls > 0; });
  uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(resolver_);
}

TEST_F(ResolverTest, ManyConcurrentLookups) {
  constexpr int kLookups = 300;
  int ok = 0, done = 0;
  std::vector<Ticket> tickets;
  auto start = Clock::now();
  for (int i = 0; i < kLookups; ++i)
    tickets.push_back(Default().LookupMx("example.test", [&](MxResult r) {
      ++done;
      ok += r.outcome.ok() && r.hosts.size() == 3;
      if (!r.outcome.ok()) std::printf("%s / %s\n", r.outcome.reason.c_str(), r.outcome.detail.c_str());
    }));
  RunUntil([&] { return done == kLookups; });
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  EXPECT_EQ(ok, kLookups);
  RecordProperty("mx_lookups_ms", static_cast<int>(ms));
  std::printf("%d MX lookups (each with 3 exchangers' A+AAAA) in %lld ms\n", kLookups,
              static_cast<long long>(ms));
}

}  // namespace
}  // namespace postern::dns
