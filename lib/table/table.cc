// table/table.cc — the table types and the factory. File-backed tables
// notice a replaced or edited file (FileWatch) and reload it on the next
// lookup, so workers see a rebuilt table without a restart.
#include "postern/table/table.h"

#include <pwd.h>
#include <unistd.h>

#include <unordered_map>

#include "postern/log/log.h"
#include "postern/table/cidr.h"
#include "postern/table/file_watch.h"
#include "postern/table/lmdb_file.h"
#include "postern/table/pattern.h"
#include "postern/table/source.h"
#include "postern/util/strings.h"

namespace postern::table {

namespace {

std::string FoldKey(std::string_view key, const Options& o) {
  return o.fold_case ? ToLower(key) : std::string(key);
}

void LogWarnings(const std::vector<std::string>& warnings) {
  for (const std::string& w : warnings) log::Warning("{}", w);
}

// Text inside { } with the braces and surrounding space removed, or the text
// itself when it has no braces.
std::string_view Unbrace(std::string_view s) {
  s = Trim(s);
  if (s.size() >= 2 && s.front() == '{' && s.back() == '}') return Trim(s.substr(1, s.size() - 2));
  return s;
}

class LmdbTable : public Table {
 public:
  LmdbTable(std::string name, const std::string& file, const Options& o, LmdbFile db)
      : Table(std::move(name), o.secret), options_(o), watch_(file, o.recheck), db_(std::move(db)) {
    watch_.Loaded(db_.stamp());
  }
  LookupResult Find(std::string_view key) override {
    if (watch_.Changed()) Reopen();
    return db_.Get(FoldKey(key, options_));
  }

 private:
  void Reopen() {
    auto db = LmdbFile::Open(watch_.path());
    if (!db) {
      log::Warning("{}: {}; still using the previous version", name(), db.error());
      return;
    }
    db_ = std::move(*db);
    watch_.Loaded(db_.stamp());
  }
  Options options_;
  FileWatch watch_;
  LmdbFile db_;
};

// Shared by texthash:, cidr:, regexp: and pcre:, which read their whole file into memory.
template <class Content>
class FileTable : public Table {
 public:
  using Loader = Result<Content> (*)(const std::string& path, const Options& o);
  FileTable(std::string name, std::string path, const Options& o, Loader load)
      : Table(std::move(name), o.secret), options_(o), watch_(std::move(path), o.recheck), load_(load) {}
  Result<void> Load() {
    auto stamp = StampOf(watch_.path());
    auto c = load_(watch_.path(), options_);
    if (!c) return Err(c.error());
    content_ = std::move(*c);
    if (stamp) watch_.Loaded(*stamp);
    return {};
  }
  LookupResult Find(std::string_view key) override {
    if (watch_.Changed()) {
      auto r = Load();
      if (!r) log::Warning("{}: {}; still using the previous version", name(), r.error());
    }
    return content_.Find(key, options_);
  }
  bool pattern() const override { return Content::kPattern; }

 private:
  Options options_;
  FileWatch watch_;
  Loader load_;
  Content content_;
};

struct HashContent {
  static constexpr bool kPattern = false;
  std::unordered_map<std::string, std::string> map;
  std::optional<std::string> Find(std::string_view key, const Options& o) const {
    auto it = map.find(FoldKey(key, o));
    if (it == map.end()) return std::nullopt;
    return it->second;
  }
  static Result<HashContent> Load(const std::string& path, const Options& o) {
    auto text = ReadWholeFile(path);
    if (!text) return Err(text.error());
    auto parsed = ParseSource(*text, path, Syntax::kMap, o.fold_case);
    if (!parsed) return Err(parsed.error());
    ResolveDuplicates(&parsed->entries, Duplicates::kWarn, path, &parsed->warnings);
    LogWarnings(parsed->warnings);
    HashContent c;
    c.map.reserve(parsed->entries.size());
    for (Entry& e : parsed->entries) c.map.emplace(std::move(e.key), std::move(e.value));
    return c;
  }
};

struct CidrContent {
  static constexpr bool kPattern = true;
  CidrRules rules;
  std::optional<std::string> Find(std::string_view key, const Options&) const {
    return rules.Match(key);
  }
  static Result<CidrContent> Load(const std::string& path, const Options&) {
    auto text = ReadWholeFile(path);
    if (!text) return Err(text.error());
    std::vector<std::string> warnings;
    CidrContent c{CidrRules::Parse(*text, path, &warnings)};
    LogWarnings(warnings);
    return c;
  }
};

// regexp: and pcre: are matched against the key as given: case folding is a
// pattern flag there (postmap -f changes nothing), as in Postfix.
template <Dialect kDialect>
struct PatternContent {
  static constexpr bool kPattern = true;
  PatternRules rules;
  LookupResult Find(std::string_view key, const Options&) const { return rules.Match(key); }
  static Result<PatternContent> Load(const std::string& path, const Options&) {
    auto text = ReadWholeFile(path, kMaxPatternFileSize);
    if (!text) return Err(text.error());
    std::vector<std::string> warnings;
    auto rules = PatternRules::Parse(*text, path, kDialect, &warnings);
    LogWarnings(warnings);
    if (!rules) return Err(rules.error());
    return PatternContent{std::move(*rules)};
  }
};

class InlineTable : public Table {
 public:
  InlineTable(std::string name, const Options& o) : Table(std::move(name), o.secret), options_(o) {}
  // inline:{ key=value, { key = value with spaces } }
  Result<void> Parse(std::string_view spec) {
    std::string_view s = Trim(spec);
    if (s.size() < 2 || s.front() != '{' || s.back() != '}')
      return Err(name() + ": expected \"inline:{ key=value, ... }\"");
    for (const std::string& item : SplitList(s.substr(1, s.size() - 2))) {
      std::string_view kv = Unbrace(item);
      size_t eq = kv.find('=');
      std::string_view key = Trim(kv.substr(0, eq));
      if (eq == std::string_view::npos || key.empty())
        return Err(name() + ": missing \"=\" in \"" + item + "\"");
      map_.emplace(FoldKey(key, options_), std::string(Trim(kv.substr(eq + 1))));
    }
    return {};
  }
  LookupResult Find(std::string_view key) override {
    auto it = map_.find(FoldKey(key, options_));
    if (it == map_.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }

 private:
  Options options_;
  std::unordered_map<std::string, std::string> map_;
};

class StaticTable : public Table {
 public:
  StaticTable(std::string name, std::string value)
      : Table(std::move(name)), value_(std::move(value)) {}
  LookupResult Find(std::string_view) override { return std::optional<std::string>(value_); }

 private:
  std::string value_;
};

// unix:passwd.byname answers with the passwd(5) line of a user.
class PasswdTable : public Table {
 public:
  PasswdTable(std::string name, const Options& o) : Table(std::move(name), o.secret), options_(o) {}
  LookupResult Find(std::string_view key) override {
    std::string user = FoldKey(key, options_);
    if (user.empty() || user.size() > 256 || user.find('\0') != std::string::npos)
      return std::optional<std::string>();
    struct passwd pw {};
    struct passwd* found = nullptr;
    std::vector<char> buf(16384);
    int rc;
    while ((rc = getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found)) == ERANGE &&
           buf.size() < (1u << 20))
      buf.resize(buf.size() * 2);
    if (rc != 0 && rc != ENOENT && rc != ESRCH)
      return Err(name() + ": getpwnam_r: " + std::strerror(rc));
    if (!found) return std::optional<std::string>();
    return std::optional<std::string>(fmt::format("{}:{}:{}:{}:{}:{}:{}", pw.pw_name, pw.pw_passwd,
                                                  pw.pw_uid, pw.pw_gid, pw.pw_gecos, pw.pw_dir,
                                                  pw.pw_shell));
  }

 private:
  Options options_;
};

template <class Content>
Result<std::unique_ptr<Table>> OpenFileTable(const config::TableRef& ref, const Options& o) {
  if (ref.name.empty() || ref.name[0] != '/')
    return Err(ref.ToString() + ": the file name must be an absolute path");
  auto t = std::make_unique<FileTable<Content>>(ref.ToString(), ref.name, o, &Content::Load);
  auto r = t->Load();
  if (!r) return Err(ref.ToString() + ": " + r.error());
  return std::unique_ptr<Table>(std::move(t));
}

}  // namespace

Result<std::unique_ptr<Table>> Open(const config::TableRef& ref, const Options& o) {
  const std::string name = ref.ToString();
  if (ref.type == "lmdb") {
    if (ref.name.empty() || ref.name[0] != '/')
      return Err(name + ": the file name must be an absolute path");
    auto db = LmdbFile::Open(ref.name + ".lmdb");
    if (!db) return Err(name + ": " + db.error());
    return std::unique_ptr<Table>(
        std::make_unique<LmdbTable>(name, ref.name + ".lmdb", o, std::move(*db)));
  }
  if (ref.type == "texthash") return OpenFileTable<HashContent>(ref, o);
  if (ref.type == "cidr") return OpenFileTable<CidrContent>(ref, o);
  if (ref.type == "regexp") return OpenFileTable<PatternContent<Dialect::kRegexp>>(ref, o);
  if (ref.type == "pcre") return OpenFileTable<PatternContent<Dialect::kPcre>>(ref, o);
  if (ref.type == "inline") {
    auto t = std::make_unique<InlineTable>(name, o);
    auto r = t->Parse(ref.name);
    if (!r) return Err(r.error());
    return std::unique_ptr<Table>(std::move(t));
  }
  if (ref.type == "static")
    return std::unique_ptr<Table>(std::make_unique<StaticTable>(name, std::string(Unbrace(ref.name))));
  if (ref.type == "unix") {
    if (ref.name != "passwd.byname")
      return Err(name + ": unknown unix table (only unix:passwd.byname is supported)");
    return std::unique_ptr<Table>(std::make_unique<PasswdTable>(name, o));
  }
  if (ref.type == "sts")  // the smtp client resolves it itself, asynchronously (smtp/tls_policy.h)
    return Err(name + ": MTA-STS lookups work only in smtp_tls_policy_maps");
  return Err("unsupported dictionary type: " + ref.type);
}

Result<std::unique_ptr<Table>> Open(std::string_view ref_text, const Options& o) {
  auto ref = config::ParseTableRef(ref_text);
  if (!ref) return Err(ref.error());
  return Open(*ref, o);
}

Result<TableList> TableList::Open(const std::vector<config::TableRef>& refs, const Options& o) {
  TableList list;
  for (const config::TableRef& ref : refs) {
    auto t = table::Open(ref, o);
    if (!t) return Err(t.error());
    list.Add(std::move(*t));
  }
  return list;
}

Result<TableList> TableList::Open(std::string_view list_text, const Options& o) {
  auto refs = config::ParseTableList(list_text);
  if (!refs) return Err(refs.error());
  return Open(*refs, o);
}

LookupResult Table::Lookup(std::string_view key) {
  LookupResult r = Find(key);
  if (log::Tracing("lookup")) {
    if (!r) log::Trace("lookup", "{}: {}: error: {}", name_, key, r.error());
    else if (!*r) log::Trace("lookup", "{}: {}: not found", name_, key);
    else if (secret_) log::Trace("lookup", "{}: {}: found (value not shown)", name_, key);
    else log::Trace("lookup", "{}: {}: found: {}", name_, key, **r);
  }
  return r;
}

LookupResult TableList::Lookup(std::string_view key, bool partial_key) {
  for (auto& t : tables_) {
    if (partial_key && t->pattern()) continue;
    auto r = t->Lookup(key);
    if (!r) return Err(t->name() + ": " + r.error());
    if (r->has_value()) return r;
  }
  return std::optional<std::string>();
}

}  // namespace postern::table
