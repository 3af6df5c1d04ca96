// ipc/control_test.cc — control frames, runtime state, ids, the handler table,
// the streaming Reply (backpressure, cancel, pause) and a Link serving
// requests side by side.
#include "postern/ipc/control.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include "postern/event/event.h"
#include "postern/ipc/control_link.h"
#include "postern/ipc/control_queue.h"
#include "postern/ipc/frame.h"

namespace postern::ipc::control {
namespace {

TEST(ControlFrames, RequestRoundTrip) {
  const std::vector<std::vector<std::string>> cases = {
      {"show", "queue"}, {"show", "queue", "--json"}, {"remove", "0123abcd"}, {""}, {std::string(kMaxWordLen, 'x')}};
  for (const auto& words : cases) {
    auto p = EncodeRequest(words);
    EXPECT_EQ(KindOf(p), Kind::kRequest);
    auto back = DecodeRequest(p);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, words);
  }
}

TEST(ControlFrames, RejectsMalformedRequests) {
  std::string too_long = EncodeRequest({std::string(kMaxWordLen + 1, 'x')});
  std::vector<std::string> many(kMaxWords + 1, "w");
  const std::string cases[] = {
      "",                                   // empty
      "R",                                  // no count
      std::string("R\0\0\0\0", 5),          // zero words
      EncodeRequest({"a", "b"}).substr(0, 10),  // truncated
      EncodeRequest({"a"}) + "x",           // trailing byte
      too_long,                             // word over the limit
      EncodeRequest(many),                  // too many words
      "T" + EncodeRequest({"a"}).substr(1),  // wrong kind
  };
  for (const auto& c : cases) EXPECT_FALSE(DecodeRequest(c)) << c.size();
}

TEST(ControlFrames, EndRoundTrip) {
  for (const End& e : {End{true, ""}, End{false, "permission denied"}}) {
    auto back = DecodeEnd(EncodeEnd(e));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->ok, e.ok);
    EXPECT_EQ(back->error, e.error);
  }
  EXPECT_FALSE(DecodeEnd("E"));
  EXPECT_FALSE(DecodeEnd(std::string("E\x02", 2)));
  EXPECT_EQ(KindOf("Z"), Kind::kBad);
  EXPECT_EQ(DecodeText(EncodeText("a\nb\n")), "a\nb\n");
}

TEST(RuntimeState, RoundTrip) {
  RuntimeState s;
  EXPECT_EQ(RuntimeState::Decode(s.Encode()), s);
  s.pause_smtp = s.pause_mda = s.verbose = true;
  s.traces = {"smtp", "io"};
  s.profiles = {"queue"};
  s.options = {{"smtpd_banner", "$myhostname ESMTP = ok"}, {"max_idle", "10s"}};
  EXPECT_EQ(RuntimeState::Decode(s.Encode()), s);
  EXPECT_FALSE(RuntimeState::Decode("pause_mta"));       // torn: no final newline
  EXPECT_FALSE(RuntimeState::Decode("option novalue\n"));
  EXPECT_TRUE(RuntimeState::Decode("future_field 1\n"));  // skipped by older readers
}

TEST(RuntimeState, SaveAndLoad) {
  std::string dir = testing::TempDir();
  std::string path = dir + "/control_test_runtime";
  RuntimeState s;
  s.pause_mta = true;
  s.options["a"] = "b";
  ASSERT_TRUE(SaveState(path, s));
  auto back = LoadState(path);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, s);
  auto missing = LoadState(dir + "/no_such_runtime_file");
  ASSERT_TRUE(missing);
  EXPECT_EQ(*missing, RuntimeState{});
}

TEST(IdArg, Parses) {
  struct Case {
    std::string in;
    bool allow_all, ok, all, envelope;
    uint64_t id;
  };
  const Case cases[] = {
      {"0123abcd", false, true, false, false, 0x0123abcd},
      {"0123ABCD89abcdef", false, true, false, true, 0x0123abcd89abcdefULL},
      {"all", true, true, true, false, 0},
      {"all", false, false, false, false, 0},
      {"0123abc", true, false, false, false, 0},
      {"0123abcdx", true, false, false, false, 0},
      {"0123abcg", true, false, false, false, 0},
      {"", true, false, false, false, 0},
  };
  for (const auto& c : cases) {
    auto r = ParseIdArg(c.in, c.allow_all);
    ASSERT_EQ(bool(r), c.ok) << c.in;
    if (!c.ok) {
      EXPECT_NE(r.error().find("invalid id"), std::string::npos);
      continue;
    }
    EXPECT_EQ(r->all, c.all) << c.in;
    EXPECT_EQ(r->is_envelope, c.envelope) << c.in;
    EXPECT_EQ(r->id, c.id) << c.in;
  }
}

TEST(Table, LongestPrefixWins) {
  Table t;
  std::string hit;
  t.Add({"show"}, [&](const Request& r, std::shared_ptr<Reply>) { hit = "show/" + std::to_string(r.command_words); });
  t.Add({"show", "queue"}, [&](const Request& r, std::shared_ptr<Reply>) {
    hit = "queue/" + std::to_string(r.Args().size());
  });
  std::string out;
  auto reply = [&] { return std::make_shared<Reply>([&](std::string f) { out += f; }, [] { return size_t(0); }); };
  t.Dispatch({"show", "queue", "--json"}, reply());
  EXPECT_EQ(hit, "queue/1");
  t.Dispatch({"show", "stats"}, reply());
  EXPECT_EQ(hit, "show/1");
  out.clear();
  t.Dispatch({"bogus"}, reply());
  FrameReader rd(kFrameMax);
  rd.Feed(out);
  std::string p;
  ASSERT_EQ(rd.Next(&p), FrameReader::Status::kFrame);
  auto end = DecodeEnd(p);
  ASSERT_TRUE(end);
  EXPECT_FALSE(end->ok);
  EXPECT_EQ(end->error, "unknown command: bogus");
}

// A peer whose output is written only when the test says so.
struct FakePeer {
  std::string sent;
  size_t backlog = 0;
  std::shared_ptr<Reply> reply = std::make_shared<Reply>(
      [this](std::string f) {
        backlog += f.size();
        sent += f;
      },
      [this] { return backlog; });
  // Decoded text and whether the end frame came.
  std::pair<std::string, std::optional<End>> Decode() const {
    FrameReader rd(kFrameMax);
    rd.Feed(sent);
    std::string p, text;
    std::optional<End> end;
    while (rd.Next(&p) == FrameReader::Status::kFrame) {
      if (KindOf(p) == Kind::kText) text += DecodeText(p);
      else end = DecodeEnd(p);
    }
    return {text, end};
  }
};

TEST(Reply, StreamStopsAtHighWaterAndResumesOnDrain) {
  FakePeer peer;
  int produced = 0;
  const int total = 100000;
  peer.reply->Stream([&](Reply& r) {
    for (int i = 0; i < 100 && produced < total; ++i) r.Line("line " + std::to_string(produced++));
    return produced < total;
  });
  // Far fewer than all lines: the stream waits for the peer.
  EXPECT_LT(produced, total / 4);
  EXPECT_FALSE(peer.reply->done());
  size_t max_backlog = 0;
  while (!peer.reply->done()) {
    max_backlog = std::max(max_backlog, peer.backlog);
    peer.backlog = 0;  // the peer read everything
    peer.reply->Pump();
  }
  EXPECT_EQ(produced, total);
  EXPECT_LT(max_backlog, 512u << 10);
  auto [text, end] = peer.Decode();
  ASSERT_TRUE(end);
  EXPECT_TRUE(end->ok);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), total);
  EXPECT_EQ(text.substr(0, 14), "line 0\nline 1\n");
}

TEST(Reply, CancelEndsTheStreamAndRunsTheHook) {
  FakePeer peer;
  bool cancelled = false;
  peer.reply->OnCancel([&] { cancelled = true; });
  peer.reply->Stream([](Reply& r) {
    r.Line(std::string(1000, 'x'));
    return true;  // endless
  });
  peer.reply->Cancel();
  EXPECT_TRUE(cancelled);
  EXPECT_TRUE(peer.reply->done());
  peer.reply->Line("after the end");  // ignored
  auto [text, end] = peer.Decode();
  ASSERT_TRUE(end);
  EXPECT_EQ(text.find("after"), std::string::npos);
}

TEST(Reply, FailCarriesTheError) {
  FakePeer peer;
  peer.reply->Line("partial");
  peer.reply->Fail("the queue manager is not running");
  peer.reply->Finish();  // a second end is ignored
  auto [text, end] = peer.Decode();
  EXPECT_EQ(text, "partial\n");
  ASSERT_TRUE(end);
  EXPECT_FALSE(end->ok);
  EXPECT_EQ(end->error, "the queue manager is not running");
}

TEST(Reply, PauseHoldsTheStreamUntilUnpaused) {
  FakePeer peer;
  int produced = 0;
  peer.reply->SetPaused(true);
  EXPECT_TRUE(peer.reply->congested());
  peer.reply->Stream([&](Reply& r) {
    r.Line("x");
    return ++produced < 3;
  });
  EXPECT_EQ(produced, 0);
  peer.reply->SetPaused(false);
  EXPECT_EQ(produced, 3);
  EXPECT_TRUE(peer.reply->done());
}

// Requests on one link run side by side: a slow answer does not hold up a
// fast one sent after it, and each frame carries its request's id.
TEST(Link, AnswersASecondRequestWhileTheFirstIsOpen) {
  event::Loop loop;
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  Table t;
  std::shared_ptr<Reply> slow;
  t.Add({"slow"}, [&](const Request&, std::shared_ptr<Reply> r) { slow = r; });
  t.Add({"fast"}, [](const Request&, std::shared_ptr<Reply> r) {
    r->Line("fast answer");
    r->Finish();
  });
  auto stream = event::Stream::Adopt(loop.get(), sv[0]);
  ASSERT_TRUE(stream.ok());
  auto link = Link::Start(std::move(*stream), &t, {nullptr, nullptr});
  std::string req;
  AppendFrame(EncodeRequest({"slow"}, 1), &req);
  AppendFrame(EncodeRequest({"fast"}, 2), &req);
  ASSERT_EQ(write(sv[1], req.data(), req.size()), ssize_t(req.size()));
  // Run until the fast answer has been written back.
  auto peer = event::Stream::Adopt(loop.get(), sv[1]);
  ASSERT_TRUE(peer.ok());
  FrameReader rd(kFrameMax);
  std::vector<std::pair<uint32_t, std::string>> got;
  (*peer)->ReadStart(
      [&](std::string_view d) {
        rd.Feed(d);
        std::string p;
        while (rd.Next(&p) == FrameReader::Status::kFrame) {
          got.emplace_back(*IdOf(p), std::string(1, p[0]));
          if (KindOf(p) == Kind::kText) got.back().second += DecodeText(p);
          if (got.size() == 2 && slow) slow->Finish();  // the fast one is done: end the slow one
          if (got.size() == 3) loop.Stop();
        }
      },
      [&](int) { loop.Stop(); });
  loop.Run();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], (std::pair<uint32_t, std::string>{2, "Tfast answer\n"}));
  EXPECT_EQ(got[1], (std::pair<uint32_t, std::string>{2, "E"}));
  EXPECT_EQ(got[2], (std::pair<uint32_t, std::string>{1, "E"}));
  link->Close();
  peer->reset();
  uv_run(loop.get(), UV_RUN_NOWAIT);
}

TEST(QueueFormat, SmtpctlLine) {
  queue::MessageRecord m;
  m.id = 0x0123abcd;
  m.sender = "a@example.org";
  m.client_addr = "127.0.0.1";
  queue::Envelope e;
  e.id = 0x0123abcd00000001ULL;
  e.recipient = "b@example.net";
  e.state = queue::State::kDeferred;
  e.created = 100;
  e.expiry = 200;
  e.last_attempt = 150;
  e.attempts = 2;
  e.next_attempt = 170;
  e.last_error = "connect to x: refused\nsecond line";
  e.transport = "smtp";
  auto rs = StoredRunState(e, 160, false);
  EXPECT_EQ(FormatQueueLine(m, e, rs),
            "0123abcd00000001|inet4|mta|pending|a@example.org|b@example.net|b@example.net|100|200|150|2|pending|10|"
            "connect to x: refused second line");
  EXPECT_EQ(FormatQueueLine(m, e, StoredRunState(e, 160, true)).find("|2|offline|connect"), 88u);
  std::string json = FormatQueueJson(m, e, rs);
  EXPECT_NE(json.find("\"runstate\":\"pending\",\"runstate_seconds\":10"), std::string::npos) << json;
  EXPECT_NE(json.find("\"error\":\"connect to x: refused\\u000asecond line\""), std::string::npos) << json;
  m.sender.clear();
  m.client_addr.clear();
  e.transport = "local";
  EXPECT_EQ(FormatQueueLine(m, e, rs).substr(0, 48), "0123abcd00000001|local|bounce|bounce,internal,pe");
}

}  // namespace
}  // namespace postern::ipc::control
