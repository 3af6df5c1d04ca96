// rewrite/canonical.h — Postfix's cleanup address rewriting: canonical_maps,
// sender_canonical_maps, recipient_canonical_maps (each for its classes) and
// address masquerading; also smtp_generic_maps for the smtp client.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "postern/rewrite/lookup.h"
#include "postern/table/table.h"
#include "postern/util/result.h"

namespace postern::config {
class Config;
}

namespace postern::rewrite {

// The kinds of address a rewrite applies to (Postfix's canonical_classes,
// masquerade_classes).
enum AddressClass : unsigned {
  kEnvelopeSender = 1,
  kEnvelopeRecipient = 2,
  kHeaderSender = 4,
  kHeaderRecipient = 8,
};
// "envelope_sender, header_recipient" → a mask; unknown names are an error.
Result<unsigned> ParseClasses(const std::vector<std::string>& names);

// One single-valued map (Postfix's cleanup_map11): the first result of the
// lookup replaces the address, again until it no longer changes (at most 10
// rounds, as Postfix).
class AddressMap {
 public:
  AddressMap() = default;
  AddressMap(std::string name, MapSettings s, table::TableList maps)
      : name_(std::move(name)), s_(std::move(s)), maps_(std::make_shared<table::TableList>(std::move(maps))) {}
  // The maps named by `param`, with propagation when
  // propagate_unmatched_extensions lists `propagate_class`.
  static Result<AddressMap> FromConfig(const config::Config& cfg, const std::string& param,
                                       std::string_view propagate_class);
  bool empty() const { return !maps_ || maps_->empty(); }
  // The rewritten address (or `address` itself); an error: a table failed.
  Result<std::string> Map(std::string_view address) const;

 private:
  std::string name_;
  MapSettings s_;
  std::shared_ptr<table::TableList> maps_;  // shared: copies of a rewriter look up the same tables
};

// masquerade_domains with `!` exceptions and masquerade_exceptions.
struct Masquerade {
  std::vector<std::string> domains;     // lower case; "!d" = never masquerade below d
  std::vector<std::string> exceptions;  // local parts (lower case) left alone
  // user@host.sub.example with "example" → user@example; unchanged otherwise.
  std::string Apply(std::string_view address) const;
};

// Everything cleanup does to one address before it enters the queue, in
// Postfix's order: the sender- or recipient-specific canonical map, then
// canonical_maps, then masquerading, each only for its classes.
class AddressRewriter {
 public:
  struct Maps {
    AddressMap canonical, sender, recipient;
    unsigned canonical_classes = 15, sender_classes = 15, recipient_classes = 15;
    Masquerade masquerade;
    unsigned masquerade_classes = kEnvelopeSender | kHeaderSender | kHeaderRecipient;
  };
  AddressRewriter() = default;
  explicit AddressRewriter(Maps m) : m_(std::move(m)) {}
  static Result<AddressRewriter> FromConfig(const config::Config& cfg);

  // Does anything apply to addresses of this class?
  bool Rewrites(AddressClass c) const;
  // The address as it enters the queue (or a header); an error: a table failed.
  Result<std::string> Rewrite(std::string_view address, AddressClass c) const;

 private:
  Maps m_;
};

}  // namespace postern::rewrite
