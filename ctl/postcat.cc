// ctl/postcat.cc — postcat(1): `postcat [-behqv] [-c config_dir] queue_id...`
// prints a queued message as Postfix's postcat prints a queue file (the
// format is postcat_format.cc's), read from the queue a piece at a time.
#include <cstdio>
#include <string>
#include <vector>

#include "ctl/frontends.h"
#include "ctl/postcat.h"
#include "postern/log/log.h"
#include "postern/showq/showq.h"

namespace postern::ctl {

namespace {

void Put(std::string* s) {
  std::fwrite(s->data(), 1, s->size(), stdout);
  s->clear();
}

// One message, or Postfix's fatal line when it is not queued.
void Cat(queue::Queue* q, const std::string& name, CatFlags f) {
  auto id = queue::ParseMsgId(name);
  auto m = q && id ? q->GetMessage(*id) : queue::Outcome<queue::MessageRecord>(queue::Fail(queue::Code::kNotFound, name));
  auto envs = m.ok() ? q->Envelopes(*id) : queue::Outcome<std::vector<queue::Envelope>>(m.status());
  auto where = envs.ok() ? showq::QueueOf(*envs) : std::nullopt;
  auto body = where ? q->OpenBody(*id) : queue::Outcome<queue::BodyReader>(queue::Fail(queue::Code::kNotFound, name));
  if (!body.ok()) log::Fatal("open queue file {}: No such file or directory", name);
  std::string path = std::string(showq::Name(*where)) + "/" + queue::FormatMsgId(*id), out;
  if (f.envelope) out += CatMarker("ENVELOPE RECORDS", path) + CatEnvelope(*m, *envs) + CatMarker("MESSAGE CONTENTS", path);
  if (f.header || f.body) {
    CatContent content(f);
    std::string buf(64 << 10, '\0');
    for (;;) {
      auto n = body->Read(buf.data(), buf.size());
      if (!n.ok()) log::Fatal("{}: read error: {}", path, n.status().message);
      if (*n == 0) break;
      content.Feed(std::string_view(buf.data(), *n), &out);
      Put(&out);
    }
    content.Finish(&out);
  }
  if (f.envelope) out += CatMarker("HEADER EXTRACTED", path) + CatMarker("MESSAGE FILE END", path);
  Put(&out);
}

}  // namespace

int PostcatMain(int argc, char** argv) {
  log::InitCommand("postcat");
  auto parsed = ParseShortOptions(std::vector<std::string>(argv + 1, argv + argc), "c", "behqv");
  if (!parsed)
    log::Fatal("usage: postcat [-b (body text)] [-c config_dir] [-e (envelope records)] [-h (header text)] "
               "[-q (access queue)] [-v] queue_id...");
  CatFlags f;
  std::string dash_c;
  for (const auto& o : parsed->opts) {
    switch (o.letter) {
      case 'b': f.body = true; break;
      case 'e': f.envelope = true; break;
      case 'h': f.header = true; break;
      case 'v': f.verbose = true; break;
      case 'c': dash_c = o.value; break;
      default: break;  // -q: postern has no queue files, an operand is always a queue id
    }
  }
  if (!f.envelope && !f.header && !f.body) f.envelope = f.header = f.body = true;
  if (parsed->operands.empty()) log::Fatal("no queue id given (postern has no queue files to read from standard input)");
  auto loaded = LoadFrontendConfig(dash_c);
  if (!loaded) log::Fatal("{}", loaded.error());
  auto q = showq::OpenExisting(loaded->cfg);
  if (!q) log::Fatal("{}", q.error());
  for (const auto& name : parsed->operands) Cat(q->get(), name, f);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace postern::ctl
