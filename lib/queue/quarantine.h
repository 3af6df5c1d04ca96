// queue/quarantine.h — Plan 9's smtpd -s: messages refused after their content
// was received, kept in $queue_directory/quarantine (one file each: reason,
// client, envelope, then the content), bounded in total size and in age.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "postern/util/result.h"

namespace postern::config {
class Config;
}

namespace postern::queue {

struct QuarantineEntry {
  std::string id;       // "Q" and 8 hex digits: never a queue id
  int64_t time = 0;     // when it was refused (seconds since the epoch)
  std::string reason;   // the reply the client got ("550 5.7.1 ...")
  std::string client;   // "name[addr]"
  std::string helo;
  std::string sender;   // empty for <>
  std::vector<std::string> recipients;
  uint64_t size = 0;    // content bytes
  int64_t stored_ns = 0;  // when the file was written (List's order; not stored)
};

struct QuarantineLimits {
  uint64_t size_limit = 0;  // quarantine_size_limit: all entries together; 0 keeps nothing
  int64_t expire = 0;       // quarantine_expire in seconds: older entries go; 0: never
  static Result<QuarantineLimits> FromConfig(const config::Config& cfg);
};

class Quarantine {
 public:
  Quarantine(std::string queue_dir, QuarantineLimits limits);
  static bool IsId(std::string_view id);

  // Stores one message (fsynced, then renamed into place). The oldest entries
  // go first when the total would pass size_limit; a message larger than the
  // limit is not kept. Returns the new entry's id.
  Result<std::string> Save(QuarantineEntry e, std::string_view content);
  // Every entry, oldest first (content not read); expired ones are removed.
  Result<std::vector<QuarantineEntry>> List(int64_t now);
  // One entry with its content.
  Result<std::pair<QuarantineEntry, std::string>> Read(std::string_view id) const;
  Result<void> Remove(std::string_view id);
  const std::string& dir() const { return dir_; }

 private:
  std::string Path(std::string_view id) const { return dir_ + "/" + std::string(id); }
  Result<void> MakeRoom(uint64_t size, int64_t now);

  std::string dir_;
  QuarantineLimits limits_;
};

// The entry's header as stored (and parsed back): "name: value" lines, a
// blank line; the content follows. Values are cut at CR/LF.
std::string FormatQuarantineHeader(const QuarantineEntry& e);
std::optional<QuarantineEntry> ParseQuarantineHeader(std::string_view text, size_t* content_start);

}  // namespace postern::queue
