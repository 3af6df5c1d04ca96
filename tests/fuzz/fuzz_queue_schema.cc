// fuzz_queue_schema.cc — the queue's record decoders take any bytes without
// crashing, and whatever they accept encodes back to the same bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "postern/queue/schema.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto m = postern::queue::DecodeMessage(1, in)) {
    auto again = postern::queue::EncodeMessage(*m);
    if (!again || postern::queue::DecodeMessage(1, *again) != m) __builtin_trap();
  }
  if (auto e = postern::queue::DecodeEnvelope(1, in)) {
    auto again = postern::queue::EncodeEnvelope(*e);
    if (!again || postern::queue::DecodeEnvelope(1, *again) != e) __builtin_trap();
  }
  return 0;
}
