// tls/tls.cc — credentials, priorities, the shared ticket key file and
// handshake facts; see tls.h. Nothing here runs per byte.
#include "postern/tls/tls.h"

#include <fcntl.h>
#include <gnutls/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <mutex>

#include "postern/event/event.h"
#include "postern/log/log.h"
#include "postern/util/strings.h"

namespace postern::tls {

namespace {

// Postfix's protocol names, oldest first, and GnuTLS's for each.
struct Proto {
  std::string_view postfix, gnutls;
};
constexpr std::array<Proto, 4> kProtos = {{
    {"TLSv1", "VERS-TLS1.0"},
    {"TLSv1.1", "VERS-TLS1.1"},
    {"TLSv1.2", "VERS-TLS1.2"},
    {"TLSv1.3", "VERS-TLS1.3"},
}};

// Index into kProtos; -1 for the SSL versions GnuTLS never speaks; -2 unknown.
int ProtoIndex(std::string_view name) {
  for (size_t i = 0; i < kProtos.size(); ++i)
    if (EqualsIgnoreCase(name, kProtos[i].postfix)) return int(i);
  if (EqualsIgnoreCase(name, "SSLv2") || EqualsIgnoreCase(name, "SSLv3")) return -1;
  return -2;
}

std::vector<std::string_view> Tokens(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == ',' || s[i] == ':')) ++i;
    size_t j = i;
    while (j < s.size() && !(s[j] == ' ' || s[j] == '\t' || s[j] == ',' || s[j] == ':')) ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

void GnutlsLog(int level, const char* text) {
  std::string_view t(text);
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.remove_suffix(1);
  log::Info("gnutls<{}>: {}", level, t);
}

bool DnsSuffixMatch(gnutls_x509_crt_t crt, std::string_view suffix) {
  auto matches = [&](std::string_view name) {
    return name.size() > suffix.size() && EqualsIgnoreCase(name.substr(name.size() - suffix.size()), suffix);
  };
  bool any_san = false;
  for (unsigned i = 0;; ++i) {
    char buf[256];
    size_t len = sizeof buf;
    int t = gnutls_x509_crt_get_subject_alt_name(crt, i, buf, &len, nullptr);
    if (t == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) break;
    if (t == GNUTLS_SAN_DNSNAME) {
      any_san = true;
      if (matches(std::string_view(buf, len))) return true;
    }
  }
  if (any_san) return false;
  char cn[256];
  size_t len = sizeof cn;
  if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &len) == 0)
    return matches(std::string_view(cn, len));
  return false;
}

}  // namespace

Result<std::string> PriorityString(std::string_view protocols, std::string_view ciphers) {
  std::string base;
  if (EqualsIgnoreCase(ciphers, "high")) base = "SECURE128";
  // GnuTLS enables nothing weaker than its NORMAL set: Postfix's lower grades get that.
  else if (EqualsIgnoreCase(ciphers, "medium") || EqualsIgnoreCase(ciphers, "low") ||
           EqualsIgnoreCase(ciphers, "export") || ciphers.empty())
    base = "NORMAL";
  else
    return Err("cipher grade \"" + std::string(ciphers) + "\" is not export, low, medium or high");

  std::array<bool, kProtos.size()> named{}, excluded{};
  bool any_named = false;
  int lo = 0, hi = int(kProtos.size()) - 1;
  for (std::string_view tok : Tokens(protocols)) {
    std::string_view name = tok;
    enum { kName, kNot, kMin, kMax } kind = kName;
    if (name.starts_with("!")) kind = kNot, name.remove_prefix(1);
    else if (name.starts_with(">=")) kind = kMin, name.remove_prefix(2);
    else if (name.starts_with("<=")) kind = kMax, name.remove_prefix(2);
    int i = ProtoIndex(name);
    if (i == -2) return Err("unknown TLS protocol \"" + std::string(tok) + "\"");
    if (kind == kMin) lo = std::max(lo, i < 0 ? 0 : i);
    else if (kind == kMax) hi = i < 0 ? -1 : std::min(hi, i);
    else if (i >= 0 && kind == kNot) excluded[size_t(i)] = true;
    else if (i >= 0) named[size_t(i)] = any_named = true;
  }
  std::string prio = base + ":-VERS-ALL";
  bool any = false;
  for (int i = int(kProtos.size()) - 1; i >= 0; --i) {
    bool on = (!any_named || named[size_t(i)]) && !excluded[size_t(i)] && i >= lo && i <= hi;
    if (!on) continue;
    prio += ":+" + std::string(kProtos[size_t(i)].gnutls);
    any = true;
  }
  if (!any) return Err("no TLS protocol left in \"" + std::string(protocols) + "\"");
  return prio;
}

// --- Credentials ---------------------------------------------------------

Credentials::~Credentials() {
  if (c_) gnutls_certificate_free_credentials(c_);
}

Result<std::shared_ptr<Credentials>> Credentials::Server(const std::string& cert_file,
                                                         const std::string& key_file,
                                                         const std::vector<std::string>& chain_files) {
  std::shared_ptr<Credentials> c(new Credentials);
  if (int rc = gnutls_certificate_allocate_credentials(&c->c_); rc < 0) return Err(gnutls_strerror(rc));
  if (!chain_files.empty()) {
    for (const std::string& f : chain_files) {
      int rc = gnutls_certificate_set_x509_key_file2(c->c_, f.c_str(), f.c_str(), GNUTLS_X509_FMT_PEM, nullptr, 0);
      if (rc < 0) return Err("cannot load key and certificate chain from " + f + ": " + gnutls_strerror(rc));
    }
    return c;
  }
  if (cert_file.empty()) return Err("no server certificate (smtpd_tls_cert_file or smtpd_tls_chain_files)");
  std::string key = key_file.empty() ? cert_file : key_file;
  int rc = gnutls_certificate_set_x509_key_file2(c->c_, cert_file.c_str(), key.c_str(), GNUTLS_X509_FMT_PEM,
                                                 nullptr, 0);
  if (rc < 0) return Err("cannot load certificate " + cert_file + " with key " + key + ": " + gnutls_strerror(rc));
  return c;
}

Result<std::shared_ptr<Credentials>> Credentials::Client(const std::string& ca_file, const std::string& ca_path,
                                                         const std::string& cert_file, const std::string& key_file) {
  std::shared_ptr<Credentials> c(new Credentials);
  if (int rc = gnutls_certificate_allocate_credentials(&c->c_); rc < 0) return Err(gnutls_strerror(rc));
  if (!ca_file.empty()) {
    int rc = gnutls_certificate_set_x509_trust_file(c->c_, ca_file.c_str(), GNUTLS_X509_FMT_PEM);
    if (rc < 0) return Err("cannot load CA certificates from " + ca_file + ": " + gnutls_strerror(rc));
    if (rc == 0) return Err("no CA certificate in " + ca_file);
  }
  if (!ca_path.empty()) {
    int rc = gnutls_certificate_set_x509_trust_dir(c->c_, ca_path.c_str(), GNUTLS_X509_FMT_PEM);
    if (rc < 0) return Err("cannot load CA certificates from " + ca_path + ": " + gnutls_strerror(rc));
    if (rc == 0) return Err("no CA certificate in " + ca_path);
  }
  if (!cert_file.empty()) {
    std::string key = key_file.empty() ? cert_file : key_file;
    int rc = gnutls_certificate_set_x509_key_file2(c->c_, cert_file.c_str(), key.c_str(), GNUTLS_X509_FMT_PEM,
                                                   nullptr, 0);
    if (rc < 0)
      return Err("cannot load client certificate " + cert_file + " with key " + key + ": " + gnutls_strerror(rc));
  }
  return c;
}

Result<std::shared_ptr<Credentials>> Credentials::WebPki(const std::string& ca_file) {
  if (!ca_file.empty()) return Client(ca_file);
  std::shared_ptr<Credentials> c(new Credentials);
  if (int rc = gnutls_certificate_allocate_credentials(&c->c_); rc < 0) return Err(gnutls_strerror(rc));
  int rc = gnutls_certificate_set_x509_system_trust(c->c_);
  if (rc < 0) return Err(std::string("cannot load the system trust store: ") + gnutls_strerror(rc));
  if (rc == 0) return Err("the system trust store holds no CA certificate");
  return c;
}

// --- Priority ------------------------------------------------------------

Priority::~Priority() {
  if (p_) gnutls_priority_deinit(p_);
}

Result<std::shared_ptr<Priority>> Priority::Parse(const std::string& text) {
  std::shared_ptr<Priority> p(new Priority);
  const char* where = nullptr;
  int rc = gnutls_priority_init(&p->p_, text.c_str(), &where);
  if (rc < 0) {
    p->p_ = nullptr;
    return Err("bad TLS priority \"" + text + "\" at \"" + (where ? where : "") + "\": " + gnutls_strerror(rc));
  }
  p->text_ = text;
  return p;
}

// --- TicketKey -----------------------------------------------------------

TicketKey::~TicketKey() {
  if (key_.data) {
    gnutls_memset(key_.data, 0, key_.size);
    gnutls_free(key_.data);
  }
}

namespace {

Result<std::string> ReadKeyFile(const std::string& path, size_t want, time_t* mtime) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return Err(std::string(strerror(errno)));
  struct stat st{};
  if (fstat(fd.get(), &st) != 0) return Err(std::string(strerror(errno)));
  *mtime = st.st_mtime;
  std::string buf(want + 1, '\0');
  ssize_t n = read(fd.get(), buf.data(), buf.size());
  if (n != ssize_t(want)) return Err("wrong size");
  buf.resize(want);
  return buf;
}

// Writes a fresh key beside `path` and puts it in place: link() when there is
// none yet (a process that loses that race adopts the winner's), rename()
// when replacing an old one.
Result<void> WriteKeyFile(const std::string& path, const gnutls_datum_t& key, bool replace) {
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  unlink(tmp.c_str());
  Fd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd.valid()) return Err("create " + tmp + ": " + strerror(errno));
  if (write(fd.get(), key.data, key.size) != ssize_t(key.size) || fsync(fd.get()) != 0) {
    std::string e = strerror(errno);
    unlink(tmp.c_str());
    return Err("write " + tmp + ": " + e);
  }
  fd.Reset();
  int rc = replace ? rename(tmp.c_str(), path.c_str()) : link(tmp.c_str(), path.c_str());
  int err = errno;
  unlink(tmp.c_str());
  if (rc != 0 && !(err == EEXIST && !replace)) return Err(path + ": " + strerror(err));
  return {};
}

}  // namespace

Result<std::shared_ptr<TicketKey>> TicketKey::Load(const std::string& dir, uint64_t rotate_after_s) {
  std::shared_ptr<TicketKey> k(new TicketKey);
  gnutls_datum_t fresh{nullptr, 0};
  if (int rc = gnutls_session_ticket_key_generate(&fresh); rc < 0)
    return Err(std::string("session ticket key: ") + gnutls_strerror(rc));
  const size_t size = fresh.size;
  std::string path = dir + "/" + kFileName;
  time_t mtime = 0;
  auto have = ReadKeyFile(path, size, &mtime);
  bool stale = have && rotate_after_s > 0 && uint64_t(std::max<time_t>(0, time(nullptr) - mtime)) >= rotate_after_s;
  if (!have || stale) {
    auto w = WriteKeyFile(path, fresh, have.ok() || errno != ENOENT);
    if (!w) log::Warning("TLS session ticket key {}: {}", path, w.error());
    have = ReadKeyFile(path, size, &mtime);
  }
  if (have) {
    memcpy(fresh.data, have->data(), size);
    gnutls_memset(have->data(), 0, have->size());
  } else {
    // Without the shared file tickets still work, within this process only.
    log::Warning("TLS session ticket key {}: {}; tickets resume in this process only", path, have.error());
  }
  k->key_ = fresh;
  return k;
}

// --- Handshake facts -----------------------------------------------------

std::string Info::Summary() const {
  return protocol + " with cipher " + cipher + " (" + std::to_string(bits) + "/" + std::to_string(bits) + " bits)";
}

Info SessionInfo(gnutls_session_t s) {
  Info i;
  switch (gnutls_protocol_get_version(s)) {
    case GNUTLS_TLS1_0: i.protocol = "TLSv1"; break;
    case GNUTLS_TLS1_1: i.protocol = "TLSv1.1"; break;
    case GNUTLS_TLS1_2: i.protocol = "TLSv1.2"; break;
    case GNUTLS_TLS1_3: i.protocol = "TLSv1.3"; break;
    default: {
      const char* n = gnutls_protocol_get_name(gnutls_protocol_get_version(s));
      i.protocol = n ? n : "unknown";
    }
  }
  const char* suite = gnutls_ciphersuite_get(s);
  i.cipher = suite ? suite : "unknown";
  i.bits = int(gnutls_cipher_get_key_size(gnutls_cipher_get(s)) * 8);
  i.resumed = gnutls_session_is_resumed(s) != 0;
  return i;
}

std::string_view PeerStatusName(PeerStatus s) {
  switch (s) {
    case PeerStatus::kAnonymous: return "Anonymous";
    case PeerStatus::kUntrusted: return "Untrusted";
    case PeerStatus::kTrusted: return "Trusted";
    case PeerStatus::kVerified: return "Verified";
  }
  return "Anonymous";
}

PeerStatus CheckPeer(gnutls_session_t s, const std::vector<std::string>& names, std::string* detail) {
  unsigned n = 0;
  const gnutls_datum_t* certs = gnutls_certificate_get_peers(s, &n);
  if (gnutls_certificate_type_get(s) != GNUTLS_CRT_X509 || !certs || n == 0) return PeerStatus::kAnonymous;
  unsigned status = 0;
  int rc = gnutls_certificate_verify_peers2(s, &status);
  if (rc < 0 || status != 0) {
    if (detail) {
      gnutls_datum_t out{nullptr, 0};
      if (rc >= 0 && gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out, 0) >= 0) {
        *detail = std::string(reinterpret_cast<char*>(out.data), out.size);
        gnutls_free(out.data);
      } else {
        *detail = rc < 0 ? gnutls_strerror(rc) : "certificate not trusted";
      }
    }
    return PeerStatus::kUntrusted;
  }
  gnutls_x509_crt_t crt = nullptr;
  if (gnutls_x509_crt_init(&crt) < 0) return PeerStatus::kTrusted;
  PeerStatus result = PeerStatus::kTrusted;
  if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) >= 0) {
    for (const std::string& name : names) {
      bool ok = name.starts_with(".") ? DnsSuffixMatch(crt, name)
                                      : gnutls_x509_crt_check_hostname2(crt, name.c_str(), 0) != 0;
      if (ok) {
        result = PeerStatus::kVerified;
        break;
      }
    }
  }
  gnutls_x509_crt_deinit(crt);
  if (result == PeerStatus::kTrusted && detail) {
    *detail = "certificate does not match";
    for (size_t i = 0; i < names.size(); ++i) *detail += (i ? ", " : " ") + names[i];
  }
  return result;
}

std::string CompileVersion() { return std::string("GnuTLS ") + GNUTLS_VERSION; }

std::string RunVersion() { return std::string("GnuTLS ") + gnutls_check_version(nullptr); }

std::vector<std::string> PublicKeyAlgorithms() {
  std::vector<std::string> out;
  for (const gnutls_pk_algorithm_t* pk = gnutls_pk_list(); *pk != GNUTLS_PK_UNKNOWN; ++pk)
    if (const char* name = gnutls_pk_get_name(*pk); name && std::find(out.begin(), out.end(), name) == out.end())
      out.emplace_back(name);  // RSA is listed twice (signing and encryption)
  return out;
}

void GlobalInit(int loglevel) {
  static std::once_flag once;
  std::call_once(once, [loglevel] {
    if (loglevel > 3) {
      gnutls_global_set_log_function(GnutlsLog);
      gnutls_global_set_log_level(loglevel - 3);
    }
  });
}

}  // namespace postern::tls
