// lib/queue/testing.h — for unit tests only: queue one message in one call
// (record, body, recipients), as every test that needs a queued message does.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "postern/queue/queue.h"

namespace postern::queue::testing {

// Queues `body` for `rcpts` with `rec` (sender, arrival ...); 0 on failure,
// which the test's own expectations then report.
inline MsgId EnqueueOne(Queue& q, MessageRecord rec, std::string_view body,
                        const std::vector<std::string>& rcpts) {
  auto w = q.Begin(std::move(rec));
  EXPECT_TRUE(w.ok()) << w.status().message;
  if (!w.ok()) return 0;
  EXPECT_TRUE((*w)->Append(body).ok());
  for (const auto& r : rcpts) EXPECT_TRUE((*w)->AddRecipient({r, "", 0}).ok());
  auto id = q.Commit(std::move(*w));
  EXPECT_TRUE(id.ok()) << id.status().message;
  return id.ok() ? *id : 0;
}

}  // namespace postern::queue::testing
