// mda/copy.cc — message bytes for mailboxes and commands; see copy.h.
#include "postern/mda/copy.h"

#include "postern/smtp/address.h"

namespace postern::mda {

std::string FromLine(std::string_view sender, time_t now) {
  struct tm tm {};
  localtime_r(&now, &tm);
  char date[32];
  // asctime's layout without its trailing newline.
  strftime(date, sizeof date, "%a %b %e %H:%M:%S %Y", &tm);
  return "From " + (sender.empty() ? std::string("MAILER-DAEMON") : std::string(sender)) + "  " + date + "\n";
}

std::string CrlfToLf(std::string_view body) {
  std::string out;
  out.reserve(body.size());
  size_t i = 0;
  while (i < body.size()) {
    size_t cr = body.find("\r\n", i);
    if (cr == std::string_view::npos) {
      out.append(body.substr(i));
      break;
    }
    out.append(body.substr(i, cr - i));
    out += '\n';
    i = cr + 2;
  }
  return out;
}

namespace {

// Appends `line` (with or without its '\n') with `eol` in place of the '\n'.
void AppendLine(std::string_view line, const std::string& eol, std::string* out) {
  if (!line.empty() && line.back() == '\n') {
    out->append(line.substr(0, line.size() - 1));
    *out += eol;
  } else {
    out->append(line);
  }
}

}  // namespace

std::string FormatCopy(const CopyOptions& o, std::string_view message) {
  std::string out;
  out.reserve(message.size() + 256 + message.size() / 512);
  if (o.from_line) AppendLine(FromLine(o.sender, o.now), o.eol, &out);
  if (o.return_path) AppendLine("Return-Path: <" + o.sender + ">\n", o.eol, &out);
  if (!o.orig_to.empty()) AppendLine("X-Original-To: " + o.orig_to + "\n", o.eol, &out);
  if (!o.delivered_to.empty()) AppendLine("Delivered-To: " + o.delivered_to + "\n", o.eol, &out);
  size_t i = 0;
  while (i < message.size()) {
    size_t nl = message.find('\n', i);
    size_t end = nl == std::string_view::npos ? message.size() : nl + 1;
    std::string_view line = message.substr(i, end - i);
    if (o.quote_from && line.starts_with("From ")) out += '>';
    if (o.dot_stuff && line.starts_with('.')) out += '.';
    AppendLine(line, o.eol, &out);
    i = end;
  }
  if (o.blank_line) {
    if (!out.empty() && !out.ends_with(o.eol)) out += o.eol;
    out += o.eol;
  }
  return out;
}

std::string QuoteAddress(std::string_view address) {
  if (address.empty()) return {};
  size_t at = address.rfind('@');
  if (at == std::string_view::npos) return smtp::QuoteLocalPart(address);
  return smtp::QuoteLocalPart(address.substr(0, at)) + std::string(address.substr(at));
}

}  // namespace postern::mda
