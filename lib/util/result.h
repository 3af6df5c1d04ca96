// util/result.h — a value or an error message, for code that must not throw
// (client input, the event loop). Deliberately tiny: ok(), value(), error().
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace postern {

struct Error {
  std::string message;
};

// Result<T> holds a T or an Error; Result<void> holds only success or an Error.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}            // NOLINT: implicit by design
  Result(Error e) : error_(std::move(e.message)) {}         // NOLINT
  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  const std::string& error() const { return error_; }

 private:
  std::optional<T> value_;
  std::string error_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error e) : ok_(false), error_(std::move(e.message)) {}  // NOLINT
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const std::string& error() const { return error_; }

 private:
  bool ok_ = true;
  std::string error_;
};

inline Error Err(std::string message) { return Error{std::move(message)}; }

}  // namespace postern
