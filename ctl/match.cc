// ctl/match.cc — smtpctl-style command matching: every word may be cut to a
// prefix; an exact word beats a prefix; the longest command name wins.
#include <algorithm>

#include "ctl/commands.h"
#include "postern/util/strings.h"

namespace postern::ctl {

namespace {

std::string Name(const Command& c) {
  std::string n;
  for (auto w : c.words) n += (n.empty() ? "" : " ") + std::string(w);
  return n;
}

}  // namespace

const Command* Match(std::span<const Command> table, const std::vector<std::string>& words, size_t* consumed,
                     std::string* error) {
  // Score: (words matched, exact words); best score wins, ties are ambiguous.
  const Command* best = nullptr;
  std::vector<const Command*> tied;
  std::pair<size_t, size_t> best_score{0, 0};
  for (const auto& c : table) {
    if (c.words.size() > words.size()) continue;
    size_t exact = 0;
    bool ok = true;
    for (size_t i = 0; i < c.words.size() && ok; ++i) {
      ok = !words[i].empty() && StartsWith(c.words[i], words[i]);
      exact += ok && c.words[i] == words[i];
    }
    if (!ok) continue;
    std::pair<size_t, size_t> score{c.words.size(), exact};
    if (!best || score > best_score) {
      best = &c;
      best_score = score;
      tied = {&c};
    } else if (score == best_score) {
      tied.push_back(&c);
    }
  }
  if (!best) {
    *error = "unknown command: " + (words.empty() ? std::string() : words[0]);
    return nullptr;
  }
  if (tied.size() > 1) {
    std::vector<std::string> sorted;
    for (auto* c : tied) sorted.push_back(Name(*c));
    std::sort(sorted.begin(), sorted.end());
    std::string names, typed;
    for (const auto& n : sorted) names += (names.empty() ? "" : ", ") + n;
    for (size_t i = 0; i < best_score.first; ++i) typed += (typed.empty() ? "" : " ") + words[i];
    *error = "ambiguous command: " + typed + ": " + names;
    return nullptr;
  }
  *consumed = best->words.size();
  return best;
}

}  // namespace postern::ctl
