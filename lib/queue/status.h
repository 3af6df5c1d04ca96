// queue/status.h — results of queue operations. Callers branch on the code:
// kInsufficientStorage is what smtpd turns into "452 4.3.1".
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace postern::queue {

enum class Code {
  kOk,
  kNotFound,             // no such message or envelope
  kInsufficientStorage,  // disk full, queue_minfree reached, or the map at its limit
  kCorrupt,              // a record or body that cannot be read back
  kInvalid,              // a caller error: bad argument or field too long
  kIo,                   // any other system or LMDB failure
  kConflict,             // a conditional update found the envelope changed (another process took it)
  kMapFull,              // internal: the map must grow before a retry
};

const char* CodeName(Code c);

struct [[nodiscard]] Status {
  Code code = Code::kOk;
  std::string message;

  bool ok() const { return code == Code::kOk; }
  explicit operator bool() const { return ok(); }
  static Status Ok() { return {}; }
};

inline Status Fail(Code c, std::string message) { return Status{c, std::move(message)}; }

// A value or a failed Status.
template <class T>
class [[nodiscard]] Outcome {
 public:
  Outcome(T value) : value_(std::move(value)) {}      // NOLINT: implicit by design
  Outcome(Status s) : status_(std::move(s)) {}         // NOLINT
  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T& operator*() { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  const Status& status() const { return status_; }
  Code code() const { return ok() ? Code::kOk : status_.code; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace postern::queue
