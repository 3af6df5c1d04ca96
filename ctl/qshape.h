// ctl/qshape.h — qshape(1)'s table: domains × age buckets, Postfix's qshape
// arithmetic and layout (bucket limits doubling from -t minutes, or linear
// with -l; a T column and a TOTAL row; parent domains with -p), fed one
// address at a time so that a queue of any size streams through it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace postern::ctl {

struct ShapeOptions {
  int buckets = 10;      // -b
  int64_t minutes = 5;   // -t: the first bucket's limit
  bool linear = false;   // -l
  bool parents = false;  // -p
  int min_subdomains = 5;  // -m
  int width = 80;        // -w
};

class ShapeTable {
 public:
  explicit ShapeTable(ShapeOptions o) : o_(o) {}
  // One address (a recipient, or the sender with -s) of a message that
  // arrived at `arrival`.
  void Add(std::string_view address, int64_t arrival, int64_t now);
  std::string Render() const;
  int Bucket(int64_t arrival, int64_t now) const;  // 1..buckets

 private:
  std::vector<uint64_t>& Row(const std::string& domain);
  std::string Line(std::string_view domain, const std::vector<std::string>& cells,
                   const std::vector<size_t>& widths, size_t dw) const;
  ShapeOptions o_;
  std::map<std::string, std::vector<uint64_t>> rows_;  // [0] total, [1..buckets]
  std::map<std::string, int> subdomains_;
};

}  // namespace postern::ctl
