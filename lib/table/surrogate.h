// table/surrogate.h — Postfix's dict_surrogate: stands in for a table that did
// not open, so that each lookup fails (try again later) instead of the program.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "postern/table/table.h"

namespace postern::table {

class Surrogate : public Table {
 public:
  Surrogate(std::string name, std::string why) : Table(std::move(name)), why_(std::move(why)) {}

 protected:
  LookupResult Find(std::string_view) override { return Err(why_); }

 private:
  std::string why_;
};

// One table of parameter `param`, or its Surrogate (with one warning naming
// the parameter) when it does not open.
std::unique_ptr<Table> OpenOrSurrogate(std::string_view param, const config::TableRef& ref, const Options& o = {});
// The same for each table of a list.
TableList OpenListOrSurrogates(std::string_view param, const std::vector<config::TableRef>& refs,
                               const Options& o = {});

}  // namespace postern::table
