// smtp/filter_test_util.h — for the tests of the in-place content filters
// (StrayFilter, HeaderFilter, cleanup::Content): run one the way smtpd does;
// and the canonical form the dot-stuffing round trip must give.
#pragma once

#include <string>
#include <string_view>

namespace postern::smtp::testing {

// Appends `in` in pieces of `chunk` bytes, filtering what each piece added,
// then finishes: the stored result.
template <class Filter>
std::string Chunked(std::string_view in, size_t chunk, Filter* f) {
  std::string buf;
  for (size_t i = 0; i < in.size(); i += chunk) {
    size_t from = buf.size();
    buf.append(in.substr(i, chunk));
    f->Apply(&buf, from);
  }
  f->Finish(&buf);
  return buf;
}

// What decode(stuff(x)) must yield (DotStuffer, DataDecoder): bare LF as
// CRLF and the last line ended.
inline std::string Canonical(std::string_view x) {
  std::string out;
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i] == '\n' && (i == 0 || x[i - 1] != '\r')) out += "\r\n";
    else out.push_back(x[i]);
  }
  if (!out.empty() && (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0)) out += "\r\n";
  return out;
}

}  // namespace postern::smtp::testing
