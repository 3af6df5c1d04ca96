// smtp/address.h — RFC 5321 paths and mailboxes (<>, quoted local parts,
// source routes, address literals, SMTPUTF8) and the relay-trick helpers.
#pragma once

#include <string>
#include <string_view>

#include "postern/smtp/limits.h"
#include "postern/util/result.h"
#include "postern/util/strings.h"  // IsValidUtf8

namespace postern::smtp {

struct Address {
  std::string local;   // decoded: quotes and backslash escapes removed
  std::string domain;  // as written; an address literal keeps its [brackets]; empty for <> or a bare local part
  bool null = false;          // the null path <>
  bool source_route = false;  // "@a,@b:" was present (and has been dropped)
  bool utf8 = false;          // non-ASCII octets present: needs SMTPUTF8 further on

  // "local@domain" with the local part quoted when it is not a dot-string
  // ("\"a b\"@example.org"); "" for the null path. Used in logs and the queue.
  std::string Canonical() const;
};

struct PathOptions {
  bool smtputf8 = false;          // MAIL FROM carried SMTPUTF8: UTF-8 allowed
  bool allow_null = true;         // <> allowed (sender yes, recipient no)
  bool allow_bare_local = false;  // "<user>" without domain (Postfix appends $myorigin); <postmaster> is always allowed
};

// Parses a path as it appears after MAIL FROM: / RCPT TO:, with its angle
// brackets ("<a@b>", "<>", "<@r1,@r2:a@b>"), or without them when the caller
// allowed unbracketed addresses. The error text is a short reason for the log
// and the reply; the caller picks 501 5.1.7 (sender) or 501 5.1.3 (recipient).
Result<Address> ParsePath(std::string_view path, const PathOptions& opt);

// Parses "local@domain" with no brackets and no source route.
Result<Address> ParseMailbox(std::string_view mailbox, const PathOptions& opt);

// The local part as it must be written on the wire: unchanged when it is a
// dot-string, otherwise quoted with '"' and '\' escaped.
std::string QuoteLocalPart(std::string_view local);

// True when a (decoded) local part holds '%', '!' or '@': sender-specified
// routing (user%site@relay, site!user@relay, "user@site"@relay), which Postfix
// refuses from untrusted clients while allow_untrusted_routing = no.
bool HasRoutingChars(std::string_view local);

// RFC 5321 Domain: dot-separated labels of letters, digits and inner hyphens,
// each at most 63 octets, at most 255 in all; with utf8, non-ASCII UTF-8
// labels (U-labels) are accepted too.
bool IsValidDomain(std::string_view domain, bool utf8);

// "[192.0.2.1]" or "[IPv6:2001:db8::1]", checked with inet_pton.
bool IsValidAddressLiteral(std::string_view literal);

}  // namespace postern::smtp
