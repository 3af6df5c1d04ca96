// server/delivery_conn.h — the agent side of qmgr's delivery protocol on one
// connection: requests one after another, each answered by its results and an end
// frame that keeps the connection while the worker may take more (Lease::RequestDone).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "postern/ipc/delivery.h"
#include "postern/ipc/frame.h"
#include "postern/server/server.h"

namespace postern::server {

class DeliveryConn : public std::enable_shared_from_this<DeliveryConn> {
 public:
  // Each request, with the connection to answer it on (Finish, once).
  using OnRequest = std::function<void(std::shared_ptr<DeliveryConn>, ipc::DeliveryRequest)>;
  // Serves the client until qmgr closes, a malformed request arrives, or
  // the worker wants no more requests (max_use, max_idle, retirement).
  static void Serve(Client client, OnRequest on_request);

  // During a request, sent at once: a connection fact (smtp's show hosts),
  // or a result ahead of the others (an agent about to die says what it has).
  void Connection(const ipc::ConnectionFact& c);
  void Result(const ipc::DeliveryResult& r);
  // The request's results (one per recipient, any order) and its end frame;
  // then the connection waits for the next request, or closes.
  void Finish(const std::vector<ipc::DeliveryResult>& results);
  const std::string& peer() const { return client_.peer; }

 private:
  DeliveryConn(Client c, OnRequest f) : client_(std::move(c)), on_request_(std::move(f)) {}
  void OnData(std::string_view data);
  void OnEnd();
  void Next();
  void Written(bool keep, int status);
  void CloseIdle();
  void Close();
  void Send(std::string frames);

  Client client_;
  OnRequest on_request_;
  ipc::FrameReader frames_{ipc::kDeliveryFrameMax};
  bool busy_ = false;          // a request is being served
  bool writing_ = false;       // the last results are on their way
  bool close_wanted_ = false;  // the worker wants the connection gone once they are
  bool gone_ = false;          // qmgr closed: nobody hears the results
  bool first_ = true;          // the first request came with the accept
};

}  // namespace postern::server
