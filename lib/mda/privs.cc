// mda/privs.cc — user look-ups and id switching; see privs.h.
#include "postern/mda/privs.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace postern::mda {

namespace {

std::optional<Creds> FromPasswd(const passwd* pw) {
  if (!pw) return std::nullopt;
  Creds c;
  c.uid = pw->pw_uid;
  c.gid = pw->pw_gid;
  c.name = pw->pw_name ? pw->pw_name : "";
  c.home = pw->pw_dir ? pw->pw_dir : "";
  c.shell = pw->pw_shell ? pw->pw_shell : "";
  return c;
}

}  // namespace

std::optional<Creds> UserByName(const std::string& name) {
  std::vector<char> buf(16384);
  passwd pw{}, *out = nullptr;
  if (getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &out) != 0) return std::nullopt;
  return FromPasswd(out);
}

std::optional<Creds> UserById(uid_t uid) {
  std::vector<char> buf(16384);
  passwd pw{}, *out = nullptr;
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &out) != 0) return std::nullopt;
  return FromPasswd(out);
}

std::optional<gid_t> GroupByName(const std::string& name) {
  std::vector<char> buf(16384);
  group gr{}, *out = nullptr;
  if (getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &out) != 0 || !out) return std::nullopt;
  return out->gr_gid;
}

bool Privileged() {
  static const bool root = getuid() == 0 && geteuid() == 0;
  return root;
}

EffectiveUser::EffectiveUser(const std::optional<Creds>& c) {
  if (!Privileged() || !c || c->uid == 0) return;
  gid_t g = c->gid;
  if (setgroups(1, &g) != 0 || setegid(c->gid) != 0 || seteuid(c->uid) != 0) {
    error_ = std::string("cannot switch to user ") + c->name + ": " + std::strerror(errno);
    if (seteuid(0) != 0 || setegid(0) != 0 || setgroups(0, nullptr) != 0) _exit(75);  // never keep half a user
    return;
  }
  switched_ = true;
}

EffectiveUser::~EffectiveUser() {
  if (!switched_) return;
  // A root process that cannot get root back must not go on delivering.
  if (seteuid(0) != 0 || setegid(0) != 0 || setgroups(0, nullptr) != 0) _exit(75);
}

bool BecomeUser(const Creds& c, bool only_gid) {
  if (!Privileged()) return true;
  if (only_gid || initgroups(c.name.c_str(), c.gid) != 0) {
    gid_t g = c.gid;
    if (setgroups(1, &g) != 0) return false;
  }
  if (setgid(c.gid) != 0 || setuid(c.uid) != 0) return false;
  // A process that could become root again has not given root up.
  if (c.uid != 0 && setuid(0) == 0) {
    errno = EPERM;
    return false;
  }
  return true;
}

}  // namespace postern::mda
