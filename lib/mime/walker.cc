// mime/walker.cc — the MIME walker's states: header fields, end of a header
// block, boundaries, quoted-printable output; see walker.h.
#include "postern/mime/walker.h"

#include <algorithm>
#include <cctype>

namespace postern::mime {

namespace {

constexpr size_t kHeldMax = 4096;     // a longer Content-Transfer-Encoding header goes out as it is
constexpr size_t kValueSlack = 8192;  // Content-Type bytes kept beyond the boundary limit

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Skips white space and (possibly nested) RFC 822 comments.
void SkipCfws(std::string_view s, size_t* i) {
  int depth = 0;
  while (*i < s.size()) {
    char c = s[*i];
    if (c == '(') {
      ++depth;
    } else if (c == ')' && depth > 0) {
      --depth;
    } else if (c == '\\' && depth > 0 && *i + 1 < s.size()) {
      ++*i;  // a quoted character inside the comment
    } else if (depth == 0 && !IsSpace(c)) {
      return;
    }
    ++*i;
  }
}

// An RFC 2045 token: up to a tspecial or white space.
std::string_view Token(std::string_view s, size_t* i) {
  size_t start = *i;
  static constexpr std::string_view kSpecials = "()<>@,;:\\\"/[]?=";
  while (*i < s.size() && !IsSpace(s[*i]) && kSpecials.find(s[*i]) == std::string_view::npos &&
         static_cast<unsigned char>(s[*i]) > 32)
    ++*i;
  return s.substr(start, *i - start);
}

std::string Quoted(std::string_view s, size_t* i) {
  std::string out;
  for (++*i; *i < s.size() && s[*i] != '"'; ++*i) {
    if (s[*i] == '\\' && *i + 1 < s.size()) ++*i;
    out.push_back(s[*i]);
  }
  if (*i < s.size()) ++*i;
  return out;
}

struct ContentType {
  std::string type, subtype, boundary;
};

ContentType ParseContentType(std::string_view v) {
  ContentType ct;
  size_t i = 0;
  SkipCfws(v, &i);
  ct.type = Lower(Token(v, &i));
  SkipCfws(v, &i);
  if (i < v.size() && v[i] == '/') {
    ++i;
    SkipCfws(v, &i);
    ct.subtype = Lower(Token(v, &i));
  }
  while (i < v.size()) {
    SkipCfws(v, &i);
    if (i >= v.size() || v[i] != ';') {
      if (i < v.size()) ++i;  // junk: look for the next parameter
      continue;
    }
    ++i;
    SkipCfws(v, &i);
    std::string name = Lower(Token(v, &i));
    SkipCfws(v, &i);
    if (i >= v.size() || v[i] != '=') continue;
    ++i;
    SkipCfws(v, &i);
    std::string value = i < v.size() && v[i] == '"' ? Quoted(v, &i) : std::string(Token(v, &i));
    if (name == "boundary" && ct.boundary.empty()) ct.boundary = std::move(value);
  }
  return ct;
}

// Length of "Name:" (with the colon) when the line starts a header field, else 0.
size_t FieldNameEnd(std::string_view line) {
  size_t i = 0;
  while (i < line.size() && line[i] != ':' && static_cast<unsigned char>(line[i]) > 32 &&
         static_cast<unsigned char>(line[i]) < 127)
    ++i;
  size_t name_len = i;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  if (name_len == 0 || i >= line.size() || line[i] != ':') return 0;
  return i + 1;
}

}  // namespace

ErrorDetail Describe(Error e) {
  switch (e) {
    case Error::kNesting:
      return {"5.6.0", "MIME nesting exceeds safety limit"};
    case Error::kNone:
      break;
  }
  return {"2.0.0", ""};
}

Error Walker::Feed(std::string_view piece, bool eol) {
  if (error_ != Error::kNone) return error_;
  if (pass_line_) {
    sink_->Line(piece, eol, false);
  } else if (in_header_) {
    HeaderPiece(piece, eol);
  } else {
    BodyPiece(piece, eol);
  }
  line_start_ = eol;
  if (eol) pass_line_ = false;
  return error_;
}

void Walker::HeaderPiece(std::string_view piece, bool eol) {
  if (line_start_) {
    if (piece.empty() && eol) {  // the empty line that ends the header block
      EndHeader();
      if (error_ == Error::kNone) sink_->Line(piece, eol, false);
      return;
    }
    if (piece[0] != ' ' && piece[0] != '\t') {
      FinishField();
      if (FieldNameEnd(piece) == 0) {
        // Not a header line: the body starts here, without the empty line.
        EndHeader();
        if (error_ == Error::kNone) {
          if (in_header_) return HeaderPiece(piece, eol);  // a nested message's header
          BodyPiece(piece, eol);
        }
        return;
      }
      StartField(piece);
    } else if (field_ == Field::kNone) {
      // A continuation with no field before it: body text, as in Postfix.
      EndHeader();
      if (error_ == Error::kNone && !in_header_) BodyPiece(piece, eol);
      return;
    } else if (field_ != Field::kOther && value_.size() < limits_.boundary + kValueSlack) {
      value_.append(piece.substr(0, limits_.boundary + kValueSlack - value_.size()));
    }
  } else if (field_ == Field::kNone) {
    return sink_->Line(piece, eol, false);
  } else if (field_ != Field::kOther && value_.size() < limits_.boundary + kValueSlack) {
    value_.append(piece.substr(0, limits_.boundary + kValueSlack - value_.size()));
  }
  if (!holding_) return sink_->Line(piece, eol, true);
  held_.emplace_back(std::string(piece), eol);
  held_bytes_ += piece.size();
  if (held_bytes_ > kHeldMax) FlushHeld(true);
}

void Walker::StartField(std::string_view line) {
  size_t end = FieldNameEnd(line);
  std::string name = Lower(line.substr(0, end - 1));
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();
  field_ = name == "content-type"                ? Field::kContentType
           : name == "content-transfer-encoding" ? Field::kEncoding
                                                 : Field::kOther;
  value_.clear();
  if (field_ != Field::kOther) value_.assign(line.substr(end, limits_.boundary + kValueSlack));
  holding_ = downgrade_ && field_ == Field::kEncoding;
}

void Walker::FinishField() {
  if (field_ == Field::kContentType) {
    ContentType ct = ParseContentType(value_);
    part_.ctype = ct.type == "multipart" ? Ctype::kMultipart
                  : ct.type == "message" ? Ctype::kMessage
                                         : Ctype::kOther;
    part_.nested = part_.ctype == Ctype::kMessage && (ct.subtype == "rfc822" || ct.subtype == "global");
    part_.digest = part_.ctype == Ctype::kMultipart && ct.subtype == "digest";
    part_.boundary = ct.boundary.substr(0, limits_.boundary);
  } else if (field_ == Field::kEncoding) {
    size_t i = 0;
    SkipCfws(value_, &i);
    std::string enc = Lower(Token(value_, &i));
    part_.eightbit = enc == "8bit" || enc == "binary";
    if (holding_) FlushHeld(!part_.eightbit);
  }
  field_ = Field::kNone;
  value_.clear();
}

void Walker::FlushHeld(bool keep) {
  if (keep) {
    for (const auto& [text, eol] : held_) sink_->Line(text, eol, true);
  }
  held_.clear();
  held_bytes_ = 0;
  holding_ = false;
}

void Walker::EndHeader() {
  FinishField();
  bool container = part_.ctype != Ctype::kOther;
  if (downgrade_ && part_.eightbit) {
    // Postfix's labels: the parts inside a container are converted one by one.
    sink_->Line(container ? "Content-Transfer-Encoding: 7bit" : "Content-Transfer-Encoding: quoted-printable",
                true, true);
  }
  qp_ = downgrade_ && part_.eightbit && !container;
  in_header_ = false;
  if (part_.ctype == Ctype::kMultipart && !part_.boundary.empty()) {
    Push(Frame{part_.boundary, part_.digest});
  } else if (part_.nested && Push(Frame{})) {
    in_header_ = true;  // the nested message's own header
    block_ = Block::kNested;
    part_ = Part{};
  }
}

bool Walker::Push(Frame f) {
  if (stack_.size() >= limits_.nesting) {
    // Deeper levels are sent as plain body text unless a conversion needs them.
    if (downgrade_) error_ = Error::kNesting;
    return false;
  }
  stack_.push_back(std::move(f));
  return true;
}

void Walker::BodyPiece(std::string_view piece, bool eol) {
  if (line_start_ && Boundary(piece, eol)) return;
  if (qp_) return Qp(piece, eol);
  sink_->Line(piece, eol, false);
}

// A "--boundary" line of an open multipart: ends the part being sent and
// starts the next one's header, or ("--boundary--") closes that multipart.
bool Walker::Boundary(std::string_view piece, bool eol) {
  if (piece.size() < 2 || piece[0] != '-' || piece[1] != '-' || stack_.empty()) return false;
  std::string_view rest = piece.substr(2);
  for (size_t i = stack_.size(); i-- > 0;) {
    const std::string& b = stack_[i].boundary;
    if (b.empty() || rest.substr(0, b.size()) != b) continue;
    bool close = rest.substr(b.size(), 2) == "--";
    bool digest = stack_[i].digest;
    stack_.resize(close ? i : i + 1);
    sink_->Line(piece, eol, false);
    pass_line_ = !eol;
    qp_ = false;
    part_ = Part{};
    in_header_ = !close;
    block_ = Block::kPart;
    if (!close && digest) {
      part_.ctype = Ctype::kMessage;
      part_.nested = true;
    }
    return true;
  }
  return false;
}

// Postfix's conversion: a soft break keeps lines under 76 octets, and white
// space at the end of a line is encoded.
void Walker::Qp(std::string_view piece, bool eol) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  auto encode = [this](unsigned char c) {
    qp_line_.push_back('=');
    qp_line_.push_back(kHex[c >> 4]);
    qp_line_.push_back(kHex[c & 15]);
  };
  for (char ch : piece) {
    if (qp_line_.size() > 72) {
      qp_line_.push_back('=');
      sink_->Line(qp_line_, true, false);
      qp_line_.clear();
    }
    auto c = static_cast<unsigned char>(ch);
    if ((c < 32 && c != '\t') || c == '=' || c > 126) {
      encode(c);
    } else {
      qp_line_.push_back(ch);
    }
  }
  if (!eol) return;
  if (!qp_line_.empty() && (qp_line_.back() == ' ' || qp_line_.back() == '\t')) {
    auto c = static_cast<unsigned char>(qp_line_.back());
    qp_line_.pop_back();
    encode(c);
  }
  sink_->Line(qp_line_, true, false);
  qp_line_.clear();
}

}  // namespace postern::mime
