// util/unix_socket.h — unix-domain stream sockets: the address of a path
// (checked against sun_path's size) and a connect that names the path in
// every error; errno is kept for callers that tell "busy" from "gone".
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <string>
#include <string_view>

#include "postern/util/fd.h"
#include "postern/util/result.h"

namespace postern {

struct UnixAddress {
  sockaddr_un sun{};
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&sun); }
  socklen_t size() const { return sizeof sun; }
};

// Fails with "socket path too long: PATH" when the path does not fit.
Result<UnixAddress> MakeUnixAddress(std::string_view path);

// A new socket (always close-on-exec, non-blocking when asked) connected to
// `path`. On a unix socket connect completes at once or fails at once, also
// non-blocking (EAGAIN: the listener's backlog is full). Errors read
// "connect to PATH: reason"; *err gets the errno (0 for a too long path).
Result<Fd> ConnectUnix(std::string_view path, bool nonblocking, int* err = nullptr);

}  // namespace postern
