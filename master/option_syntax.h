// master/option_syntax.h — the arguments of `set option`: name=value, or
// smtpf's OPTN ±name (+name = yes, -name = no) for boolean parameters, checked
// against the parameter registry before anything is applied.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "postern/util/result.h"

namespace postern::master {

// One override: (name, value) as main.cf would hold it.
using OptionSetting = std::pair<std::string, std::string>;

// "name=value" (the words joined, so "name = value" works too) or one or more
// "+name"/"-name" words. Fails with the text the operator sees: usage,
// unknown parameter, ± on a non-boolean, a value its type rejects.
Result<std::vector<OptionSetting>> ParseSetOption(const std::vector<std::string>& args);

}  // namespace postern::master
