// master/control.cc — the public/control socket: accepts ctl clients, checks
// who they are (SO_PEERCRED), and answers each one request through master's
// handler table; keeps and publishes the runtime state. See ipc/control.h.
#include "master/control.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "postern/ipc/control_link.h"
#include "postern/log/log.h"
#include "postern/util/unix_socket.h"

namespace postern::master {

namespace {

Control* the_control = nullptr;

}  // namespace

Control& TheControl() { return *the_control; }
void SetControl(Control* c) { the_control = c; }

Result<void> Control::Open(const config::Config& cfg, const Owner& owner) {
  cfg_ = &cfg;
  owner_ = owner;
  std::string path = cfg.Str("queue_directory") + "/public/control";
  if (path == path_ && listen_fd_.valid()) return {};
  auto sun = MakeUnixAddress(path);
  if (!sun) return Err("control " + sun.error());
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Err(std::string("control socket: ") + std::strerror(errno));
  unlink(path.c_str());  // a stale socket of an earlier master (the pid lock keeps a live one out)
  // Created 0600 from the start: no window in which anyone else could connect.
  mode_t old = umask(0177);
  int rc = bind(fd.get(), sun->get(), sun->size());
  umask(old);
  if (rc != 0) return Err("bind " + path + ": " + std::strerror(errno));
  if (owner.root && chown(path.c_str(), owner.uid, owner.gid) != 0)
    return Err("chown " + path + ": " + std::strerror(errno));
  if (listen(fd.get(), 64) != 0) return Err("listen " + path + ": " + std::strerror(errno));
  poll_.reset();
  listen_fd_ = std::move(fd);
  path_ = path;
  poll_ = std::make_unique<event::Poll>(loop_, listen_fd_.get());
  poll_->Start(UV_READABLE, [this](int status, int) {
    if (status == 0) Accept();
  });
  Save();
  return {};
}

void Control::Reloaded(const config::Config& cfg, const Owner& owner) {
  if (auto r = Open(cfg, owner); !r) log::Warning("{}", r.error());
  if (!state_.options.empty()) log::Info("reload: runtime option overrides cleared");
  Update([](ipc::control::RuntimeState& s) { s.options.clear(); });
}

void Control::Update(const std::function<void(ipc::control::RuntimeState&)>& change) {
  change(state_);
  Save();
  for (auto& w : Workers())
    if (w.link) w.link->SendState(state_);
  if (hooks_.state_changed) hooks_.state_changed();
}

void Control::Save() {
  if (!cfg_) return;
  if (auto r = ipc::control::SaveState(ipc::control::StatePath(*cfg_), state_); !r)
    log::Warning("runtime state: {}", r.error());
}

void Control::Accept() {
  while (true) {
    int fd = accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
        log::Warning("control: accept: {}", std::strerror(errno));
      return;
    }
    ucred cred{};
    socklen_t len = sizeof cred;
    bool allowed = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
                   (cred.uid == 0 || cred.uid == owner_.uid || cred.uid == geteuid());
    auto stream = event::Stream::Adopt(loop_, fd);
    if (!stream) {
      log::Warning("control: {}", stream.error());
      continue;
    }
    if (!allowed) {
      log::Warning("control: permission denied for uid {} pid {}", cred.uid, cred.pid);
      std::string frame;
      ipc::AppendFrame(ipc::control::EncodeEnd({false, "permission denied"}), &frame);
      auto* s = stream->release();
      s->Write(std::move(frame), [s](int) { delete s; });
      continue;
    }
    // The link keeps itself alive through its stream callbacks until it
    // closes; the holder below drops the last reference then.
    auto holder = std::make_shared<std::shared_ptr<ipc::control::Link>>();
    *holder = ipc::control::Link::Start(std::move(*stream), &ipc::control::ProcessTable(),
                                        {nullptr, [holder] { holder->reset(); }});
    (*holder)->set_one_shot();
  }
}

}  // namespace postern::master
