// config/params.h — the parameter registry: every main.cf parameter postern
// knows, with its type, default expression and one-line description. It is the
// only source for `postconf -d`, validation and the postern.conf(5) page.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace postern::config {

enum class ParamType {
  kString,  // free text, expanded
  kBool,    // yes | no
  kInt,     // whole number
  kTime,    // number with unit s, m, h, d or w (default unit per parameter)
  kSize,    // byte count, optional k/m/g suffix
  kList,    // names separated by comma or white space
  kTables,  // list of lookup-table references, type:name
};

std::string_view ParamTypeName(ParamType t);

struct ParamDef {
  std::string_view name;
  ParamType type;
  std::string_view default_value;  // a main.cf expression ("$myhostname"), may be empty
  std::string_view doc;            // one line for postern.conf(5)
  char time_unit = 's';            // unit of a bare number for kTime
  std::string (*compute)() = nullptr;  // a default only known at run time (myhostname)
};

// All parameters, sorted by name.
std::span<const ParamDef> Registry();
const ParamDef* FindParam(std::string_view name);

// The default value of a parameter as postconf -d prints it: the expression,
// or the computed value for run-time defaults.
std::string DefaultValue(const ParamDef& def);

}  // namespace postern::config
