// postmap/postmap.cc — postmap/postalias/newaliases: option parsing and the
// four jobs (build a FILE.lmdb from its source, query, delete, dump). Every
// change writes a new file beside the old one and renames it into place, so
// running workers switch to the new version without a restart.
#include "postmap.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

#include "postern/config/compat.h"
#include "postern/config/layout.h"
#include "postern/config/maincf.h"
#include "postern/log/log.h"
#include "postern/table/lmdb_file.h"
#include "postern/table/source.h"
#include "postern/table/table.h"
#include "postern/util/strings.h"

namespace postern::postmap {

namespace {

using table::Duplicates;

struct Opts {
  Flavor flavor = Flavor::kPostmap;
  std::string config_dir;
  bool config_dir_set = false;
  bool fold = true;          // -f turns off
  bool incremental = false;  // -i
  bool dump = false;         // -s
  bool keep_root = false;    // -o
  bool plain_mode = false;   // -p
  Duplicates dups = Duplicates::kWarn;
  std::optional<std::string> query;
  std::vector<std::string> deletes;
  std::vector<std::string> maps;
};

const char* Name(Flavor f) { return f == Flavor::kPostmap ? "postmap" : "postalias"; }

[[noreturn]] void Usage(Flavor f) {
  log::Fatal("usage: {} [-fioprsvw] [-c config_dir] [-d key] [-q key] [type:]file ...", Name(f));
}

// getopt-style: flags may be grouped (-fw), -c/-d/-q take the rest of the
// word or the next word; operands may come between options.
Opts ParseArgs(Flavor flavor, const std::vector<std::string>& args) {
  Opts o;
  o.flavor = flavor;
  bool options_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (options_done || a.size() < 2 || a[0] != '-') {
      o.maps.push_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    for (size_t j = 1; j < a.size(); ++j) {
      char c = a[j];
      if (c == 'c' || c == 'd' || c == 'q') {
        std::string value;
        if (j + 1 < a.size()) value = a.substr(j + 1);
        else if (i + 1 < args.size()) value = args[++i];
        else Usage(flavor);
        if (c == 'c') o.config_dir = value, o.config_dir_set = true;
        else if (c == 'd') o.deletes.push_back(value);
        else if (o.query) log::Fatal("specify -q only once");
        else o.query = value;
        break;
      }
      switch (c) {
        case 'f': o.fold = false; break;
        case 'i': o.incremental = true; break;
        case 'o': o.keep_root = true; break;
        case 'p': o.plain_mode = true; break;
        case 'r': o.dups = Duplicates::kReplace; break;
        case 's': o.dump = true; break;
        case 'v': log::SetLevel(log::Level::kVerbose); break;
        case 'w': o.dups = Duplicates::kIgnore; break;
        default: Usage(flavor);
      }
    }
  }
  int jobs = (o.query ? 1 : 0) + (o.deletes.empty() ? 0 : 1) + (o.dump ? 1 : 0);
  if (jobs > 1) log::Fatal("specify only one of -s -q or -d");
  if (o.maps.empty()) Usage(flavor);
  return o;
}

// Types whose name is a file (relative names are taken from the cwd).
bool FileType(std::string_view type) {
  return type == "lmdb" || type == "texthash" || type == "cidr" || type == "regexp" || type == "pcre";
}

// "type:name" or a bare file name of default_database_type.
config::TableRef MapRef(const std::string& arg, const config::Config& cfg) {
  size_t colon = arg.find(':');
  auto parsed = colon == std::string::npos ? Err("") : config::ParseTableRef(arg);
  config::TableRef ref = parsed ? *parsed : config::TableRef{std::string(config::CanonicalTableType(cfg.Str("default_database_type"))), arg};
  if (FileType(ref.type) && ref.name.empty()) log::Fatal("{}: missing file name", arg);
  return ref;
}

// lib/table wants absolute file names; messages keep the name as given.
config::TableRef Absolute(config::TableRef ref) {
  if (FileType(ref.type) && ref.name[0] != '/') {
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) log::Fatal("getcwd: {}", std::strerror(errno));
    ref.name = std::string(cwd) + "/" + ref.name;
  }
  return ref;
}

void RequireLmdb(const config::TableRef& ref, std::string_view job) {
  // Pattern tables are read from their text as it is (Postfix: "is not a buildable table type").
  if (ref.type == "regexp" || ref.type == "pcre" || ref.type == "cidr")
    log::Fatal("{}: is not a buildable table type (its file is read as it is; only lmdb: tables are {})",
               ref.type, job == "building" ? "built" : "changed");
  if (ref.type != "lmdb")
    log::Fatal("unsupported dictionary type for {}: {} (only lmdb: tables are {})", job, ref.type,
               job == "building" ? "built" : "changed");
}

// Output is collected and written in large blocks: syscalls are dear here.
class Out {
 public:
  ~Out() { Flush(); }
  void Line(std::string_view a, std::string_view sep, std::string_view b) {
    buf_.append(a).append(sep).append(b).push_back('\n');
    if (buf_.size() >= (1 << 16)) Flush();
  }
  void Flush() {
    if (!buf_.empty() && fwrite(buf_.data(), 1, buf_.size(), stdout) != buf_.size())
      log::Fatal("write to standard output: {}", std::strerror(errno));
    fflush(stdout);
    buf_.clear();
  }

 private:
  std::string buf_;
};

std::string ReadStdin() {
  std::string data;
  char buf[1 << 16];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
    if (data.size() + n > table::kMaxSourceSize) log::Fatal("stdin: input too large");
    data.append(buf, n);
  }
  return data;
}

table::Syntax SyntaxOf(Flavor f) {
  return f == Flavor::kPostmap ? table::Syntax::kMap : table::Syntax::kAlias;
}

// Mode and owner of a new database. Postfix's rule: group and other may
// read it only if they may read the source; as root, the result belongs to
// the owner of the source (unless -o).
table::LmdbBuilder::Finish FinishLike(const struct stat& st, const Opts& o) {
  table::LmdbBuilder::Finish f;
  f.mode = o.plain_mode ? 0644 : (0600 | (st.st_mode & 044));
  if (geteuid() == 0 && !o.keep_root && (st.st_uid != 0 || st.st_gid != 0)) {
    f.uid = st.st_uid;
    f.gid = st.st_gid;
  }
  return f;
}

// Puts entries, applying the duplicate rule against what is already there.
void PutAll(table::LmdbBuilder& b, const std::vector<table::Entry>& entries,
            std::string_view origin, Duplicates dups) {
  for (const table::Entry& e : entries) {
    auto r = b.Put(e.key, e.value, dups == Duplicates::kReplace);
    if (!r) log::Fatal("{}, line {}: {}", origin, e.line, r.error());
    if (!*r && dups == Duplicates::kWarn)
      log::Warning("{}, line {}: duplicate entry: \"{}\"", origin, e.line, e.key);
  }
}

void Commit(table::LmdbBuilder& b, const table::LmdbBuilder::Finish& f) {
  auto r = b.Commit(f);
  if (!r) log::Fatal("{}", r.error());
}

void Build(const config::TableRef& ref, const Opts& o) {
  RequireLmdb(ref, "building");
  auto text = table::ReadWholeFile(ref.name);
  if (!text) log::Fatal("{}", text.error());
  struct stat st {};
  if (stat(ref.name.c_str(), &st) != 0) log::Fatal("stat {}: {}", ref.name, std::strerror(errno));
  auto parsed = table::ParseSource(*text, ref.name, SyntaxOf(o.flavor), o.fold);
  if (!parsed) log::Fatal("{}", parsed.error());
  for (const std::string& w : parsed->warnings) log::Warning("{}", w);
  auto b = table::LmdbBuilder::Start(ref.name + ".lmdb", false);
  if (!b) log::Fatal("{}", b.error());
  PutAll(**b, parsed->entries, ref.name, o.dups);
  Commit(**b, FinishLike(st, o));
  log::Verbose("{}: {} entries", ref.ToString(), parsed->entries.size());
}

// -i and -d change an existing table: the new version keeps the old one's
// mode and owner.
table::LmdbBuilder::Finish FinishLikeDb(const std::string& db, const Opts& o) {
  struct stat st {};
  if (stat(db.c_str(), &st) != 0) {
    table::LmdbBuilder::Finish f;
    f.mode = 0644;
    return f;
  }
  Opts keep = o;
  keep.plain_mode = false;
  table::LmdbBuilder::Finish f = FinishLike(st, keep);
  f.mode = st.st_mode & 0777;
  return f;
}

void Incremental(const config::TableRef& ref, const std::string& input, const Opts& o) {
  RequireLmdb(ref, "updates");
  auto parsed = table::ParseSource(input, "stdin", SyntaxOf(o.flavor), o.fold);
  if (!parsed) log::Fatal("{}", parsed.error());
  for (const std::string& w : parsed->warnings) log::Warning("{}", w);
  std::string db = ref.name + ".lmdb";
  auto b = table::LmdbBuilder::Start(db, true);
  if (!b) log::Fatal("{}", b.error());
  PutAll(**b, parsed->entries, "stdin", o.dups);
  Commit(**b, FinishLikeDb(db, o));
}

std::string FoldIf(bool fold, std::string_view key) {
  return fold ? ToLower(key) : std::string(key);
}

std::vector<std::string> StdinKeys() {
  std::vector<std::string> keys;
  std::string in = ReadStdin();
  for (const std::string& line : SplitList(in, "\n")) {
    std::string_view k = Trim(line);
    if (!k.empty()) keys.emplace_back(k);
  }
  return keys;
}

// Removes the keys from each table; true when anything was removed.
bool Delete(const std::vector<config::TableRef>& refs, const std::vector<std::string>& keys,
            const Opts& o) {
  bool any = false;
  for (const config::TableRef& ref : refs) {
    RequireLmdb(ref, "updates");
    std::string db = ref.name + ".lmdb";
    if (access(db.c_str(), F_OK) != 0) log::Fatal("open database {}: {}", db, std::strerror(errno));
    auto b = table::LmdbBuilder::Start(db, true);
    if (!b) log::Fatal("{}", b.error());
    bool changed = false;
    for (const std::string& key : keys) {
      auto r = (*b)->Remove(FoldIf(o.fold, key));
      if (!r) log::Fatal("{}", r.error());
      changed |= *r;
    }
    // Nothing removed: leave the file (and its readers) alone.
    if (changed) Commit(**b, FinishLikeDb(db, o));
    any |= changed;
  }
  return any;
}

table::TableList OpenAll(const std::vector<config::TableRef>& refs, const Opts& o) {
  table::Options options;
  options.fold_case = o.fold;
  std::vector<config::TableRef> absolute;
  for (const config::TableRef& ref : refs) absolute.push_back(Absolute(ref));
  auto list = table::TableList::Open(absolute, options);
  if (!list) log::Fatal("{}", list.error());
  return std::move(*list);
}

std::string_view Separator(Flavor f) { return f == Flavor::kPostmap ? "\t" : ": "; }

bool Query(const std::vector<config::TableRef>& refs, const std::string& key, const Opts& o) {
  table::TableList list = OpenAll(refs, o);
  Out out;
  bool found = false;
  auto ask = [&](std::string_view k, bool with_key) {
    auto r = list.Lookup(k);
    if (!r) log::Fatal("{}", r.error());
    if (!r->has_value()) return;
    found = true;
    if (with_key) out.Line(k, Separator(o.flavor), **r);
    else out.Line(**r, "", "");
  };
  if (key == "-") {
    for (const std::string& k : StdinKeys()) ask(k, true);
  } else {
    ask(key, false);
  }
  return found;
}

void Dump(const std::vector<config::TableRef>& refs, const Opts& o) {
  Out out;
  for (const config::TableRef& ref : refs) {
    if (ref.type == "texthash") {
      auto text = table::ReadWholeFile(ref.name);
      if (!text) log::Fatal("{}", text.error());
      auto parsed = table::ParseSource(*text, ref.name, table::Syntax::kMap, o.fold);
      if (!parsed) log::Fatal("{}", parsed.error());
      table::ResolveDuplicates(&parsed->entries, Duplicates::kIgnore, ref.name, &parsed->warnings);
      for (const table::Entry& e : parsed->entries) out.Line(e.key, Separator(o.flavor), e.value);
      continue;
    }
    if (ref.type != "lmdb") log::Fatal("table {} does not support -s", ref.ToString());
    auto db = table::LmdbFile::Open(ref.name + ".lmdb");
    if (!db) log::Fatal("{}", db.error());
    auto r = db->ForEach([&](std::string_view k, std::string_view v) {
      out.Line(k, Separator(o.flavor), v);
      return true;
    });
    if (!r) log::Fatal("{}", r.error());
  }
}

config::Config LoadConfig(const Opts& o) {
  std::string dir = config::ConfigDir(o.config_dir_set ? o.config_dir : std::string_view());
  // Tables are often built on hosts (or in directories) without a main.cf:
  // then every parameter has its default, as the registry says.
  if (access((dir + "/main.cf").c_str(), F_OK) != 0 && errno == ENOENT) return config::Config();
  auto cfg = config::Config::Load(dir);
  if (!cfg) log::Fatal("{}", cfg.error());
  return std::move(*cfg);
}

}  // namespace

int Main(Flavor flavor, const std::vector<std::string>& args) {
  Opts o = ParseArgs(flavor, args);
  config::Config cfg = LoadConfig(o);
  std::vector<config::TableRef> refs;
  for (const std::string& m : o.maps) refs.push_back(MapRef(m, cfg));
  if (o.query) return Query(refs, *o.query, o) ? 0 : 1;
  if (!o.deletes.empty()) {
    std::vector<std::string> keys;
    for (const std::string& k : o.deletes) {
      if (k == "-") {
        auto more = StdinKeys();
        keys.insert(keys.end(), more.begin(), more.end());
      } else {
        keys.push_back(k);
      }
    }
    return Delete(refs, keys, o) ? 0 : 1;
  }
  if (o.dump) {
    Dump(refs, o);
    return 0;
  }
  if (o.incremental) {
    std::string input = ReadStdin();
    for (const config::TableRef& ref : refs) Incremental(ref, input, o);
    return 0;
  }
  for (const config::TableRef& ref : refs) Build(ref, o);
  return 0;
}

int NewAliases(const std::vector<std::string>& args) {
  Opts o;
  o.flavor = Flavor::kPostalias;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "-c" && i + 1 < args.size()) {
      o.config_dir = args[++i];
      o.config_dir_set = true;
    } else if (args[i] == "-v") {
      log::SetLevel(log::Level::kVerbose);
    } else {
      log::Fatal("usage: newaliases [-v] [-c config_dir]");
    }
  }
  config::Config cfg = LoadConfig(o);
  auto refs = cfg.GetTables("alias_database");
  if (!refs) log::Fatal("{}", refs.error());
  for (const config::TableRef& ref : *refs) {
    if (ref.name.empty() || ref.name[0] != '/')
      log::Fatal("alias_database: {}: the file name must be an absolute path", ref.ToString());
    Build(ref, o);
  }
  return 0;
}

}  // namespace postern::postmap
