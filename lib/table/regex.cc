// table/regex.cc — the two regular expression engines behind regexp: and
// pcre: tables: POSIX <regex.h> (extended by default, as Postfix) and PCRE2
// with match and depth limits.
#include "postern/table/regex.h"

#include <regex.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace postern::table {

namespace {

std::string Quote(char c) { return std::string("\"") + c + "\""; }

class PosixRegex : public Regex {
 public:
  PosixRegex() = default;
  ~PosixRegex() override {
    if (compiled_) regfree(&re_);
  }
  PosixRegex(const PosixRegex&) = delete;
  PosixRegex& operator=(const PosixRegex&) = delete;

  Result<void> Compile(std::string_view pattern, int cflags) {
    std::string p(pattern);
    int rc = regcomp(&re_, p.c_str(), cflags);
    if (rc != 0) {
      char buf[256];
      regerror(rc, &re_, buf, sizeof buf);
      return Err(buf);
    }
    compiled_ = true;
    return {};
  }
  int groups() const override { return static_cast<int>(re_.re_nsub); }
  Result<bool> Match(std::string_view subject, std::vector<Span>* spans) const override {
    std::string s(subject);
    std::vector<regmatch_t> m(re_.re_nsub + 1);
    int rc = regexec(&re_, s.c_str(), m.size(), m.data(), 0);
    if (rc == REG_NOMATCH) return false;
    if (rc != 0) {
      char buf[256];
      regerror(rc, &re_, buf, sizeof buf);
      return Err(std::string("regexec: ") + buf);
    }
    spans->clear();
    for (const regmatch_t& r : m) spans->emplace_back(r.rm_so, r.rm_eo);
    return true;
  }

 private:
  regex_t re_{};
  bool compiled_ = false;
};

struct CodeFree {
  void operator()(pcre2_code* c) const { pcre2_code_free(c); }
};
struct MatchDataFree {
  void operator()(pcre2_match_data* d) const { pcre2_match_data_free(d); }
};
struct ContextFree {
  void operator()(pcre2_match_context* c) const { pcre2_match_context_free(c); }
};

std::string PcreMessage(int code) {
  PCRE2_UCHAR buf[256];
  if (pcre2_get_error_message(code, buf, sizeof buf) < 0) return "error " + std::to_string(code);
  return reinterpret_cast<const char*>(buf);
}

class PcreRegex : public Regex {
 public:
  Result<void> Compile(std::string_view pattern, uint32_t options) {
    int code = 0;
    PCRE2_SIZE offset = 0;
    code_.reset(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options,
                              &code, &offset, nullptr));
    if (!code_) return Err("error in regex at offset " + std::to_string(offset) + ": " + PcreMessage(code));
    uint32_t n = 0;
    pcre2_pattern_info(code_.get(), PCRE2_INFO_CAPTURECOUNT, &n);
    groups_ = static_cast<int>(n);
    context_.reset(pcre2_match_context_create(nullptr));
    if (!context_) return Err("out of memory");
    pcre2_set_match_limit(context_.get(), kPcreMatchLimit);
    pcre2_set_depth_limit(context_.get(), kPcreDepthLimit);
    return {};
  }
  int groups() const override { return groups_; }
  Result<bool> Match(std::string_view subject, std::vector<Span>* spans) const override {
    std::unique_ptr<pcre2_match_data, MatchDataFree> data(
        pcre2_match_data_create_from_pattern(code_.get(), nullptr));
    if (!data) return Err("out of memory");
    int rc = pcre2_match(code_.get(), reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0,
                         0, data.get(), context_.get());
    if (rc == PCRE2_ERROR_NOMATCH) return false;
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT)
      return Err("matching error: " + PcreMessage(rc));
    if (rc < 0) return Err("matching error: " + PcreMessage(rc));
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data.get());
    uint32_t pairs = pcre2_get_ovector_count(data.get());
    spans->clear();
    for (uint32_t i = 0; i < pairs; ++i) {
      if (ov[2 * i] == PCRE2_UNSET) spans->emplace_back(-1, -1);
      else spans->emplace_back(ov[2 * i], ov[2 * i + 1]);
    }
    return true;
  }

 private:
  std::unique_ptr<pcre2_code, CodeFree> code_;
  std::unique_ptr<pcre2_match_context, ContextFree> context_;
  int groups_ = 0;
};

Result<std::unique_ptr<Regex>> CompilePosix(std::string_view pattern, std::string_view flags) {
  int cflags = REG_EXTENDED | REG_ICASE;
  for (char f : flags) {
    switch (f) {
      case 'i': cflags ^= REG_ICASE; break;
      case 'x': cflags ^= REG_EXTENDED; break;
      case 'm': cflags ^= REG_NEWLINE; break;
      default: return Err("unknown regexp option " + Quote(f));
    }
  }
  auto re = std::make_unique<PosixRegex>();
  auto r = re->Compile(pattern, cflags);
  if (!r) return Err(r.error());
  return std::unique_ptr<Regex>(std::move(re));
}

Result<std::unique_ptr<Regex>> CompilePcre(std::string_view pattern, std::string_view flags) {
  uint32_t options = PCRE2_CASELESS;
  for (char f : flags) {
    switch (f) {
      case 'i': options ^= PCRE2_CASELESS; break;
      case 'm': options ^= PCRE2_MULTILINE; break;
      case 's': options ^= PCRE2_DOTALL; break;
      case 'x': options ^= PCRE2_EXTENDED; break;
      case 'A': options ^= PCRE2_ANCHORED; break;
      case 'E': options ^= PCRE2_DOLLAR_ENDONLY; break;
      case 'U': options ^= PCRE2_UNGREEDY; break;
      // PCRE_EXTRA made unknown escapes errors; PCRE2 always does.
      case 'X': break;
      default: return Err("unknown regexp option " + Quote(f));
    }
  }
  auto re = std::make_unique<PcreRegex>();
  auto r = re->Compile(pattern, options);
  if (!r) return Err(r.error());
  return std::unique_ptr<Regex>(std::move(re));
}

}  // namespace

Result<std::unique_ptr<Regex>> CompileRegex(Dialect dialect, std::string_view pattern,
                                            std::string_view flags) {
  return dialect == Dialect::kPcre ? CompilePcre(pattern, flags) : CompilePosix(pattern, flags);
}

}  // namespace postern::table
