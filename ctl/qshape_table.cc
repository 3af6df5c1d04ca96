// ctl/qshape_table.cc — qshape's buckets, domain folding and table layout,
// as Postfix's qshape.pl computes them; see qshape.h.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "ctl/qshape.h"

namespace postern::ctl {

namespace {

constexpr size_t kMinDomainWidth = 18;

// "User@Sub.Example.COM." → "sub.example.com"; the null sender is MAILER-DAEMON.
std::string DomainOf(std::string_view address) {
  std::string a(address);
  for (char& c : a) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (a.empty()) return "MAILER-DAEMON";
  if (size_t at = a.rfind('@'); at != std::string::npos) a.erase(0, at + 1);
  for (size_t p; (p = a.find("..")) != std::string::npos;) a.erase(p, 1);
  if (a.size() > 1 && a.front() == '.') a.erase(0, 1);
  if (a.size() > 1 && a.back() == '.') a.pop_back();
  return a;
}

// "a.b.example.com" → ".b.example.com" → ".example.com" → stop (no top-level domains).
bool Parent(std::string* d) {
  size_t start = !d->empty() && (*d)[0] == '.' ? 1 : 0;
  size_t dot = d->find('.', start);
  if (dot == std::string::npos || dot == start || d->find('.', dot + 1) == std::string::npos) return false;
  d->erase(0, dot);
  return true;
}

}  // namespace

int ShapeTable::Bucket(int64_t arrival, int64_t now) const {
  double m = double(now - arrival) / double(60 * o_.minutes);
  if (m < 1) return 1;
  int b = o_.linear ? int(m + 1) : 2 + int(std::log(m) / std::log(2.0));
  return std::min(b, o_.buckets);
}

std::vector<uint64_t>& ShapeTable::Row(const std::string& domain) {
  auto& row = rows_[domain];
  if (row.empty()) row.assign(size_t(o_.buckets) + 1, 0);
  return row;
}

void ShapeTable::Add(std::string_view address, int64_t arrival, int64_t now) {
  int b = Bucket(arrival, now);
  auto& total = Row("TOTAL");
  ++total[0];
  ++total[size_t(b)];
  std::string d = DomainOf(address);
  bool child_new = false;
  do {
    auto& row = Row(d);
    bool seen = ++row[0] > 1;
    ++row[size_t(b)];
    if (child_new) ++subdomains_[d];
    child_new = !seen;
  } while (o_.parents && Parent(&d));
}

std::string ShapeTable::Line(std::string_view domain, const std::vector<std::string>& cells,
                             const std::vector<size_t>& widths, size_t dw) const {
  std::string out;
  if (domain.size() > dw) {
    bool parent = domain.front() == '.';
    size_t keep = parent ? dw - 2 : dw - 1;
    out = (parent ? ".+" : "+") + std::string(domain.substr(domain.size() - keep));
  } else {
    out = std::string(dw - domain.size(), ' ') + std::string(domain);
  }
  for (size_t i = 0; i < cells.size(); ++i) out += std::string(widths[i] - std::min(widths[i], cells[i].size()), ' ') + cells[i];
  return out + "\n";
}

std::string ShapeTable::Render() const {
  static const std::vector<uint64_t> kEmpty;
  auto it = rows_.find("TOTAL");
  const auto& total = it == rows_.end() ? kEmpty : it->second;
  std::vector<std::string> heads;
  std::vector<size_t> widths;
  int64_t dw = o_.width;
  int64_t t = 0;
  for (int i = 0; i <= o_.buckets; ++i) {
    std::string h = i == 0 ? "T" : (i == o_.buckets ? std::to_string(t) + "+" : std::to_string(t));
    size_t l = std::to_string(size_t(i) < total.size() ? total[size_t(i)] : 0).size();
    l = std::max(l, h.size());
    l = l > 2 ? l + 1 : 3;
    heads.push_back(h);
    widths.push_back(l);
    dw -= int64_t(l);
    if (i + 1 < o_.buckets) t += (t && !o_.linear) ? t : o_.minutes;
  }
  size_t domain_width = dw < int64_t(kMinDomainWidth) ? kMinDomainWidth : size_t(dw);
  std::string out = Line("", heads, widths, domain_width);
  std::vector<const std::pair<const std::string, std::vector<uint64_t>>*> order;
  for (const auto& r : rows_) order.push_back(&r);
  if (order.empty()) order.push_back(nullptr);
  std::stable_sort(order.begin(), order.end(), [](auto* a, auto* b) {
    if (!a || !b) return false;
    if (a->second[0] != b->second[0]) return a->second[0] > b->second[0];
    return a->first.size() < b->first.size();
  });
  for (auto* r : order) {
    std::string name = r ? r->first : "TOTAL";
    if (name.front() == '.') {
      auto s = subdomains_.find(name);
      if (s == subdomains_.end() || s->second < o_.min_subdomains) continue;
    }
    std::vector<std::string> cells;
    for (int i = 0; i <= o_.buckets; ++i) cells.push_back(std::to_string(r ? r->second[size_t(i)] : 0));
    out += Line(name, cells, widths, domain_width);
  }
  return out;
}

}  // namespace postern::ctl
