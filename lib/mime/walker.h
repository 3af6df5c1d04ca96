// mime/walker.h — a streaming MIME walker (Postfix's mime_state): follows the
// header blocks, multipart boundaries and nested messages of one message,
// tells its sink which output lines belong to a header, and, for a receiver
// without 8BITMIME, converts 8bit/binary parts to quoted-printable.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace postern::mime {

struct Limits {
  size_t nesting = 100;    // mime_nesting_limit: multipart and message/rfc822 levels
  size_t boundary = 2048;  // mime_boundary_length_limit: boundaries compare on this many bytes
  // LineSplitter's hold: a line's first piece must show a whole boundary
  // (within reason: no line is held beyond 1 MiB, whatever the limit says).
  size_t hold() const { return std::clamp<size_t>(boundary + 64, 4096, size_t{1} << 20); }
};

enum class Error { kNone, kNesting };

// The header block a header line belongs to: the message's own, a multipart
// body part's, or that of an attached message (message/rfc822, digest parts).
enum class Block { kPrimary, kPart, kNested };

// Postfix's wording and status code for a message that cannot be converted.
struct ErrorDetail {
  const char* dsn;
  const char* text;
};
ErrorDetail Describe(Error e);

class LineSink {
 public:
  virtual ~LineSink() = default;
  // One piece of an output line; eol ends the line. header: the line belongs
  // to a message or part header (folded, not broken, when too long).
  virtual void Line(std::string_view text, bool eol, bool header) = 0;
};

class Walker {
 public:
  // downgrade: convert 8bit/binary parts to quoted-printable and report
  // nesting beyond the limit (Postfix's MIME_OPT_DOWNGRADE|REPORT_NESTING).
  Walker(Limits limits, bool downgrade, LineSink* sink) : limits_(limits), downgrade_(downgrade), sink_(sink) {}

  // Pieces as LineSplitter makes them. After an error nothing more goes out.
  Error Feed(std::string_view piece, bool eol);
  Error error() const { return error_; }
  // The block of the header line being passed to the sink now (or last).
  Block block() const { return block_; }

 private:
  enum class Ctype { kOther, kMultipart, kMessage };
  enum class Field { kNone, kOther, kContentType, kEncoding };
  struct Part {
    Ctype ctype = Ctype::kOther;
    bool nested = false;    // message/rfc822 or message/global: a message follows
    bool digest = false;    // multipart/digest: parts default to message/rfc822
    bool eightbit = false;  // Content-Transfer-Encoding 8bit or binary
    std::string boundary;
  };
  struct Frame {
    std::string boundary;  // empty: a nested message (closed by an outer boundary)
    bool digest = false;
  };

  void HeaderPiece(std::string_view piece, bool eol);
  void StartField(std::string_view line);
  void FinishField();
  void EndHeader();
  void BodyPiece(std::string_view piece, bool eol);
  bool Boundary(std::string_view piece, bool eol);
  bool Push(Frame f);
  void Qp(std::string_view piece, bool eol);
  void FlushHeld(bool keep);

  Limits limits_;
  bool downgrade_;
  LineSink* sink_;
  Error error_ = Error::kNone;
  bool in_header_ = true;
  Block block_ = Block::kPrimary;
  bool line_start_ = true;
  bool pass_line_ = false;  // the rest of this line is body text (a long boundary line)
  std::vector<Frame> stack_;
  Part part_;
  Field field_ = Field::kNone;
  std::string value_;  // Content-Type or -Transfer-Encoding value, bounded
  // A Content-Transfer-Encoding header held back while downgrading: it is
  // replaced when it says 8bit or binary.
  std::vector<std::pair<std::string, bool>> held_;
  size_t held_bytes_ = 0;
  bool holding_ = false;
  bool qp_ = false;  // this part's body goes out as quoted-printable
  std::string qp_line_;
};

}  // namespace postern::mime
