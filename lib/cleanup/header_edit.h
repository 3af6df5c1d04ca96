// cleanup/header_edit.h — the per-header stage of cleanup's content filter:
// holds one whole header of the primary block (header_size_limit bounds it)
// and hands it to a hook that may change or remove it (address rewriting;
// header_checks plug in beside it), streaming in place like HeaderFilter.
#pragma once

#include <functional>
#include <string>

namespace postern::cleanup {

class HeaderEditor {
 public:
  // Gets "Name: value\r\n" with its continuation lines; may rewrite it
  // (keeping a final line end) or clear it to remove the header.
  using Fn = std::function<void(std::string* header)>;

  HeaderEditor() = default;
  HeaderEditor(Fn fn, size_t max_line) : fn_(std::move(fn)), max_line_(max_line) {}
  bool active() const { return static_cast<bool>(fn_); }

  // Processes buf[from, end) in place; a header not yet complete is withheld.
  void Apply(std::string* buf, size_t from);
  // End of content: the withheld header goes out.
  void Finish(std::string* buf);

 private:
  void Line(std::string_view line, std::string* buf);
  void Emit(std::string* buf);

  Fn fn_;
  size_t max_line_ = 0;  // a partial line longer than this is no header
  std::string cur_;      // the header being collected (whole lines)
  std::string partial_;  // a line without its end yet
  bool body_ = false;
};

}  // namespace postern::cleanup
