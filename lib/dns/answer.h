// dns/answer.h — one raw DNS answer turned into typed records (c-ares'
// parsers where it has one; TLSA, which c-ares 1.18 lacks, by hand with bounds
// checks) and the pure rules applied to them: status mapping, MX ordering,
// null MX, name syntax. No I/O here, so all of it is unit-tested and fuzzed.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "postern/dns/address.h"
#include "postern/util/result.h"

namespace postern::dns {

// How a lookup ended, in the terms a mail transfer agent acts on.
enum class Status {
  kOk,        // records found
  kNoData,    // the name exists but has no record of this type (permanent)
  kNxDomain,  // the name does not exist (permanent)
  kTempFail,  // SERVFAIL, timeout, refused, malformed reply...: try again later
  kPermFail,  // cannot ever succeed: malformed name, null MX
};
std::string_view StatusName(Status s);

// The DNS record types postern asks for (values are the wire codes).
enum class RrType : uint16_t { kA = 1, kNs = 2, kPtr = 12, kMx = 15, kTxt = 16, kAaaa = 28, kTlsa = 52 };
std::string_view RrTypeName(RrType t);

// A c-ares status code of a finished query as a Status: only NXDOMAIN, NODATA
// and a malformed name are permanent; every other failure is temporary, so a
// broken resolver defers mail rather than bouncing it.
Status StatusFromAres(int ares_status);
// The same for a complete answer, from its header's RCODE and ANCOUNT (what
// c-ares' ares_query does, which postern cannot use: it sends its own query).
Status StatusFromHeader(std::span<const uint8_t> answer);
// The AD bit: the answering resolver validated the answer with DNSSEC.
bool IsAuthentic(std::span<const uint8_t> answer);

// How long an answer may be cached: the smallest TTL of its answer records,
// or for a negative answer (NXDOMAIN, NODATA) the SOA's negative TTL from the
// authority section (RFC 2308: min of its TTL and MINIMUM); 0 when neither.
uint32_t AnswerTtl(std::span<const uint8_t> answer);

// Postfix's wording, for log lines and delivery status notices:
// "Host or domain name not found. Name service error for name=N type=T: ...".
std::string DescribeFailure(Status s, std::string_view name, RrType type);

// Syntax check before anything is sent: one trailing dot removed, at most
// 253 characters, labels of 1..63 printable characters (no space, no
// backslash, so c-ares never sees an escape). Returns the name to query.
Result<std::string> NormalizeName(std::string_view name);

// Records of one answer; status is kOk (at least one record), kNoData (none of
// this type) or kTempFail (the reply is malformed).
template <class T>
struct Parsed {
  Status status = Status::kOk;
  std::vector<T> records;
};

struct Mx {
  uint16_t preference = 0;
  std::string exchange;  // "" for the root, i.e. a null MX's "."
  bool operator==(const Mx&) const = default;
};

struct Tlsa {
  uint8_t usage = 0;     // 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE
  uint8_t selector = 0;  // 0 full certificate, 1 SubjectPublicKeyInfo
  uint8_t mtype = 0;     // 0 exact, 1 SHA2-256, 2 SHA2-512
  std::vector<uint8_t> data;
  std::string DataHex() const;
  bool operator==(const Tlsa&) const = default;
};

Parsed<IpAddress> ParseA(std::span<const uint8_t> answer);
Parsed<IpAddress> ParseAaaa(std::span<const uint8_t> answer);
Parsed<Mx> ParseMx(std::span<const uint8_t> answer);
// One string per TXT record, its character-strings concatenated (RFC 7208 3.3).
Parsed<std::string> ParseTxt(std::span<const uint8_t> answer);
// NS records: the name servers' host names, in answer order, without duplicates.
Parsed<std::string> ParseNs(std::span<const uint8_t> answer);
// PTR names for `addr` (the answer's owner must be addr's reverse name).
Parsed<std::string> ParsePtr(std::span<const uint8_t> answer, const IpAddress& addr);
// TLSA records of the answer section (CNAME and other records skipped).
// Records shorter than the three fixed octets are unusable and dropped
// (RFC 7671 5: unusable TLSA records are ignored).
Parsed<Tlsa> ParseTlsa(std::span<const uint8_t> answer);

// RFC 7505: a null MX is a lone MX record whose exchange is the root; a set
// made only of root exchanges is treated the same (nothing to deliver to).
bool IsNullMx(const std::vector<Mx>& records);

// RFC 5321 5.1: ascending preference, equal preferences in random order.
// Root exchanges (a misplaced null MX beside real ones) are dropped and a name
// listed twice keeps its lowest preference.
std::vector<Mx> OrderMx(std::vector<Mx> records, std::mt19937& rng);

}  // namespace postern::dns
