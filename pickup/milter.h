// pickup/milter.h — non_smtpd_milters for a maildrop message: Postfix's
// emulated SMTP events (connect from localhost, EHLO, MAIL, RCPT, DATA) and
// the content, on a private loop (pickup works one file at a time).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "postern/milter/milters.h"

namespace postern::pickup {

struct LocalFacts {
  std::string queue_id, sender, myhostname;
  std::vector<std::string> recipients;
};

// The milters' verdict; *m and *env carry their edits.
milter::Outcome RunMilters(const std::shared_ptr<const milter::Settings>& settings, const LocalFacts& f,
                           milter::Message* m, milter::EnvelopeEdits* env);

}  // namespace postern::pickup
