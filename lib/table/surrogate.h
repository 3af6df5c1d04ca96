// table/surrogate.h — Postfix's dict_surrogate: stands in for a table that did
// not open, so that each lookup fails (try again later) instead of the program.
#pragma once

#include <string>

#include "table/table.h"

namespace postern::table {

class Surrogate : public Table {
 public:
  Surrogate(std::string name, std::string why) : Table(std::move(name)), why_(std::move(why)) {}

 protected:
  LookupResult Find(std::string_view) override { return Err(why_); }

 private:
  std::string why_;
};

}  // namespace postern::table
