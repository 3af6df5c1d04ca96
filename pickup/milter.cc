// pickup/milter.cc — one maildrop message through non_smtpd_milters: the
// events one after the other, each started when the previous one said
// "continue"; the first final answer ends the run. See milter.h.
#include "pickup/milter.h"

#include <functional>
#include <optional>

#include "postern/event/event.h"

namespace postern::pickup {

namespace {

std::optional<std::string> Macro(const milter::Settings& s, const LocalFacts& f, const std::string& rcpt,
                                 std::string_view name) {
  if (name == "i") return f.queue_id;
  if (name == "j") return f.myhostname;
  if (name == "_") return std::string("localhost [127.0.0.1]");
  if (name == "v") return s.v;
  if (name == "{daemon_name}") return s.daemon_name;
  if (name == "{client_addr}") return std::string("127.0.0.1");
  if (name == "{client_name}" || name == "{client_ptr}") return std::string("localhost");
  if (name == "{mail_addr}") return f.sender;
  if (name == "{rcpt_addr}" && !rcpt.empty()) return rcpt;
  return std::nullopt;
}

}  // namespace

milter::Outcome RunMilters(const std::shared_ptr<const milter::Settings>& settings, const LocalFacts& f,
                           milter::Message* m, milter::EnvelopeEdits* env) {
  event::Loop loop;
  std::optional<milter::Outcome> result;
  std::string rcpt;  // the one being reported ({rcpt_addr})
  auto macros = [&](const std::vector<std::string>& names) {
    milter::MacroValues out;
    for (const std::string& n : names)
      if (auto v = Macro(*settings, f, rcpt, n)) out.emplace_back(n, *v);
    return out;
  };
  {
    milter::Milters ms(loop.get(), settings, settings->non_smtpd, macros);
    using Step = std::function<void(milter::Milters::Done)>;
    std::vector<Step> steps;
    steps.push_back([&](auto d) { ms.Connect("localhost", '4', 0, "127.0.0.1", std::move(d)); });
    steps.push_back([&](auto d) { ms.Helo("localhost", std::move(d)); });
    steps.push_back([&](auto d) { ms.Mail({"<" + f.sender + ">"}, std::move(d)); });
    for (const std::string& r : f.recipients)
      steps.push_back([&, r](auto d) {
        rcpt = r;
        ms.Rcpt({"<" + r + ">"}, std::move(d));
      });
    steps.push_back([&](auto d) { ms.Data(std::move(d)); });
    steps.push_back([&](auto d) { ms.Content(m, env, std::move(d)); });
    size_t next = 0;
    std::function<void(milter::Outcome)> on;
    on = [&](milter::Outcome o) {
      if (o.final() || next == steps.size()) {
        result = std::move(o);
        return loop.Stop();  // the filters' open connections would keep the loop running
      }
      std::string hold = o.quarantine;
      steps[next++]([&, hold](milter::Outcome x) {
        if (x.quarantine.empty()) x.quarantine = hold;
        on(std::move(x));
      });
    };
    on({});
    loop.Run();
    ms.Quit();
  }
  loop.Run();  // the closed connections' handles
  return result ? std::move(*result) : milter::Outcome{};
}

}  // namespace postern::pickup
