// pipe/expand.cc — argv= macros; see expand.h. The shapes follow Postfix's
// expand_argv and morph_recipient.
#include "pipe/expand.h"

#include <map>

#include "postern/mda/copy.h"
#include "postern/rewrite/virtual.h"
#include "postern/util/strings.h"

namespace postern::pipe {

namespace {

using Values = std::map<std::string, std::string, std::less<>>;

// Postfix's morph_recipient: q quotes the local part; h folds the domain,
// u the local part (an address without '@' entirely).
std::string Morph(const std::string& address, const mda::PipeFlags& f, bool quote) {
  std::string out = quote && f.quote ? mda::QuoteAddress(address) : address;
  size_t at = out.rfind('@');
  if (f.fold_user && (at == std::string::npos || f.fold_host)) return ToLower(out);
  if (at == std::string::npos) return out;
  if (f.fold_host) out = out.substr(0, at) + ToLower(out.substr(at));
  if (f.fold_user) out = ToLower(out.substr(0, at)) + out.substr(at);
  return out;
}

std::string LocalPart(const std::string& address) {
  size_t at = address.rfind('@');
  return at == std::string::npos ? address : address.substr(0, at);
}

// The per-recipient macros of one recipient. False: $user is empty and an
// element holding it is left out for this recipient (Postfix's cyrus rule).
bool RecipientValues(const Rcpt& r, const MacroValues& v, const mda::PipeFlags& f, Values* out) {
  (*out)["recipient"] = Morph(r.address, f, true);
  (*out)["original_recipient"] = Morph(r.original, f, true);
  std::string folded = Morph(r.address, f, false);
  size_t at = folded.rfind('@');
  std::string mailbox = LocalPart(folded), user = mailbox, ext, base;
  char delim = 0;
  if (rewrite::SplitExtension(mailbox, v.recipient_delimiter, &base, &ext, &delim)) user = base;
  (*out)["mailbox"] = mailbox;
  (*out)["user"] = user;
  (*out)["extension"] = ext;
  (*out)["domain"] = at == std::string::npos ? "" : folded.substr(at + 1);
  return !user.empty();
}

std::string Eval(const std::vector<mda::MacroPiece>& pieces, const Values& vals) {
  std::string out;
  for (const mda::MacroPiece& p : pieces) {
    if (!p.macro) {
      out += p.text;
      continue;
    }
    auto it = vals.find(p.text);
    std::string value = it == vals.end() ? "" : it->second;
    if (p.cond == '?') out += value.empty() ? "" : p.cond_text;
    else if (p.cond == ':') out += value.empty() ? p.cond_text : "";
    else out += value;
  }
  return out;
}

}  // namespace

Result<std::vector<std::string>> ExpandArgv(const std::vector<std::string>& argv, const MacroValues& v,
                                            const mda::PipeFlags& f) {
  Values vals = {
      {"sender", f.quote && !v.sender.empty() ? mda::QuoteAddress(v.sender) : v.sender},
      {"nexthop", f.fold_host ? ToLower(v.nexthop) : v.nexthop},
      {"size", v.size},
      {"client_address", v.client_address},
      {"client_helo", v.client_helo},
      {"client_hostname", v.client_hostname},
      {"client_port", v.client_port},
      {"client_protocol", v.client_protocol},
      {"sasl_method", v.sasl_method},
      {"sasl_sender", v.sasl_sender},
      {"sasl_username", v.sasl_username},
  };
  std::vector<std::string> out;
  for (const std::string& arg : argv) {
    auto pieces = mda::ParseMacros(arg);
    if (!pieces) return Err(pieces.error());
    bool per_recipient = false;
    for (const auto& p : *pieces) per_recipient |= p.macro && mda::PerRecipientMacro(p.text);
    if (!per_recipient) {
      out.push_back(Eval(*pieces, vals));
      continue;
    }
    for (const Rcpt& r : v.recipients) {
      Values each = vals;
      bool uses_user = false;
      for (const auto& p : *pieces) uses_user |= p.macro && p.text == "user";
      if (!RecipientValues(r, v, f, &each) && uses_user) continue;
      out.push_back(Eval(*pieces, each));
    }
  }
  return out;
}

}  // namespace postern::pipe
