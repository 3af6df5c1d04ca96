// postconf/edit.cc — postconf's edits: -e/-X/-# on main.cf and -M/-F/-P on
// master.cf, each written back through a temporary file and a rename.
#include "postconf.h"
#include "postern/config/maincf_edit.h"
#include "postern/config/mastercf_edit.h"
#include "postern/log/log.h"

namespace postern::postconf {
namespace {

void WriteBack(const std::string& path, const std::string& before, const std::string& after) {
  if (after == before) return;
  if (auto r = config::ReplaceFileAtomically(path, after); !r) log::Fatal("{}", r.error());
}

}  // namespace

void EditMain(const Options& o) {
  std::string path = o.config_dir + "/main.cf";
  auto text = config::ReadTextFile(path);
  if (!text) log::Fatal("{}", text.error());
  config::MainEditOp op = (o.mode & kEdit)      ? config::MainEditOp::kSet
                          : (o.mode & kExclude) ? config::MainEditOp::kDelete
                                                : config::MainEditOp::kComment;
  std::vector<std::pair<std::string, std::string>> items;
  for (const std::string& arg : o.args) {
    if (op == config::MainEditOp::kSet) {
      auto nv = config::SplitNameValue(arg);
      if (!nv) log::Fatal("{}", nv.error());
      items.push_back(std::move(*nv));
    } else if (arg.find('=') != std::string::npos) {
      log::Fatal("{} takes parameter names, not name=value: \"{}\"",
                 op == config::MainEditOp::kDelete ? "-X" : "-#", arg);
    } else {
      items.emplace_back(arg, "");
    }
  }
  auto edited = config::EditMainCf(*text, op, items, path);
  if (!edited) log::Fatal("{}", edited.error());
  for (const std::string& w : edited->warnings) log::Warning("{}", w);
  WriteBack(path, *text, edited->text);
}

void EditMaster(const Options& o) {
  std::string path = o.config_dir + "/master.cf";
  auto text = config::ReadTextFile(path);
  if (!text) log::Fatal("{}", text.error());
  using Op = config::MasterEditOp;
  Op op;
  if (o.mode & kMasterEntry)
    op = (o.mode & kEdit) ? Op::kSetEntry : (o.mode & kExclude) ? Op::kDeleteEntry : Op::kCommentEntry;
  else if (o.mode & kMasterField)
    op = Op::kSetField;
  else
    op = (o.mode & kEdit) ? Op::kSetParam : Op::kDeleteParam;
  std::vector<config::MasterEdit> edits;
  for (const std::string& arg : o.args) {
    auto e = config::ParseMasterEdit(arg, op);
    if (!e) log::Fatal("{}", e.error());
    edits.push_back(std::move(*e));
  }
  auto edited = config::EditMasterCf(*text, edits, path);
  if (!edited) log::Fatal("{}", edited.error());
  for (const std::string& w : edited->warnings) log::Warning("{}", w);
  WriteBack(path, *text, edited->text);
}

}  // namespace postern::postconf
