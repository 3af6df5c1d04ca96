// dns/test_message.h — builds DNS answers byte by byte for the unit tests
// and the fuzz seed corpus: header, one question, answer records.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace postern::dns::testing {

using Bytes = std::vector<uint8_t>;

inline Bytes WireName(std::string_view name) {
  Bytes out;
  while (!name.empty()) {
    auto dot = name.find('.');
    auto label = name.substr(0, dot);
    out.push_back(static_cast<uint8_t>(label.size()));
    out.insert(out.end(), label.begin(), label.end());
    name = dot == name.npos ? std::string_view() : name.substr(dot + 1);
  }
  out.push_back(0);
  return out;
}

inline void Put16(Bytes* b, uint16_t v) {
  b->push_back(static_cast<uint8_t>(v >> 8));
  b->push_back(static_cast<uint8_t>(v));
}

class Message {
 public:
  explicit Message(uint8_t rcode = 0, bool ad = false) : rcode_(rcode), ad_(ad) {}
  Message& Question(std::string_view name, uint16_t type) {
    ++qd_;
    auto n = WireName(name);
    body_.insert(body_.end(), n.begin(), n.end());
    Put16(&body_, type);
    Put16(&body_, 1);
    return *this;
  }
  // `owner` is wire form, so tests can use compression pointers ({0xC0, 12}).
  Message& AnswerWire(const Bytes& owner, uint16_t type, const Bytes& rdata, uint16_t klass = 1) {
    ++an_;
    body_.insert(body_.end(), owner.begin(), owner.end());
    Put16(&body_, type);
    Put16(&body_, klass);
    body_.insert(body_.end(), {0, 0, 1, 0});  // TTL 256
    Put16(&body_, static_cast<uint16_t>(rdata.size()));
    body_.insert(body_.end(), rdata.begin(), rdata.end());
    return *this;
  }
  Message& Answer(std::string_view owner, uint16_t type, const Bytes& rdata) {
    return AnswerWire(WireName(owner), type, rdata);
  }
  Bytes Build() const {
    Bytes out = {0x12, 0x34, 0x81, static_cast<uint8_t>(0x80 | (ad_ ? 0x20 : 0) | rcode_)};
    Put16(&out, qd_);
    Put16(&out, an_);
    Put16(&out, 0);
    Put16(&out, 0);
    out.insert(out.end(), body_.begin(), body_.end());
    return out;
  }

 private:
  uint8_t rcode_;
  bool ad_;
  uint16_t qd_ = 0, an_ = 0;
  Bytes body_;
};

inline Bytes MxData(uint16_t pref, std::string_view host) {
  Bytes b;
  Put16(&b, pref);
  auto n = WireName(host);
  b.insert(b.end(), n.begin(), n.end());
  return b;
}

inline Bytes TxtData(const std::vector<std::string>& strings) {
  Bytes b;
  for (const auto& s : strings) {
    b.push_back(static_cast<uint8_t>(s.size()));
    b.insert(b.end(), s.begin(), s.end());
  }
  return b;
}

inline Bytes TlsaData(uint8_t usage, uint8_t selector, uint8_t mtype, const Bytes& data) {
  Bytes b = {usage, selector, mtype};
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

}  // namespace postern::dns::testing
