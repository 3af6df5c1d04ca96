// dns/uv_handle.h — a minimal owner of one heap-allocated libuv handle, kept
// inside lib/dns until lib/event's Handle lands (same interface, so switching
// is a rename). Destruction starts uv_close; the loop frees the memory.
#pragma once

#include <uv.h>

namespace postern::dns::detail {

template <class H>
class UvHandle {
 public:
  UvHandle() : h_(new H{}) {}
  ~UvHandle() { Close(); }
  UvHandle(UvHandle&& o) noexcept : h_(o.h_) { o.h_ = nullptr; }
  UvHandle& operator=(UvHandle&& o) noexcept {
    if (this != &o) {
      Close();
      h_ = o.h_;
      o.h_ = nullptr;
    }
    return *this;
  }
  UvHandle(const UvHandle&) = delete;
  UvHandle& operator=(const UvHandle&) = delete;
  H* get() const { return h_; }
  uv_handle_t* base() const { return reinterpret_cast<uv_handle_t*>(h_); }
  // For a handle whose uv_*_init failed: free it without uv_close.
  void Abandon() {
    delete h_;
    h_ = nullptr;
  }
  void Close() {
    if (!h_) return;
    h_->data = nullptr;  // callbacks already queued must not reach the owner
    uv_close(base(), [](uv_handle_t* h) { delete reinterpret_cast<H*>(h); });
    h_ = nullptr;
  }

 private:
  H* h_;
};

}  // namespace postern::dns::detail
