// tests/fuzz/fuzz_smtp_command.cc — libFuzzer target for SMTP command lines:
// the line splitter (any chunking gives the same lines), verb splitting,
// MAIL/RCPT arguments with their paths and ESMTP parameters, BDAT.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "postern/smtp/address.h"
#include "postern/smtp/command.h"
#include "postern/smtp/esmtp.h"
#include "postern/smtp/reader.h"
#include "tests/fuzz/check.h"

using namespace postern::smtp;
using postern::fuzz::Check;

namespace {

bool Inside(std::string_view part, std::string_view whole) {
  return part.empty() || (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

std::vector<std::string> ReadLines(std::string_view in, size_t step) {
  CommandReader r(64);
  std::vector<std::string> out;
  for (size_t i = 0; i < in.size(); i += step) {
    r.Feed(in.substr(i, step));
    CommandReader::Line l;
    while (r.Next(&l)) {
      Check(l.text.size() <= 64);
      out.emplace_back(l.text);
      out.back() += l.bare_lf ? "|lf" : "|crlf";
      if (l.too_long) out.back() += "|long";
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  if (size > 0) Check(ReadLines(line, 1 + data[0] % 7) == ReadLines(line, size));
  (void)ContainsNul(line);
  Command cmd = ParseCommand(line);
  Check(Inside(cmd.word, line) && Inside(cmd.arg, line));
  Check(!VerbName(cmd.verb).empty());
  PathOptions opt;
  opt.smtputf8 = size > 0 && (data[0] & 1);
  opt.allow_bare_local = size > 0 && (data[0] & 2);
  bool unbracketed = size > 0 && (data[0] & 4);
  if (cmd.verb == Verb::kMail || cmd.verb == Verb::kRcpt) {
    bool mail = cmd.verb == Verb::kMail;
    auto arg = ParsePathArg(cmd.arg, mail ? "FROM" : "TO", unbracketed);
    if (arg) {
      Check(Inside(arg->path, cmd.arg) && Inside(arg->params, cmd.arg));
      opt.allow_null = mail;
      auto addr = ParsePath(arg->path, opt);
      if (addr && !addr->null) {
        auto again = ParsePath("<" + addr->Canonical() + ">", opt);
        Check(again.ok() && again->local == addr->local && again->domain == addr->domain);
      }
      // Parameters that parse also survive formatting and parsing again.
      if (mail) {
        MailParams p, q;
        if (ParseMailParams(arg->params, &p).ok()) {
          Check(ParseMailParams(FormatMailParams(p), &q).ok());
          Check(q.size == p.size && q.body == p.body && q.smtputf8 == p.smtputf8 &&
                q.ret == p.ret && q.envid == p.envid && q.auth == p.auth);
        }
      } else {
        RcptParams p, q;
        if (ParseRcptParams(arg->params, &p).ok()) {
          Check(ParseRcptParams(FormatRcptParams(p), &q).ok());
          Check(q.notify == p.notify && q.orcpt == p.orcpt && q.orcpt_type == p.orcpt_type);
        }
      }
    }
  } else if (cmd.verb == Verb::kBdat) {
    auto b = ParseBdatArg(cmd.arg, 1u << 30);
    if (b) Check(b->size <= (1u << 30));
  }
  return 0;
}
