// dns/answer.cc — typed records out of raw answers, status mapping and the MX
// rules. c-ares' parsers do the work wherever c-ares has one.
#include "postern/dns/answer.h"

#include <ares.h>
#include <netdb.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "postern/util/strings.h"

namespace postern::dns {
namespace {

constexpr size_t kHeaderSize = 12;
constexpr size_t kMaxAddresses = 128;  // per answer; far beyond any real RRset

// c-ares allocations freed by their own deallocators.
struct AresDataFree {
  void operator()(void* p) const { ares_free_data(p); }
};
struct HostentFree {
  void operator()(hostent* h) const { ares_free_hostent(h); }
};

const unsigned char* Buf(std::span<const uint8_t> a) { return a.data(); }
int Len(std::span<const uint8_t> a) { return static_cast<int>(std::min<size_t>(a.size(), 65535)); }

// What a c-ares parser's return code means for Parsed::status.
Status ParseStatus(int rc) {
  if (rc == ARES_SUCCESS) return Status::kOk;
  if (rc == ARES_ENODATA) return Status::kNoData;
  return Status::kTempFail;
}

uint16_t Get16(std::span<const uint8_t> a, size_t at) {
  return static_cast<uint16_t>(a[at] << 8 | a[at + 1]);
}

// Bounded cursor over a DNS message; every read checks what is left.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> msg) : msg_(msg) {}
  bool Skip(size_t n) {
    if (n > msg_.size() - pos_) return false;
    pos_ += n;
    return true;
  }
  bool U8(uint8_t* v) {
    if (pos_ >= msg_.size()) return false;
    *v = msg_[pos_++];
    return true;
  }
  bool U16(uint16_t* v) {
    if (msg_.size() - pos_ < 2) return false;
    *v = Get16(msg_, pos_);
    pos_ += 2;
    return true;
  }
  // Skips an owner name without following compression pointers: a pointer
  // ends the name in place, so no loop is possible.
  bool SkipName() {
    size_t wire = 0;
    for (;;) {
      uint8_t len;
      if (!U8(&len)) return false;
      if ((len & 0xC0) == 0xC0) return Skip(1);
      if (len & 0xC0) return false;  // 0x40/0x80 label types are obsolete
      if (len == 0) return true;
      wire += len + 1;
      if (wire > 255 || !Skip(len)) return false;
    }
  }
  std::span<const uint8_t> Take(size_t n) {  // caller has checked with Skip
    return msg_.subspan(pos_ - n, n);
  }

 private:
  std::span<const uint8_t> msg_;
  size_t pos_ = 0;
};

// The TTL of the record at the cursor: its own in the answer section; in
// the authority section of a negative answer an SOA's min(TTL, MINIMUM), and
// UINT32_MAX (no limit) for any other record. False when the record is cut short.
bool RecordTtl(Reader& r, bool negative, uint32_t* ttl) {
  uint16_t type, klass, hi, lo, rdlen;
  if (!r.SkipName() || !r.U16(&type) || !r.U16(&klass) || !r.U16(&hi) || !r.U16(&lo) || !r.U16(&rdlen) ||
      !r.Skip(rdlen))
    return false;
  *ttl = uint32_t(hi) << 16 | lo;
  if (!negative) return true;
  constexpr uint16_t kSoa = 6;
  if (type != kSoa || rdlen < 20) {
    *ttl = UINT32_MAX;
    return true;
  }
  auto rd = r.Take(rdlen);  // MINIMUM is the RDATA's last 32 bits
  *ttl = std::min(*ttl, uint32_t(Get16(rd, rdlen - 4)) << 16 | Get16(rd, rdlen - 2));
  return true;
}

}  // namespace

uint32_t AnswerTtl(std::span<const uint8_t> answer) {
  if (answer.size() < kHeaderSize) return 0;
  uint16_t qd = Get16(answer, 4), an = Get16(answer, 6), ns = Get16(answer, 8);
  Reader r(answer);
  r.Skip(kHeaderSize);
  for (uint16_t i = 0; i < qd; ++i)
    if (!r.SkipName() || !r.Skip(4)) return 0;
  uint32_t best = UINT32_MAX;
  bool negative = an == 0;
  for (uint16_t i = 0; i < (negative ? ns : an); ++i) {
    uint32_t ttl;
    if (!RecordTtl(r, negative, &ttl)) return 0;
    best = std::min(best, ttl);
  }
  return best == UINT32_MAX ? 0 : best;
}

std::string_view StatusName(Status s) {
  switch (s) {
    case Status::kOk: return "ok";
    case Status::kNoData: return "nodata";
    case Status::kNxDomain: return "nxdomain";
    case Status::kTempFail: return "tempfail";
    case Status::kPermFail: return "permfail";
  }
  return "?";
}

std::string_view RrTypeName(RrType t) {
  switch (t) {
    case RrType::kA: return "A";
    case RrType::kNs: return "NS";
    case RrType::kPtr: return "PTR";
    case RrType::kMx: return "MX";
    case RrType::kTxt: return "TXT";
    case RrType::kAaaa: return "AAAA";
    case RrType::kTlsa: return "TLSA";
  }
  return "?";
}

Status StatusFromAres(int ares_status) {
  switch (ares_status) {
    case ARES_SUCCESS: return Status::kOk;
    case ARES_ENODATA: return Status::kNoData;
    case ARES_ENOTFOUND: return Status::kNxDomain;
    case ARES_EBADNAME: return Status::kPermFail;
    default: return Status::kTempFail;
  }
}

Status StatusFromHeader(std::span<const uint8_t> answer) {
  if (answer.size() < kHeaderSize) return Status::kTempFail;
  switch (answer[3] & 0x0F) {
    case 0: return Get16(answer, 6) > 0 ? Status::kOk : Status::kNoData;  // NOERROR
    case 3: return Status::kNxDomain;
    default: return Status::kTempFail;  // FORMERR SERVFAIL NOTIMP REFUSED ...
  }
}

bool IsAuthentic(std::span<const uint8_t> answer) {
  return answer.size() >= kHeaderSize && (answer[3] & 0x20) != 0;
}

std::string DescribeFailure(Status s, std::string_view name, RrType type) {
  std::string_view what;
  switch (s) {
    case Status::kOk: return "";
    case Status::kNoData: what = "Host found but no data record of requested type"; break;
    case Status::kNxDomain: what = "Host not found"; break;
    case Status::kTempFail: what = "Host not found, try again"; break;
    case Status::kPermFail: what = "Non-recoverable error"; break;
  }
  std::string out = "Host or domain name not found. Name service error for name=";
  out.append(name).append(" type=").append(RrTypeName(type)).append(": ").append(what);
  return out;
}

Result<std::string> NormalizeName(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty()) return Err("empty domain name");
  if (name.size() > 253) return Err("domain name longer than 253 characters");
  size_t label = 0;
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F || c == '\\') return Err("domain name with a character DNS cannot carry here");
    if (c == '.') {
      if (label == 0) return Err("domain name with an empty label");
      label = 0;
    } else if (++label > 63) {
      return Err("domain name label longer than 63 characters");
    }
  }
  if (label == 0) return Err("domain name with an empty label");
  return std::string(name);
}

std::string Tlsa::DataHex() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (uint8_t b : data) {
    out += kHex[b >> 4];
    out += kHex[b & 0xF];
  }
  return out;
}

Parsed<IpAddress> ParseA(std::span<const uint8_t> answer) {
  Parsed<IpAddress> out;
  ares_addrttl ttls[kMaxAddresses];
  int n = kMaxAddresses;
  out.status = ParseStatus(ares_parse_a_reply(Buf(answer), Len(answer), nullptr, ttls, &n));
  if (out.status != Status::kOk) return out;
  for (int i = 0; i < n; ++i) out.records.push_back(IpAddress::V4(ttls[i].ipaddr));
  if (out.records.empty()) out.status = Status::kNoData;
  return out;
}

Parsed<IpAddress> ParseAaaa(std::span<const uint8_t> answer) {
  Parsed<IpAddress> out;
  ares_addr6ttl ttls[kMaxAddresses];
  int n = kMaxAddresses;
  out.status = ParseStatus(ares_parse_aaaa_reply(Buf(answer), Len(answer), nullptr, ttls, &n));
  if (out.status != Status::kOk) return out;
  for (int i = 0; i < n; ++i) {
    in6_addr a;
    static_assert(sizeof a == sizeof ttls[i].ip6addr);
    std::memcpy(&a, &ttls[i].ip6addr, sizeof a);
    out.records.push_back(IpAddress::V6(a));
  }
  if (out.records.empty()) out.status = Status::kNoData;
  return out;
}

Parsed<Mx> ParseMx(std::span<const uint8_t> answer) {
  Parsed<Mx> out;
  ares_mx_reply* head = nullptr;
  out.status = ParseStatus(ares_parse_mx_reply(Buf(answer), Len(answer), &head));
  std::unique_ptr<ares_mx_reply, AresDataFree> owner(head);
  if (out.status != Status::kOk) return out;
  for (auto* r = head; r; r = r->next) {
    std::string_view host = r->host ? r->host : "";
    if (!host.empty() && host.back() == '.') host.remove_suffix(1);
    out.records.push_back(Mx{r->priority, std::string(host)});
  }
  if (out.records.empty()) out.status = Status::kNoData;
  return out;
}

Parsed<std::string> ParseTxt(std::span<const uint8_t> answer) {
  Parsed<std::string> out;
  ares_txt_ext* head = nullptr;
  out.status = ParseStatus(ares_parse_txt_reply_ext(Buf(answer), Len(answer), &head));
  std::unique_ptr<ares_txt_ext, AresDataFree> owner(head);
  if (out.status != Status::kOk) return out;
  for (auto* r = head; r; r = r->next) {
    if (r->record_start || out.records.empty()) out.records.emplace_back();
    out.records.back().append(reinterpret_cast<const char*>(r->txt), r->length);
  }
  if (out.records.empty()) out.status = Status::kNoData;
  return out;
}

Parsed<std::string> ParseNs(std::span<const uint8_t> answer) {
  Parsed<std::string> out;
  hostent* host = nullptr;
  out.status = ParseStatus(ares_parse_ns_reply(Buf(answer), Len(answer), &host));
  std::unique_ptr<hostent, HostentFree> owner(host);
  if (out.status != Status::kOk) return out;
  // c-ares lists the NS targets among the aliases.
  for (char** a = host ? host->h_aliases : nullptr; a && *a; ++a) {
    std::string_view v(*a);
    if (!v.empty() && v.back() == '.') v.remove_suffix(1);
    if (v.empty()) continue;
    bool seen = false;
    for (const auto& have : out.records) seen = seen || EqualsIgnoreCase(have, v);
    if (!seen) out.records.emplace_back(v);
  }
  if (out.records.empty()) out.status = Status::kNoData;
  return out;
}

Parsed<std::string> ParsePtr(std::span<const uint8_t> answer, const IpAddress& addr) {
  Parsed<std::string> out;
  hostent* host = nullptr;
  out.status = ParseStatus(ares_parse_ptr_reply(Buf(answer), Len(answer), addr.bytes(),
                                                static_cast<int>(addr.size()), addr.family(), &host));
  std::unique_ptr<hostent, HostentFree> owner(host);
  if (out.status != Status::kOk) return out;
  // c-ares lists every PTR target among the aliases, in answer order, and
  // also names the last one h_name.
  auto add = [&](const char* n) {
    if (!n || !*n) return;
    std::string_view v(n);
    if (v.back() == '.') v.remove_suffix(1);
    for (const auto& have : out.records)
      if (EqualsIgnoreCase(have, v)) return;
    out.records.emplace_back(v);
  };
  for (char** a = host ? host->h_aliases : nullptr; a && *a; ++a) add(*a);
  if (host) add(host->h_name);
  if (out.records.empty()) out.status = Status::kNoData;
  return out;
}

Parsed<Tlsa> ParseTlsa(std::span<const uint8_t> answer) {
  Parsed<Tlsa> out;
  out.status = Status::kTempFail;
  if (answer.size() < kHeaderSize) return out;
  uint16_t qdcount = Get16(answer, 4), ancount = Get16(answer, 6);
  Reader r(answer);
  r.Skip(kHeaderSize);
  for (uint16_t i = 0; i < qdcount; ++i)
    if (!r.SkipName() || !r.Skip(4)) return out;
  for (uint16_t i = 0; i < ancount; ++i) {
    uint16_t type, klass, rdlen;
    if (!r.SkipName() || !r.U16(&type) || !r.U16(&klass) || !r.Skip(4) || !r.U16(&rdlen) ||
        !r.Skip(rdlen))
      return out;
    if (type != static_cast<uint16_t>(RrType::kTlsa) || klass != 1 || rdlen < 3) continue;
    auto rdata = r.Take(rdlen);
    out.records.push_back(Tlsa{rdata[0], rdata[1], rdata[2], {rdata.begin() + 3, rdata.end()}});
  }
  out.status = out.records.empty() ? Status::kNoData : Status::kOk;
  return out;
}

bool IsNullMx(const std::vector<Mx>& records) {
  return !records.empty() &&
         std::all_of(records.begin(), records.end(), [](const Mx& m) { return m.exchange.empty(); });
}

std::vector<Mx> OrderMx(std::vector<Mx> records, std::mt19937& rng) {
  std::erase_if(records, [](const Mx& m) { return m.exchange.empty(); });
  // Shuffling first and then sorting stably leaves equal preferences in a
  // uniformly random order.
  std::shuffle(records.begin(), records.end(), rng);
  std::stable_sort(records.begin(), records.end(),
                   [](const Mx& a, const Mx& b) { return a.preference < b.preference; });
  std::vector<Mx> out;
  for (auto& m : records) {
    bool seen = std::any_of(out.begin(), out.end(),
                            [&](const Mx& o) { return EqualsIgnoreCase(o.exchange, m.exchange); });
    if (!seen) out.push_back(std::move(m));
  }
  return out;
}

}  // namespace postern::dns
