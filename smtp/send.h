// smtp/send.h — `postern send` (Plan 9's upas/smtp): one message from
// standard input straight to a destination through this program's Delivery
// (the same client code the smtp worker runs for qmgr), no queue. ctl's
// `postern send` executes `smtp send -C config_dir ARGS`; see postern-send(1).
#pragma once

namespace postern::smtp_client {

// argv[0] is "send". Returns the exit status (send_args.h).
int SendMain(int argc, char** argv);

}  // namespace postern::smtp_client
