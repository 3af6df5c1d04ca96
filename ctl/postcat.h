// ctl/postcat.h — postcat(1)'s output, in Postfix's shape: the envelope as
// Postfix's record names ("sender: ...", "recipient: ..."), the content a
// line at a time split into header and body, and the section markers
// (postcat_format.cc); postcat.cc finds the message and drives them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "postern/queue/schema.h"

namespace postern::ctl {

struct CatFlags {
  bool envelope = false, header = false, body = false;  // -e -h -b; none given: all three
  bool verbose = false;                                  // -v: text lines carry their record name
};

// "*** NAME where ***" (where = "deferred/0a1b2c3d").
std::string CatMarker(std::string_view name, std::string_view where);
// The envelope records of a message and its envelopes (corrupt ones too).
std::string CatEnvelope(const queue::MessageRecord& m, const std::vector<queue::Envelope>& envs);

// The message content, fed in pieces as the queue stores it (CRLF lines):
// header lines until the first line that is neither a header nor its
// continuation, then body lines; each printed when its part is wanted.
class CatContent {
 public:
  explicit CatContent(CatFlags f) : f_(f) {}
  void Feed(std::string_view data, std::string* out);
  void Finish(std::string* out);  // a last line without its line end

 private:
  void Line(std::string_view line, std::string* out);
  CatFlags f_;
  bool in_body_ = false;
  std::string partial_;
};

}  // namespace postern::ctl
