// milter/message.h — a message as milters see and edit it: header fields
// (Postfix's form: lines joined by LF, the value after the colon) and the
// CRLF body; the envelope changes they ask for. Pure, unit-tested.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "postern/milter/protocol.h"

namespace postern::milter {

struct HeaderField {
  std::string name;
  std::string value;  // after "name:", leading white space kept, continuation lines joined by "\n"
};

struct Message {
  std::vector<HeaderField> headers;
  std::string body;         // CRLF lines, as queued
  bool separator = true;    // an empty line separates headers and body

  // Splits queued content (CRLF lines): the header block ends at the first
  // empty line or the first line that is no header.
  static Message Parse(std::string_view raw);
  std::string Serialize() const;
  // The value as sent in SMFIC_HEADER: without leading white space unless
  // the filter negotiated SMFIP_HDR_LEADSPC.
  static std::string SentValue(const HeaderField& h, bool lead_space);
};

struct EnvelopeEdits {
  std::optional<std::string> sender;  // SMFIR_CHGFROM: the new address ("" is the null sender)
  std::vector<std::string> add_rcpts, del_rcpts;
};

// Applies one filter's end-of-message edits (in its order) to the message
// and collects its envelope edits. lead_space: the filter negotiated
// SMFIP_HDR_LEADSPC (its header values come with their own leading space).
void ApplyEdits(const std::vector<Edit>& edits, bool lead_space, Message* m, EnvelopeEdits* env);

// "<a@b>" → "a@b"; a bare address stays as it is.
std::string StripAngles(std::string_view addr);

}  // namespace postern::milter
