// man/conf_page.cc — postern.conf(5): a fixed syntax part written here, then
// one entry per registry parameter, escaped for roff.
#include "conf_page.h"

#include <cctype>

#include "postern/config/params.h"

namespace postern::man {
namespace {

constexpr const char* kHead = R"(.\" postern.conf(5) - generated at build time from lib/config/params.cc; do not edit.
.TH POSTERN.CONF 5 "" "postern @VERSION@" "File Formats"
.SH NAME
postern.conf \- postern main.cf configuration parameters
.SH SYNOPSIS
.B postconf \-d
.br
.B postconf
[\fB\-c\fR \fIconfig_dir\fR] [\fB\-nx\fR] [\fIparameter\fR ...]
.SH DESCRIPTION
The file \fBmain.cf\fR in the configuration directory (\fB/etc/postern\fR, the
\fB\-c\fR option of every command, or \fB$POSTERN_CONFIG_DIR\fR) holds the
parameters of a postern instance, in the syntax of Postfix's main.cf.
Parameters not set there have the defaults listed below; names and defaults
are Postfix's wherever the meaning is the same.
\fBpostconf\fR(1) shows and edits the file; each program reads it at start-up
and \fBpostern reload\fR makes running programs read it again.
.SH SYNTAX
.IP \(bu 3
Each logical line has the form \fIname\fB = \fIvalue\fR.
White space around the \fB=\fR and at the end of the value is ignored.
A name consists of letters, digits and underscores.
.IP \(bu 3
A line that starts with white space continues the logical line before it;
the line break and the leading white space become one space.
A continuation line cannot begin the file.
.IP \(bu 3
Empty lines, lines of only white space and lines whose first non-blank
character is \fB#\fR are ignored, also between continuation lines.
A \fB#\fR elsewhere is part of the value.
.IP \(bu 3
When a name is set more than once, the last setting counts.
.IP \(bu 3
Values are stored as written and expanded when a program uses them, so the
order of parameters in the file does not matter.
Expansion is recursive; a parameter that refers to itself, directly or
through others, is an error that names the loop.
.TP
\fB$\fIname\fR, \fB${\fIname\fB}\fR, \fB$(\fIname\fB)\fR
The value of parameter \fIname\fR; an unknown or unset name without a default
expands to nothing.
.TP
\fB${\fIname\fB?\fIvalue\fB}\fR, \fB$(\fIname\fB?\fIvalue\fB)\fR
\fIvalue\fR (itself expanded) when \fIname\fR is non-empty, else nothing.
.TP
\fB${\fIname\fB:\fIvalue\fB}\fR, \fB$(\fIname\fB:\fIvalue\fB)\fR
\fIvalue\fR when \fIname\fR is empty, else nothing.
.TP
\fB${\fIname\fB?{\fIvalue1\fB}:{\fIvalue2\fB}}\fR
\fIvalue1\fR when \fIname\fR is non-empty, else \fIvalue2\fR (Postfix 3.0 form;
\fB${\fIname\fB?{\fIvalue\fB}}\fR and \fB${\fIname\fB:{\fIvalue\fB}}\fR also work).
.TP
\fB${{\fItext1\fB} == {\fItext2\fB} ? {\fIvalue1\fB} : {\fIvalue2\fB}}\fR
\fIvalue1\fR when the expanded texts are equal, else \fIvalue2\fR (Postfix 3.0;
the \fB: {\fIvalue2\fB}\fR part is optional). \fB!=\fR tests that they differ;
\fB<\fR, \fB<=\fR, \fB>\fR and \fB>=\fR compare them as decimal numbers.
.TP
\fB$$\fR
A literal \fB$\fR.
.PP
A \fB$\fR followed by anything else stays as written.
.SH "VALUE TYPES"
.TP
\fBstring\fR
Free text, expanded.
.TP
\fBboolean\fR
\fByes\fR or \fBno\fR, in any case.
.TP
\fBinteger\fR
A whole number.
.TP
\fBtime\fR
A number with a unit: \fBs\fR (seconds), \fBm\fR (minutes), \fBh\fR (hours),
\fBd\fR (days) or \fBw\fR (weeks). A bare number takes the unit named in the
parameter's entry.
.TP
\fBsize\fR
A number of bytes, optionally with \fBk\fR, \fBm\fR or \fBg\fR (powers of 1024).
.TP
\fBlist\fR
Items separated by commas and/or white space; \fB{\fR...\fB}\fR groups an item
that contains either.
.TP
\fBtables\fR
A list of lookup tables, each \fItype\fB:\fIname\fR, for example
\fBlmdb:/etc/postern/transport\fR or \fBinline:{ a=b }\fR.
.SH MILTERS
\fBsmtpd_milters\fR (mail received over SMTP) and \fBnon_smtpd_milters\fR
(mail submitted with \fBsendmail\fR(1): smtpd's local \fBsubmit\fR service and
\fBpickup\fR(8)) list mail filters that speak the Sendmail milter protocol
(version 6, as Postfix's), such as OpenDKIM or rspamd's proxy worker.
Each item is \fBinet:\fIhost\fB:\fIport\fR or \fBunix:\fIpathname\fR (a
relative path is below \fBqueue_directory\fR), or a group
\fB{ \fIname\fB, \fIattribute\fB=\fIvalue\fB, ... }\fR that overrides, for
that milter only, \fBconnect_timeout\fR, \fBcommand_timeout\fR,
\fBcontent_timeout\fR, \fBdefault_action\fR and \fBprotocol\fR (the
\fBmilter_\fR parameters without their prefix):
.PP
.nf
.in +4
smtpd_milters = inet:127.0.0.1:8891,
    { inet:127.0.0.1:11332, default_action = accept }
non_smtpd_milters = $smtpd_milters
.in
.fi
.PP
Events go to the milters in the listed order, each after the one before it
said continue: the connection, HELO/EHLO, MAIL, each RCPT (once smtpd's own
restrictions accepted it), DATA (or the first BDAT chunk), unknown commands,
then the message: its headers (smtpd's own Received: first), end of headers,
the body in chunks of 64 KiB and end of message. At the end of the message
each milter in turn sees the message as the milters before it left it and may
add, change, insert or delete headers, replace the body, add or delete
recipients and change the sender; the edited message is what is queued.
A milter's reject, tempfail or reply code answers the command (a rejection at
connect or HELO answers every later command of the connection); discard
accepts the message and keeps nothing; quarantine puts the message on hold
(\fBpostsuper \-H\fR releases it). The macros named in the
\fBmilter_*_macros\fR parameters go with their stage: \fBi\fR (queue ID,
from DATA on), \fBj\fR, \fB_\fR, \fBv\fR, \fB{daemon_name}\fR,
\fB{daemon_addr}\fR, \fB{daemon_port}\fR, \fB{client_addr}\fR,
\fB{client_name}\fR, \fB{client_ptr}\fR, \fB{client_port}\fR,
\fB{client_connections}\fR, \fB{tls_version}\fR, \fB{cipher}\fR,
\fB{cipher_bits}\fR, \fB{auth_type}\fR, \fB{auth_authen}\fR,
\fB{mail_addr}\fR, \fB{mail_host}\fR, \fB{mail_mailer}\fR,
\fB{rcpt_addr}\fR, \fB{rcpt_host}\fR, \fB{rcpt_mailer}\fR; a macro postern
has no value for (\fB{cert_subject}\fR, \fB{cert_issuer}\fR,
\fB{auth_author}\fR) is left out, and a milter may ask for its own lists.
.PP
A milter that cannot be reached, does not answer within its timeout, sends
something that is no milter reply or closes its connection is logged
(\fBwarning: milter inet:...: can't read SMFIC_... reply packet header:
Connection timed out\fR) and stands for \fBmilter_default_action\fR from
then on: \fBtempfail\fR (451 4.7.1), \fBreject\fR (550 5.5.0),
\fBaccept\fR (as if it were not listed) or \fBquarantine\fR (hold).
Each session opens its own connections to its milters; a slow milter holds
only its own session.
.SH PARAMETERS
)";

constexpr const char* kTail = R"(.SH "SEE ALSO"
\fBpostconf\fR(1), \fBmaster\fR(5), \fBpostern\fR(1), \fBpostmap\fR(1)
.SH FILES
\fB/etc/postern/main.cf\fR (or \fIconfig_dir\fB/main.cf\fR)
)";

// Text from the registry, made safe for roff: backslashes and hyphens escaped,
// and no line may start with a request character.
std::string Escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') out += "\\e";
    else if (c == '-') out += "\\-";
    else out += c;
  }
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out.insert(0, "\\&");
  return out;
}

const char* UnitName(char unit) {
  switch (unit) {
    case 'm': return "minutes";
    case 'h': return "hours";
    case 'd': return "days";
    case 'w': return "weeks";
    default: return "seconds";
  }
}

std::string Entry(const config::ParamDef& def) {
  std::string name(def.name);
  std::string out = ".SH \"" + name + " (" + std::string(config::ParamTypeName(def.type)) + ")\"\n";
  std::string doc = Escape(def.doc);
  if (!doc.empty()) doc[0] = char(std::toupper(static_cast<unsigned char>(doc[0])));
  out += doc + ".\n";
  if (def.type == config::ParamType::kTime)
    out += std::string("A number without a unit means ") + UnitName(def.time_unit) + ".\n";
  out += ".PP\n";
  if (def.compute)
    out += "Default: computed at run time; \\fBpostconf \\-d " + name +
           "\\fR shows the value on this host.\n";
  else if (def.default_value.empty())
    out += "Default: \\fB" + name + " =\\fR (empty)\n";
  else
    out += "Default: \\fB" + name + " = " + Escape(def.default_value) + "\\fR\n";
  return out;
}

}  // namespace

std::string RenderConfPage() {
  std::string out = kHead;
  size_t v = out.find("@VERSION@");
  if (v != std::string::npos) {
    const config::ParamDef* ver = config::FindParam("mail_version");
    out.replace(v, 9, ver ? std::string(ver->default_value) : std::string());
  }
  for (const auto& def : config::Registry()) out += Entry(def);
  return out + kTail;
}

}  // namespace postern::man
