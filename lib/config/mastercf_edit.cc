// config/mastercf_edit.cc — postconf -M/-F/-P requests and master.cf edits;
// entries are changed as parsed MasterService values and re-rendered.
#include "postern/config/mastercf_edit.h"

#include <algorithm>
#include <optional>

#include "postern/config/maincf_edit.h"
#include "postern/util/strings.h"

namespace postern::config {

namespace {

constexpr size_t kMaxRequest = 4096;

std::vector<std::string_view> SplitSlash(std::string_view s) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (true) {
    size_t slash = s.find('/', pos);
    out.push_back(s.substr(pos, slash == s.npos ? s.npos : slash - pos));
    if (slash == s.npos) break;
    pos = slash + 1;
  }
  return out;
}

std::optional<size_t> FieldIndex(std::string_view name) {
  auto it = std::find(kMasterFieldNames.begin(), kMasterFieldNames.end(), name);
  if (it == kMasterFieldNames.end()) return std::nullopt;
  return size_t(it - kMasterFieldNames.begin());
}

// Where one -o setting sits among a service's arguments.
struct OptSpan {
  size_t at, count;
  std::string name;
};

std::vector<OptSpan> FindOverrides(const std::vector<std::string>& args) {
  std::vector<OptSpan> out;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view opt;
    size_t count = 1;
    if (args[i] == "-o" && i + 1 < args.size()) {
      opt = args[i + 1];
      count = 2;
    } else if (StartsWith(args[i], "-o") && args[i].find('=') != std::string::npos) {
      opt = std::string_view(args[i]).substr(2);
    } else {
      continue;
    }
    size_t eq = opt.find('=');
    if (eq != opt.npos) out.push_back({i, count, std::string(Trim(opt.substr(0, eq)))});
    i += count - 1;
  }
  return out;
}

// One service as the edit sees it: where it came from and what becomes of it.
struct Item {
  MasterService s;
  std::optional<size_t> entry;  // index in ConfigText; nullopt for a new one
  enum State { kKeep, kRewrite, kDelete, kComment } state = kKeep;
};

Item* FindItem(std::vector<Item>& items, std::string_view service, std::string_view type) {
  for (Item& it : items)
    if (it.s.service == service && it.s.type == type &&
        (it.state == Item::kKeep || it.state == Item::kRewrite))
      return &it;
  return nullptr;
}

// Reparses a service after an edit so that a bad value is refused up front.
Result<MasterService> Reparse(const MasterService& s, const MasterEdit& e) {
  auto parsed = ParseMasterCf(FormatMasterLine(s, true), e.request);
  if (!parsed) return Err(parsed.error());
  if (parsed->size() != 1) return Err(e.request + ": edit does not leave one entry");
  return (*parsed)[0];
}

Result<void> SetField(MasterService* s, const MasterEdit& e) {
  size_t field = *FieldIndex(e.name);
  if (field == 7) {
    auto parts = SplitMasterFields(e.value);
    if (!parts) return Err(e.request + ": " + parts.error());
    if (parts->empty()) return Err(e.request + ": empty command");
    s->fields[7] = (*parts)[0];
    s->args.assign(parts->begin() + 1, parts->end());
    return {};
  }
  if (e.value.empty() || e.value.find_first_of(" \t\r\n{}") != std::string::npos)
    return Err(e.request + ": a field value is one word");
  s->fields[field] = e.value;
  return {};
}

void SetParam(MasterService* s, const MasterEdit& e, bool remove) {
  auto spans = FindOverrides(s->args);
  bool done = false;
  // Back to front so that erasing keeps earlier positions valid.
  for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
    if (it->name != e.name) continue;
    auto first = s->args.begin() + long(it->at);
    s->args.erase(first, first + long(it->count));
    if (!remove && !done) {
      s->args.insert(s->args.begin() + long(it->at), {"-o", e.name + "=" + e.value});
      done = true;
    }
  }
  if (!remove && !done) {
    s->args.push_back("-o");
    s->args.push_back(e.name + "=" + e.value);
  }
}

// Applies one edit to the working list; false when it matched no service.
Result<bool> Apply(std::vector<Item>& items, const MasterEdit& e) {
  if (e.op == MasterEditOp::kSetEntry) {
    auto parsed = ParseMasterCf(e.value, e.request);
    if (!parsed) return Err(parsed.error());
    if (parsed->size() != 1) return Err(e.request + ": expected exactly one master.cf entry");
    MasterService fresh = (*parsed)[0];
    if (fresh.service != e.service || fresh.type != e.type)
      return Err(e.request + ": the entry is for " + fresh.Key() + ", not " + e.service + "/" + e.type);
    if (Item* it = FindItem(items, e.service, e.type)) {
      it->s = fresh;
      it->state = Item::kRewrite;
    } else {
      items.push_back({fresh, std::nullopt, Item::kRewrite});
    }
    return true;
  }
  Item* it = FindItem(items, e.service, e.type);
  if (!it) return false;
  switch (e.op) {
    case MasterEditOp::kDeleteEntry: it->state = Item::kDelete; return true;
    case MasterEditOp::kCommentEntry: it->state = Item::kComment; return true;
    case MasterEditOp::kSetField:
      if (auto r = SetField(&it->s, e); !r) return Err(r.error());
      break;
    case MasterEditOp::kSetParam:
    case MasterEditOp::kDeleteParam: {
      bool remove = e.op == MasterEditOp::kDeleteParam;
      if (remove) {
        auto spans = FindOverrides(it->s.args);
        if (std::none_of(spans.begin(), spans.end(), [&](auto& sp) { return sp.name == e.name; }))
          return false;
      }
      SetParam(&it->s, e, remove);
      break;
    }
    case MasterEditOp::kSetEntry: break;
  }
  auto again = Reparse(it->s, e);
  if (!again) return Err(again.error());
  it->s = *again;
  it->state = Item::kRewrite;
  return true;
}

}  // namespace

bool MasterPattern::Matches(const MasterService& s) const {
  return (service == "*" || service == s.service) && (type == "*" || type == s.type);
}

Result<MasterPattern> ParseMasterPattern(std::string_view text, int parts) {
  if (text.size() > kMaxRequest) return Err("request too long");
  auto p = SplitSlash(text);
  if (int(p.size()) > parts || std::any_of(p.begin(), p.end(), [](auto s) { return s.empty(); }))
    return Err("bad pattern: \"" + std::string(text) + "\" (use " +
               (parts == 2 ? "service[/type]" : "service[/type[/name]]") + ")");
  MasterPattern out;
  out.service = p[0];
  if (p.size() > 1) out.type = p[1];
  if (p.size() > 2) out.name = p[2];
  return out;
}

std::string MasterFieldValue(const MasterService& s, size_t field) {
  if (field < 7) return s.fields.at(field);
  // The command with its arguments, as FormatMasterLine writes them unfolded.
  std::string line = FormatMasterLine(s, false);
  std::string out = s.fields[7];
  MasterService bare = s;
  bare.args.clear();
  std::string head = FormatMasterLine(bare, false);
  return out + line.substr(head.size());
}

Result<MasterEdit> ParseMasterEdit(std::string_view arg, MasterEditOp op) {
  if (arg.size() > kMaxRequest) return Err("request too long");
  MasterEdit e{op, {}, {}, {}, {}, std::string(arg)};
  bool wants_value = op == MasterEditOp::kSetEntry || op == MasterEditOp::kSetField ||
                     op == MasterEditOp::kSetParam;
  bool wants_name = op != MasterEditOp::kSetEntry && op != MasterEditOp::kDeleteEntry &&
                    op != MasterEditOp::kCommentEntry;
  std::string shape = std::string("service/type") + (wants_name ? "/name" : "") +
                      (wants_value ? "=value" : "");
  std::string_view key = arg;
  if (wants_value) {
    size_t eq = arg.find('=');
    if (eq == arg.npos) return Err("\"" + e.request + "\": expected " + shape);
    key = Trim(arg.substr(0, eq));
    e.value = std::string(Trim(arg.substr(eq + 1)));
  } else if (arg.find('=') != arg.npos) {
    return Err("\"" + e.request + "\": expected " + shape + " without a value");
  }
  auto p = SplitSlash(key);
  bool bad = p.size() != (wants_name ? 3u : 2u) ||
             std::any_of(p.begin(), p.end(), [](auto s) { return s.empty() || s == "*"; });
  if (bad) return Err("\"" + e.request + "\": expected " + shape);
  e.service = p[0];
  e.type = p[1];
  if (wants_name) e.name = p[2];
  if (op == MasterEditOp::kSetField && !FieldIndex(e.name))
    return Err("\"" + e.request + "\": unknown field \"" + e.name +
               "\" (service, type, private, unprivileged, chroot, wakeup, process_limit or command)");
  if ((op == MasterEditOp::kSetParam || op == MasterEditOp::kDeleteParam) && !IsParameterName(e.name))
    return Err("\"" + e.request + "\": bad parameter name \"" + e.name + "\"");
  if (op == MasterEditOp::kSetParam && e.value.find_first_of("\r\n") != std::string::npos)
    return Err("\"" + e.request + "\": value must be one line");
  return e;
}

Result<MasterEditResult> EditMasterCf(std::string_view text, const std::vector<MasterEdit>& edits,
                                      std::string_view origin) {
  auto services = ParseMasterCf(text, origin);
  if (!services) return Err(services.error());
  ConfigText doc(text);
  std::vector<Item> items;
  for (MasterService& s : *services) {
    std::optional<size_t> entry;
    for (size_t i = 0; i < doc.entries().size(); ++i)
      if (doc.entries()[i].first + 1 == size_t(s.line)) entry = i;
    items.push_back({std::move(s), entry, Item::kKeep});
  }
  MasterEditResult result;
  for (const MasterEdit& e : edits) {
    auto applied = Apply(items, e);
    if (!applied) return Err(applied.error());
    if (!*applied) result.warnings.push_back("unmatched request: \"" + e.request + "\"");
  }
  for (const Item& it : items) {
    if (it.state == Item::kKeep) continue;
    std::string line = FormatMasterLine(it.s, true) + "\n";
    if (!it.entry) {
      if (it.state == Item::kRewrite) doc.Append(line);
      continue;
    }
    if (it.state == Item::kRewrite) doc.Replace(*it.entry, line);
    else if (it.state == Item::kDelete) doc.Replace(*it.entry, "");
    else doc.CommentOut(*it.entry);
  }
  result.text = doc.Render();
  if (auto check = ParseMasterCf(result.text, origin); !check)
    return Err("edit would make the file malformed: " + check.error());
  return result;
}

}  // namespace postern::config
