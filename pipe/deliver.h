// pipe/deliver.h — Postfix's pipe(8) delivery agent: one delivery request
// (all its recipients at once, up to <service>_destination_recipient_limit)
// becomes one run of the master.cf argv= command, as the user= account,
// with the message on its standard input and its exit status as the result
// of every recipient.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "postern/config/maincf.h"
#include "postern/ipc/delivery.h"
#include "postern/mda/pipe_attr.h"
#include "postern/queue/queue.h"
#include "postern/util/result.h"

namespace postern::pipe {

struct Settings {
  std::string service;  // the master.cf service name: relay= in the log, <service>_time_limit
  std::string queue_directory, recipient_delimiter;
  std::vector<std::string> export_environment;
  long long time_limit = 1000;  // <service>_time_limit, else command_time_limit (seconds)
  mda::PipeAttr attr;

  // `args`: the master.cf words after the command (the attributes).
  static Result<Settings> Load(const config::Config& cfg, const std::string& service,
                               const std::vector<std::string>& args);
};

struct Agent {
  Settings settings;
  std::unique_ptr<queue::Queue> queue;
};

// Delivers one request; one result per recipient.
std::vector<ipc::DeliveryResult> Deliver(Agent& agent, const ipc::DeliveryRequest& req);

}  // namespace postern::pipe
