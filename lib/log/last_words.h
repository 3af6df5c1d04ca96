// log/last_words.h — a worker's last words: a descriptor that log::Fatal also
// writes its line to, so that master can name the reason when it throttles.
#pragma once

namespace postern::log {

// -1 (the default): none.
void SetFatalFd(int fd);

}  // namespace postern::log
