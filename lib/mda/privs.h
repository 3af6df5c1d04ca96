// mda/privs.h — whose rights a delivery uses. Run as root, local switches
// its effective ids around file deliveries (EffectiveUser), and local and
// pipe run commands in a child that gives up root for good (BecomeUser); run
// as anyone else, every delivery simply uses the process's own rights.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace postern::mda {

struct Creds {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string name, home, shell;
};

std::optional<Creds> UserByName(const std::string& name);
std::optional<Creds> UserById(uid_t uid);
// The id of a group (user=name:group of pipe(8)).
std::optional<gid_t> GroupByName(const std::string& name);

// True when the process started as root and may act as other users.
bool Privileged();

// Switches the effective user and group (and the supplementary groups) to
// `c` for its lifetime; back to root in the destructor. Does nothing when
// the process is not privileged.
class EffectiveUser {
 public:
  explicit EffectiveUser(const std::optional<Creds>& c);
  ~EffectiveUser();
  EffectiveUser(const EffectiveUser&) = delete;
  EffectiveUser& operator=(const EffectiveUser&) = delete;
  // Empty when switched (or nothing to do), else why not.
  const std::string& error() const { return error_; }

 private:
  bool switched_ = false;
  std::string error_;
};

// In a fresh child: the supplementary groups, then the real, effective and
// saved ids become `c` for good (initgroups of c.name, or c.gid alone when
// `only_gid`). Returns false (errno set) when that failed or root's rights
// could be taken back; the child must then exit.
bool BecomeUser(const Creds& c, bool only_gid = false);

}  // namespace postern::mda
