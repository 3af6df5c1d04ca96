// smtp/sasl.h — the SMTP AUTH wire format (RFC 4954) and the PLAIN (RFC 4616)
// and LOGIN mechanisms, for smtpd and the smtp client. Total on arbitrary bytes.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern::smtp {

// RFC 4616: authzid, authcid and passwd are each at most 255 octets.
constexpr size_t kSaslFieldMax = 255;
// A base64 client response: PLAIN's three fields, two NULs, base64's 4/3.
constexpr size_t kSaslResponseMax = ((3 * kSaslFieldMax + 2 + 2) / 3) * 4;
// RFC 4422 §3.1: mechanism names are 1 to 20 characters.
constexpr size_t kSaslMechanismMax = 20;

// Strict base64 (RFC 4648 §4, padding required, no white space); nullopt on
// anything else or when the decoded length would exceed max_out.
std::optional<std::string> Base64Decode(std::string_view in, size_t max_out);
std::string Base64Encode(std::string_view in);

// "AUTH <mechanism> [initial-response]".
struct AuthCommand {
  std::string mechanism;                  // upper-cased
  std::optional<std::string> initial;     // still base64; "=" is an empty response
};
std::optional<AuthCommand> ParseAuthCommand(std::string_view arg);

// A client response line: "*" cancels the exchange (RFC 4954 §4).
bool IsSaslCancel(std::string_view line);

// PLAIN's decoded message "authzid NUL authcid NUL passwd".
struct PlainCredentials {
  std::string authzid, authcid, passwd;
};
std::optional<PlainCredentials> ParsePlain(std::string_view decoded);
// The base64 PLAIN message a client sends.
std::string EncodePlain(std::string_view authzid, std::string_view authcid, std::string_view passwd);

// Overwrites a secret (password, decoded credentials) before clearing it, so
// that it is not left in freed memory.
void WipeSecret(std::string* s);

// A LOGIN username or password: at most kSaslFieldMax octets, no NUL.
bool IsValidSaslField(std::string_view s);

// A user name postern accepts: a valid field without control characters
// (it goes into log lines and the Received: header).
bool IsValidSaslUsername(std::string_view s);

// The server's LOGIN prompts, already base64 ("Username:", "Password:").
inline constexpr std::string_view kLoginUserPrompt = "VXNlcm5hbWU6";
inline constexpr std::string_view kLoginPassPrompt = "UGFzc3dvcmQ6";

}  // namespace postern::smtp
