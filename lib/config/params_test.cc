// config/params_test.cc — the registry is sorted, unique and self-consistent.
#include "postern/config/params.h"

#include <gtest/gtest.h>

#include "postern/config/maincf.h"

namespace postern::config {
namespace {

TEST(Registry, SortedAndUnique) {
  auto reg = Registry();
  ASSERT_GE(reg.size(), 60u);
  for (size_t i = 1; i < reg.size(); ++i)
    EXPECT_LT(reg[i - 1].name, reg[i].name) << "registry out of order at " << reg[i].name;
}

TEST(Registry, EveryDefaultIsValidForItsType) {
  Config c;
  for (const auto& def : Registry()) {
    EXPECT_FALSE(def.doc.empty()) << def.name;
    auto v = c.Get(def.name);
    EXPECT_TRUE(v.ok()) << def.name << ": " << v.error();
  }
  EXPECT_TRUE(c.Validate().empty());
}

TEST(Registry, Find) {
  ASSERT_NE(FindParam("myhostname"), nullptr);
  EXPECT_EQ(FindParam("no_such_parameter"), nullptr);
  EXPECT_EQ(FindParam("max_idle")->type, ParamType::kTime);
  EXPECT_NE(DefaultValue(*FindParam("myhostname")).find('.'), std::string::npos);
}

}  // namespace
}  // namespace postern::config
