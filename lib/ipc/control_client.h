// ipc/control_client.h — the requesting end of master's control socket
// ($queue_directory/public/control, see control.h): the connect that `postern`
// (blocking) and the metrics service share, and one request answered on a
// libuv loop without blocking it (the metrics service's scrapes).
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "postern/config/maincf.h"
#include "postern/event/event.h"
#include "postern/util/result.h"

namespace postern::ipc::control {

// The start of the error when no master listens.
inline constexpr std::string_view kNotRunning = "the postern mail system is not running";

// $queue_directory/public/control
std::string ControlPath(const config::Config& cfg);

// A blocking connected socket (a local connect does not wait), or the error:
// "permission denied", kNotRunning "(postern start)", or what connect said.
Result<Fd> Connect(const std::string& path);

// Sends one request and collects the whole answer (at most max_bytes of text);
// done runs once, on the loop: the text, or the error (master's, a broken
// connection, or no answer within timeout_ms).
void CallAsync(uv_loop_t* loop, const std::string& path, const std::vector<std::string>& words,
               uint64_t timeout_ms, size_t max_bytes, std::function<void(Result<std::string>)> done);

}  // namespace postern::ipc::control
