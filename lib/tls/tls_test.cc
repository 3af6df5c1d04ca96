// tls/tls_test.cc — Postfix protocol/cipher parameters to GnuTLS priorities,
// the shared ticket key file, and a real handshake between two tls::Streams
// over a socketpair on one loop (certificate made here, in memory).
#include <gnutls/x509.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "postern/tls/stream.h"
#include "postern/tls/tls.h"

namespace postern::tls {
namespace {

struct PrioCase {
  std::string protocols, ciphers, want;  // want "" = an error
};

TEST(PriorityString, MapsPostfixSyntax) {
  const PrioCase cases[] = {
      {"", "medium", "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:+VERS-TLS1.1:+VERS-TLS1.0"},
      {">=TLSv1.2", "medium", "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"},
      {"!SSLv2, !SSLv3, !TLSv1, !TLSv1.1", "high", "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"},
      {"TLSv1.2", "medium", "NORMAL:-VERS-ALL:+VERS-TLS1.2"},
      {"TLSv1.2 TLSv1.3", "low", "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"},
      {"<=TLSv1.2 >=TLSv1.1", "export", "NORMAL:-VERS-ALL:+VERS-TLS1.2:+VERS-TLS1.1"},
      {"!TLSv1.3", "medium", "NORMAL:-VERS-ALL:+VERS-TLS1.2:+VERS-TLS1.1:+VERS-TLS1.0"},
      {"TLSv9", "medium", ""},
      {"", "null", ""},
      {">=TLSv1.3 <=TLSv1.2", "medium", ""},
  };
  for (const auto& c : cases) {
    auto p = PriorityString(c.protocols, c.ciphers);
    if (c.want.empty()) {
      EXPECT_FALSE(p) << c.protocols << " / " << c.ciphers;
      continue;
    }
    ASSERT_TRUE(p) << c.protocols << ": " << p.error();
    EXPECT_EQ(*p, c.want);
    EXPECT_TRUE(Priority::Parse(*p)) << *p;
  }
}

class TempDir {
 public:
  TempDir() {
    char t[] = "/tmp/tls_test.XXXXXX";
    path_ = mkdtemp(t);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

TEST(TicketKey, SharedThroughOneFile) {
  TempDir d;
  auto a = TicketKey::Load(d.path(), 3600);
  ASSERT_TRUE(a);
  std::string file = d.path() + "/" + TicketKey::kFileName;
  struct stat st{};
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto b = TicketKey::Load(d.path(), 3600);  // a second process adopts it
  ASSERT_TRUE(b);
  ASSERT_EQ((*a)->get()->size, (*b)->get()->size);
  EXPECT_EQ(memcmp((*a)->get()->data, (*b)->get()->data, (*a)->get()->size), 0);
  // Once older than the rotation period, the next process writes a new one.
  std::string before = ReadAll(file);
  timespec old[2] = {{time(nullptr) - 7200, 0}, {time(nullptr) - 7200, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, file.c_str(), old, 0), 0);
  auto c = TicketKey::Load(d.path(), 3600);
  ASSERT_TRUE(c);
  EXPECT_NE(ReadAll(file), before);
  EXPECT_EQ(memcmp((*c)->get()->data, ReadAll(file).data(), (*c)->get()->size), 0);
}

// A self-signed certificate for "localhost" and 127.0.0.1, written as PEM.
void MakeCert(const std::string& dir) {
  gnutls_x509_privkey_t key;
  gnutls_x509_crt_t crt;
  ASSERT_EQ(gnutls_x509_privkey_init(&key), 0);
  ASSERT_EQ(gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0), 0);
  ASSERT_EQ(gnutls_x509_crt_init(&crt), 0);
  gnutls_x509_crt_set_version(crt, 3);
  unsigned char serial[] = {1};
  gnutls_x509_crt_set_serial(crt, serial, sizeof serial);
  gnutls_x509_crt_set_activation_time(crt, time(nullptr) - 60);
  gnutls_x509_crt_set_expiration_time(crt, time(nullptr) + 3600);
  gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, "localhost", 9);
  gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, "localhost", 9, GNUTLS_FSAN_APPEND);
  gnutls_x509_crt_set_basic_constraints(crt, 1, -1);
  gnutls_x509_crt_set_key(crt, key);
  ASSERT_EQ(gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0), 0);
  gnutls_datum_t out;
  ASSERT_EQ(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &out), 0);
  std::ofstream(dir + "/cert.pem") << std::string(reinterpret_cast<char*>(out.data), out.size);
  gnutls_free(out.data);
  ASSERT_EQ(gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &out), 0);
  std::ofstream(dir + "/key.pem") << std::string(reinterpret_cast<char*>(out.data), out.size);
  gnutls_free(out.data);
  gnutls_x509_crt_deinit(crt);
  gnutls_x509_privkey_deinit(key);
}

struct Pair {
  std::unique_ptr<Stream> server, client;
};

Pair Connect(event::Loop& loop) {
  int sv[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  Pair p;
  p.server = std::make_unique<Stream>(loop.get(), std::move(*event::Stream::Adopt(loop.get(), sv[0])));
  p.client = std::make_unique<Stream>(loop.get(), std::move(*event::Stream::Adopt(loop.get(), sv[1])));
  return p;
}

TEST(Stream, StartTlsBothWaysThenData) {
  TempDir d;
  MakeCert(d.path());
  event::Loop loop;
  Config scfg, ccfg;
  scfg.creds = *Credentials::Server(d.path() + "/cert.pem", d.path() + "/key.pem", {});
  scfg.priority = *Priority::Parse(*PriorityString("", "medium"));
  scfg.ticket_key = *TicketKey::Load(d.path(), 3600);
  ccfg = scfg;
  ccfg.role = Role::kClient;
  ccfg.ticket_key = nullptr;
  ccfg.creds = *Credentials::Client(d.path() + "/cert.pem");
  Pair p = Connect(loop);

  std::string server_got, client_got;
  bool server_done = false, client_done = false;
  PeerStatus status = PeerStatus::kAnonymous;
  p.server->ReadStart(
      [&](std::string_view data) {
        server_got += data;
        // The plain-text part: "STARTTLS\r\n" plus an injected command behind it.
        if (!p.server->tls() && !p.server->handshaking() && server_got.find("STARTTLS\r\n") == 0) {
          server_got.clear();  // the injected bytes are dropped, as smtpd does
          p.server->Write("220 Ready\r\n");
          p.server->StartTls(scfg, [&](Result<void> r) {
            ASSERT_TRUE(r) << r.error();
            server_done = true;
          });
        } else if (p.server->tls() && server_got.ends_with("\r\n")) {
          p.server->Write("250 got " + server_got);
        }
      },
      [](int) {});
  p.client->ReadStart(
      [&](std::string_view data) {
        client_got += data;
        if (client_got == "220 Ready\r\n") {
          client_got.clear();
          p.client->StartTls(ccfg, [&](Result<void> r) {
            ASSERT_TRUE(r) << r.error();
            client_done = true;
            status = CheckPeer(p.client->session(), {"localhost"}, nullptr);
            p.client->Write(std::string(100000, 'x') + "\r\n");
          });
        } else if (client_got.ends_with("\r\n")) {
          loop.Stop();
        }
      },
      [&](int) { loop.Stop(); });
  p.client->Write("STARTTLS\r\nRSET\r\n");
  event::Timer guard(loop.get());
  guard.Start(10000, 0, [&] { loop.Stop(); });
  loop.Run();
  EXPECT_TRUE(server_done);
  EXPECT_TRUE(client_done);
  EXPECT_EQ(status, PeerStatus::kVerified);
  EXPECT_TRUE(client_got == "250 got " + std::string(100000, 'x') + "\r\n") << client_got.size();
  EXPECT_EQ(p.server->info().protocol, "TLSv1.3");
  EXPECT_NE(p.server->info().Summary().find(" with cipher TLS_"), std::string::npos);
  EXPECT_EQ(CheckPeer(p.client->session(), {"example.org"}, nullptr), PeerStatus::kTrusted);
  EXPECT_EQ(CheckPeer(p.client->session(), {".localhost"}, nullptr), PeerStatus::kTrusted);
}

// The smtp client's trap: after the handshake the server's first reply came
// in one read together with a post-handshake message (a TLS 1.3 KeyUpdate
// here; a NewSessionTicket from OpenSSL servers behaves the same). GnuTLS
// consumes that message with E_AGAIN while the reply's record is still
// buffered; the reader must go on, or the client waits for ever.
TEST(Stream, ClientReadsRecordsBehindPostHandshakeMessage) {
  TempDir d;
  MakeCert(d.path());
  event::Loop loop;
  Config scfg, ccfg;
  scfg.creds = *Credentials::Server(d.path() + "/cert.pem", d.path() + "/key.pem", {});
  scfg.priority = *Priority::Parse(*PriorityString(">=TLSv1.3", "medium"));
  ccfg = scfg;
  ccfg.role = Role::kClient;
  ccfg.creds = *Credentials::Client(d.path() + "/cert.pem");
  Pair p = Connect(loop);
  std::string server_got, client_got;
  int replies = 0;
  p.server->ReadStart(
      [&](std::string_view data) {
        server_got += data;
        if (!p.server->tls() && !p.server->handshaking() && server_got == "STARTTLS\r\n") {
          server_got.clear();
          p.server->Write("220 Ready\r\n");
          p.server->StartTls(scfg, [&](Result<void> r) { ASSERT_TRUE(r) << r.error(); });
        } else if (p.server->tls() && server_got.ends_with("\r\n")) {
          server_got.clear();
          // The KeyUpdate waits in the push buffer; the reply's record joins it
          // and both leave in one write, so the client reads them together.
          ASSERT_EQ(gnutls_session_key_update(p.server->session(), 0), 0);
          p.server->Write("250-first\r\n250 second\r\n");
        }
      },
      [](int) {});
  p.client->ReadStart(
      [&](std::string_view data) {
        client_got += data;
        if (!p.client->tls() && client_got == "220 Ready\r\n") {
          client_got.clear();
          p.client->StartTls(ccfg, [&](Result<void> r) {
            ASSERT_TRUE(r) << r.error();
            p.client->Write("EHLO client\r\n");
          });
        } else if (client_got.ends_with("250 second\r\n")) {
          client_got.clear();
          if (++replies == 2) return loop.Stop();
          p.client->Write("EHLO again\r\n");  // keys changed once already: once more
        }
      },
      [&](int) { loop.Stop(); });
  p.client->Write("STARTTLS\r\n");
  event::Timer guard(loop.get());
  guard.Start(10000, 0, [&] { loop.Stop(); });
  loop.Run();
  EXPECT_EQ(replies, 2) << "the client never saw the reply behind the KeyUpdate";
  EXPECT_EQ(p.client->info().protocol, "TLSv1.3");
}

TEST(Stream, HandshakeTimesOut) {
  TempDir d;
  MakeCert(d.path());
  event::Loop loop;
  Config scfg;
  scfg.creds = *Credentials::Server(d.path() + "/cert.pem", d.path() + "/key.pem", {});
  scfg.priority = *Priority::Parse("NORMAL");
  scfg.handshake_timeout_ms = 50;
  Pair p = Connect(loop);
  std::string why;
  p.server->StartTls(scfg, [&](Result<void> r) {
    why = r ? "ok" : r.error();
    loop.Stop();
  });
  loop.Run();
  EXPECT_EQ(why, "TLS handshake timed out");
}

TEST(Credentials, ReportsMissingFiles) {
  auto s = Credentials::Server("/nonexistent/cert.pem", "", {});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("/nonexistent/cert.pem"), std::string::npos);
  EXPECT_FALSE(Credentials::Client("/nonexistent/ca.pem"));
  EXPECT_TRUE(Credentials::Client(""));
}

}  // namespace
}  // namespace postern::tls
