// sendmail/mailq.h — `mailq` / `sendmail -bp`: Postfix's mailq listing,
// streamed from the queue one page of messages at a time.
#pragma once

#include <cstdio>
#include <string>

#include "config/maincf.h"
#include "queue/queue.h"

namespace postern::sendmail {

// Writes the listing of `q` to `out`; returns false on a queue read error
// (reported on stderr).
bool ListQueue(queue::Queue& q, FILE* out);

// Opens the queue of `cfg` and lists it; the exit status.
int Mailq(const config::Config& cfg);

}  // namespace postern::sendmail
