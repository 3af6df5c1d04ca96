// smtp/filter_test_util.h — for the tests of the in-place content filters
// (StrayFilter, HeaderFilter, cleanup::Content): run one the way smtpd does.
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

}  // namespace postern::smtp::testing
