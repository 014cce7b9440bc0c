// SPDX-License-Identifier: GPL-3.0-or-later
// STL reader, binary and ASCII, welding while it parses.
//
// Format: the de-facto STL specification (3D Systems, "StereoLithography Interface Specification",
// 1989): binary = 80-byte header, uint32 count, 50-byte records (normal, 3 vertices, uint16
// attribute), little endian; ASCII = solid / facet normal / outer loop / vertex x3 / endloop /
// endfacet / endsolid. Normals are ignored: many exporters write zeros or garbage, and the
// vertex order is what defines orientation.
//
// Welding follows clean_mesh() exactly (bit-identical positions, -0 == +0, first-seen order,
// degenerate = repeated vertex or zero float cross product) so read_stl_*() == clean_mesh() of
// the triangle soup; tests check that. Doing it while parsing means a 100 MB file never exists as
// a 3-vertices-per-triangle soup: the file is streamed in ~800 KB chunks and the only large
// allocations are the output mesh and a 4-byte-per-slot hash table.
//
// Speed: the weld is an open-addressing table (linear probing) of vertex ids; for a batch of
// triangles all slot addresses are computed and prefetched before any probe, so the random
// accesses into a table bigger than the caches overlap instead of stalling one after another.
#include "io/stl.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "partscreen/error.h"

namespace partscreen::detail {
namespace {

constexpr size_t kRecordBytes = 50;
constexpr size_t kHeaderBytes = 84;
constexpr size_t kChunkTriangles = 16384;  // 819,200 bytes per read
constexpr size_t kBatchTriangles = 128;    // welded together (prefetch window)
constexpr size_t kMaxToken = 256;          // longest ASCII token accepted ("-1.234...e+05" needs < 40)
constexpr size_t kMaxNameTokens = 256;     // words after "solid"/"endsolid" before we call it garbage
constexpr uint32_t kEmpty = UINT32_MAX;

std::string num(uint64_t v) { return std::to_string(v); }

std::string fmt_double(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

inline uint32_t load_u32le(const unsigned char* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

// Float bits with -0 folded into +0, so both weld together and the stored position is +0.
inline uint32_t key_bits(uint32_t u) { return (u << 1) == 0 ? 0u : u; }

inline uint64_t hash3(uint32_t x, uint32_t y, uint32_t z) {
  uint64_t h = uint64_t(x) * 0x9E3779B97F4A7C15ull ^ uint64_t(y) * 0xC2B2AE3D27D4EB4Full ^
               (uint64_t(z) * 0x165667B19E3779F9ull);
  h ^= h >> 31;
  return h * 0xBF58476D1CE4E5B9ull;  // high bits are used: shift, not mask
}

// Same arithmetic as clean_mesh(): degenerate when the float cross product is exactly zero.
inline float tri_area2(const float* A, const float* B, const float* C) {
  float ux = B[0] - A[0], uy = B[1] - A[1], uz = B[2] - A[2];
  float vx = C[0] - A[0], vy = C[1] - A[1], vz = C[2] - A[2];
  float cx = uy * vz - uz * vy, cy = uz * vx - ux * vz, cz = ux * vy - uy * vx;
  return cx * cx + cy * cy + cz * cz;
}

// Welds triangles (9 floats each) into `mesh` as they arrive.
class Welder {
public:
  Welder(const std::string& name, const LoadOptions& options, Mesh& mesh, uint64_t expected_triangles)
      : name_(name), options_(options), mesh_(mesh) {
    uint64_t est_vertices = expected_triangles / 2 + expected_triangles / 16 + 64;  // closed meshes: V ~ T/2
    size_t cap = 64;
    while (cap * 7 / 10 < est_vertices) cap <<= 1;
    set_table(cap);
    mesh_.positions.assign(size_t(est_vertices) * 3, 0.f);
    mesh_.indices.clear();
    mesh_.indices.reserve(size_t(std::min<uint64_t>(expected_triangles, options.max_triangles)) * 3);
  }

  // Adds n <= kBatchTriangles triangles; `first` is the 0-based number of the first in the file
  // (for messages).
  void add(const uint32_t* bits, size_t n, uint64_t first) {
    check_coordinates(bits, n, first);
    const size_t nv = 3 * n;
    reserve(nv);
    uint32_t keys[kBatchTriangles * 9];
    size_t slots[kBatchTriangles * 3];
    for (size_t i = 0; i < nv; ++i) {
      uint32_t x = key_bits(bits[3 * i]), y = key_bits(bits[3 * i + 1]), z = key_bits(bits[3 * i + 2]);
      keys[3 * i] = x;
      keys[3 * i + 1] = y;
      keys[3 * i + 2] = z;
      slots[i] = size_t(hash3(x, y, z) >> shift_);
      __builtin_prefetch(table_.data() + slots[i]);
    }
    uint32_t ids[kBatchTriangles * 3];
    float* pos = mesh_.positions.data();
    uint32_t* table = table_.data();
    for (size_t i = 0; i < nv; ++i) {
      const uint32_t* k = keys + 3 * i;
      size_t s = slots[i];
      for (;;) {
        uint32_t id = table[s];
        if (id == kEmpty) {
          table[s] = count_;
          std::memcpy(pos + 3 * size_t(count_), k, 12);
          ids[i] = count_++;
          break;
        }
        if (std::memcmp(pos + 3 * size_t(id), k, 12) == 0) {
          ids[i] = id;
          break;
        }
        s = (s + 1) & mask_;
      }
    }
    input_vertices_ += nv;
    auto& out = mesh_.indices;
    for (size_t t = 0; t < n; ++t) {
      uint32_t a = ids[3 * t], b = ids[3 * t + 1], c = ids[3 * t + 2];
      if (a == b || b == c || a == c || tri_area2(pos + 3 * size_t(a), pos + 3 * size_t(b), pos + 3 * size_t(c)) == 0.f) {
        ++degenerate_;
        continue;
      }
      out.push_back(a);
      out.push_back(b);
      out.push_back(c);
    }
  }

  CleanStats finish() {
    std::vector<uint32_t>().swap(table_);
    mesh_.positions.resize(size_t(count_) * 3);
    // Return a badly over-estimated reserve (triangle soups) once the table is gone, so the peak
    // stays within the table's footprint.
    if (mesh_.positions.capacity() > mesh_.positions.size() + mesh_.positions.size() / 4 + 1024)
      mesh_.positions.shrink_to_fit();
    CleanStats stats;
    stats.input_vertices = input_vertices_;
    stats.welded_vertices = count_;
    stats.degenerate_triangles = degenerate_;
    return stats;
  }

private:
  void check_coordinates(const uint32_t* bits, size_t n, uint64_t first) const {
    const double cap = options_.max_coordinate_mm;
    bool bad = false;
    for (size_t i = 0; i < 9 * n; ++i) {
      float f;
      std::memcpy(&f, bits + i, 4);
      bad |= !(std::fabs(double(f)) <= cap);
    }
    if (!bad) return;
    for (size_t i = 0; i < 9 * n; ++i) {
      float f;
      std::memcpy(&f, bits + i, 4);
      if (std::fabs(double(f)) <= cap) continue;
      const std::string where = "triangle " + num(first + i / 9 + 1);
      if (!std::isfinite(f))
        throw Error(ErrorCode::invalid_coordinates, name_,
                    where + " has a NaN or infinite coordinate; the exporter wrote invalid numbers, re-export the part");
      throw Error(ErrorCode::invalid_coordinates, name_,
                  where + " has coordinate " + fmt_double(f) + " mm, beyond the limit of " + fmt_double(cap) +
                      " mm (LoadOptions::max_coordinate_mm); check the export units and scale");
    }
  }

  void set_table(size_t cap) {
    table_.assign(cap, kEmpty);
    mask_ = cap - 1;
    unsigned bits = 0;
    while ((size_t(1) << bits) < cap) ++bits;
    shift_ = 64 - bits;
    limit_ = cap * 7 / 10;
  }

  // Makes room for `extra` more vertices in both the table and positions (no reallocation
  // happens during a batch, so raw pointers stay valid).
  void reserve(size_t extra) {
    const size_t need = size_t(count_) + extra;
    if (need > limit_) {
      size_t cap = table_.size();
      while (cap * 7 / 10 < need) cap <<= 1;
      set_table(cap);
      const float* pos = mesh_.positions.data();
      for (uint32_t v = 0; v < count_; ++v) {
        uint32_t k[3];
        std::memcpy(k, pos + 3 * size_t(v), 12);
        size_t s = size_t(hash3(k[0], k[1], k[2]) >> shift_);
        while (table_[s] != kEmpty) s = (s + 1) & mask_;
        table_[s] = v;
      }
    }
    if (need * 3 > mesh_.positions.size())
      mesh_.positions.resize(std::max(need * 3, mesh_.positions.size() * 2));
  }

  const std::string& name_;
  const LoadOptions& options_;
  Mesh& mesh_;
  std::vector<uint32_t> table_;
  size_t mask_ = 0, limit_ = 0;
  unsigned shift_ = 0;
  uint32_t count_ = 0;
  uint64_t input_vertices_ = 0, degenerate_ = 0;
};

// Output indices are uint32; vertices <= 3 * triangles must stay below UINT32_MAX.
constexpr uint64_t kMaxTrianglesIndexable = (uint64_t(UINT32_MAX) - 1) / 3;

void check_triangle_limit(const std::string& name, uint64_t triangles, const LoadOptions& options, bool header) {
  const uint64_t limit = std::min<uint64_t>(options.max_triangles, kMaxTrianglesIndexable);
  if (triangles <= limit) return;
  throw Error(ErrorCode::limit_exceeded, name,
              std::string(header ? "header says " + num(triangles) + " triangles" : "more than " + num(limit) + " triangles") +
                  ", over the limit of " + num(limit) +
                  " (LoadOptions::max_triangles); raise the limit or simplify the mesh");
}

[[noreturn]] void throw_truncated(const std::string& name, uint32_t count, uint64_t size) {
  const uint64_t room = size >= kHeaderBytes ? (size - kHeaderBytes) / kRecordBytes : 0;
  throw Error(ErrorCode::malformed, name,
              "truncated binary STL: header says " + num(count) + " triangles, file holds room for " + num(room) +
                  " (" + num(size) + " bytes; expected " + num(kHeaderBytes + uint64_t(kRecordBytes) * count) +
                  "); the file was cut short or is not an STL, re-export or re-download it");
}

// Records -> welder, kBatchTriangles at a time.
void weld_records(Welder& welder, const unsigned char* rec, size_t n, uint64_t first) {
  uint32_t bits[kBatchTriangles * 9];
  for (size_t done = 0; done < n;) {
    const size_t m = std::min(kBatchTriangles, n - done);
    for (size_t t = 0; t < m; ++t) {
      const unsigned char* r = rec + (done + t) * kRecordBytes + 12;  // skip the normal
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
      std::memcpy(bits + 9 * t, r, 36);
#else
      for (int k = 0; k < 9; ++k) bits[9 * t + k] = load_u32le(r + 4 * k);
#endif
    }
    welder.add(bits, m, first + done);
    done += m;
  }
}

// ---------------------------------------------------------------------------------------------
// ASCII

// Feeds the ASCII parser: either one span (bytes in memory) or chunks read from a file.
class ChunkSource {
public:
  ChunkSource(const unsigned char* data, size_t size) : data_(data), size_(size) {}
  ChunkSource(int fd, const std::string& name) : fd_(fd), name_(&name), buffer_(kChunkTriangles * kRecordBytes) {}
  // Next span of bytes; false at end of input.
  bool next(const unsigned char*& p, size_t& n) {
    if (fd_ < 0) {
      if (done_) return false;
      done_ = true;
      p = data_;
      n = size_;
      return size_ > 0;
    }
    ssize_t got;
    do got = ::read(fd_, buffer_.data(), buffer_.size());
    while (got < 0 && errno == EINTR);
    if (got < 0) throw Error(ErrorCode::io, *name_, std::string("read failed: ") + std::strerror(errno));
    p = buffer_.data();
    n = size_t(got);
    return got > 0;
  }

private:
  const unsigned char* data_ = nullptr;
  size_t size_ = 0;
  bool done_ = false;
  int fd_ = -1;
  const std::string* name_ = nullptr;
  std::vector<unsigned char> buffer_;
};

inline bool is_space(unsigned char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == '\v'; }

bool iequals(std::string_view a, const char* b) {
  size_t n = std::strlen(b);
  if (a.size() != n) return false;
  for (size_t i = 0; i < n; ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
  return true;
}

class Tokenizer {
public:
  Tokenizer(ChunkSource& src, const std::string& name) : src_(src), name_(name) {}

  // Next whitespace-separated token (valid until the next call); false at end of input.
  bool next(std::string_view& tok) {
    carry_.clear();
    for (;;) {
      if (pos_ == end_ && !refill()) {
        if (carry_.empty()) return false;
        tok = std::string_view(carry_.data(), carry_.size());
        return true;
      }
      if (carry_.empty()) {
        while (pos_ < end_ && is_space(*pos_)) {
          if (*pos_ == '\n') ++line_;
          ++pos_;
        }
        if (pos_ == end_) continue;
      }
      const unsigned char* start = pos_;
      while (pos_ < end_ && !is_space(*pos_)) {
        if (*pos_ < 0x20 || *pos_ == 0x7f)
          fail("binary data (byte " + num(*pos_) + ") in an ASCII STL");
        ++pos_;
      }
      const size_t len = size_t(pos_ - start);
      if (carry_.size() + len > kMaxToken) fail("a word longer than " + num(kMaxToken) + " bytes: not an ASCII STL");
      if (pos_ < end_) {  // token ends inside this span
        if (carry_.empty()) {
          tok = std::string_view(reinterpret_cast<const char*>(start), len);
        } else {
          carry_.append(reinterpret_cast<const char*>(start), len);
          tok = std::string_view(carry_.data(), carry_.size());
        }
        return true;
      }
      carry_.append(reinterpret_cast<const char*>(start), len);  // continues in the next span
    }
  }

  uint64_t line() const { return line_; }

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(ErrorCode::malformed, name_, "line " + num(line_) + ": " + what);
  }

private:
  bool refill() {
    const unsigned char* p;
    size_t n;
    if (!src_.next(p, n)) return false;
    pos_ = p;
    end_ = p + n;
    return true;
  }

  ChunkSource& src_;
  const std::string& name_;
  const unsigned char* pos_ = nullptr;
  const unsigned char* end_ = nullptr;
  std::string carry_;
  uint64_t line_ = 1;
};

class AsciiParser {
public:
  AsciiParser(Tokenizer& tok, Welder& welder, const std::string& name, const LoadOptions& options)
      : tok_(tok), welder_(welder), name_(name), options_(options) {}

  void run() {
    std::string_view t;
    bool have = tok_.next(t);
    if (have && t.substr(0, 3) == "\xEF\xBB\xBF") {  // UTF-8 byte order mark
      t.remove_prefix(3);
      if (t.empty()) have = tok_.next(t);
    }
    if (!have || !iequals(t, "solid")) tok_.fail("expected 'solid'");
    for (;;) {
      // Solid name: words up to the first facet/endsolid (also copes with one-line files).
      bool have = skip_name(t, "facet", "endsolid");
      while (have && iequals(t, "facet")) {
        facet();
        have = tok_.next(t);
      }
      if (!have) break;  // tolerated: last solid without 'endsolid'
      if (!iequals(t, "endsolid")) tok_.fail("expected 'facet' or 'endsolid', found '" + printable(t) + "'");
      if (!skip_name(t, "solid", nullptr)) break;
      // skip_name stopped at "solid": another solid follows (several solids in one file).
    }
    flush();
  }

  uint64_t triangles() const { return triangles_; }

private:
  // Skips words until one equals stop1/stop2 (returned in t) or the input ends (false).
  bool skip_name(std::string_view& t, const char* stop1, const char* stop2) {
    for (size_t i = 0; i <= kMaxNameTokens; ++i) {
      if (!tok_.next(t)) return false;
      if (iequals(t, stop1) || (stop2 && iequals(t, stop2))) return true;
    }
    tok_.fail("expected '" + std::string(stop1) + "' after a solid's name");
  }

  void expect(const char* word) {
    std::string_view t;
    if (!tok_.next(t)) tok_.fail(std::string("file ends where '") + word + "' was expected (truncated?)");
    if (!iequals(t, word)) tok_.fail(std::string("expected '") + word + "', found '" + printable(t) + "'");
  }

  float number() {
    std::string_view t;
    if (!tok_.next(t)) tok_.fail("file ends inside a vertex (truncated?)");
    const char* b = t.data();
    const char* e = b + t.size();
    if (b < e && *b == '+') ++b;
    float v = 0.f;
    auto r = std::from_chars(b, e, v);
    if (r.ec == std::errc::result_out_of_range)
      throw Error(ErrorCode::invalid_coordinates, name_,
                  "line " + num(tok_.line()) + ": coordinate '" + printable(t) +
                      "' is out of range; check the export units and scale");
    if (r.ec != std::errc() || r.ptr != e || b == e) tok_.fail("bad number '" + printable(t) + "'");
    return v;
  }

  void facet() {
    std::string_view t;
    if (!tok_.next(t)) tok_.fail("file ends inside a facet (truncated?)");
    if (iequals(t, "normal")) {
      for (int i = 0; i < 3; ++i)
        if (!tok_.next(t)) tok_.fail("file ends inside a facet normal (truncated?)");
      if (!tok_.next(t)) tok_.fail("file ends inside a facet (truncated?)");
    }
    if (!iequals(t, "outer")) tok_.fail("expected 'outer loop', found '" + printable(t) + "'");
    expect("loop");
    // A loop normally has 3 vertices; more are fan-triangulated (some writers emit quads).
    uint32_t first[3], prev[3];
    size_t count = 0;
    for (;;) {
      if (!tok_.next(t)) tok_.fail("file ends inside a facet (truncated?)");
      if (!iequals(t, "vertex")) break;
      uint32_t v[3];
      for (int k = 0; k < 3; ++k) {
        float f = number();
        std::memcpy(&v[k], &f, 4);
      }
      if (count == 0) std::copy(v, v + 3, first);
      if (count >= 2) emit(first, prev, v);
      std::copy(v, v + 3, prev);
      ++count;
    }
    if (!iequals(t, "endloop")) tok_.fail("expected 'vertex' or 'endloop', found '" + printable(t) + "'");
    if (count < 3) tok_.fail("a facet with " + num(count) + " vertices (3 needed)");
    expect("endfacet");
  }

  void emit(const uint32_t* a, const uint32_t* b, const uint32_t* c) {
    uint32_t* dst = batch_ + 9 * in_batch_;
    std::copy(a, a + 3, dst);
    std::copy(b, b + 3, dst + 3);
    std::copy(c, c + 3, dst + 6);
    ++triangles_;
    check_triangle_limit(name_, triangles_, options_, false);
    if (++in_batch_ == kBatchTriangles) flush();
  }

  void flush() {
    if (in_batch_ == 0) return;
    welder_.add(batch_, in_batch_, triangles_ - in_batch_);
    in_batch_ = 0;
  }

  static std::string printable(std::string_view t) {
    std::string s(t.substr(0, 40));
    for (char& c : s)
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    return t.size() > 40 ? s + "..." : s;
  }

  Tokenizer& tok_;
  Welder& welder_;
  const std::string& name_;
  const LoadOptions& options_;
  uint32_t batch_[kBatchTriangles * 9];
  size_t in_batch_ = 0;
  uint64_t triangles_ = 0;
};

// "solid" (any case) after an optional UTF-8 BOM and whitespace, followed by whitespace or the end.
bool looks_ascii(const unsigned char* head, size_t n) {
  size_t i = 0;
  if (n >= 3 && head[0] == 0xEF && head[1] == 0xBB && head[2] == 0xBF) i = 3;
  while (i < n && is_space(head[i])) ++i;
  if (n - i < 5) return false;
  if (!iequals(std::string_view(reinterpret_cast<const char*>(head + i), 5), "solid")) return false;
  return i + 5 == n || is_space(head[i + 5]);
}

enum class Kind { binary, ascii };

// Decides binary/ASCII from the first bytes, or throws. `head` holds min(size, 84) bytes... or
// more for the ASCII check.
Kind classify(const std::string& name, const unsigned char* head, size_t head_bytes, uint64_t size,
              const LoadOptions& options) {
  if (size == 0) throw Error(ErrorCode::empty, name, "the file is empty (0 bytes)");
  if (size > options.max_file_bytes)
    throw Error(ErrorCode::limit_exceeded, name,
                "file is " + num(size) + " bytes, over the limit of " + num(options.max_file_bytes) +
                    " (LoadOptions::max_file_bytes)");
  if (is_binary_stl(head, head_bytes, size)) return Kind::binary;
  if (looks_ascii(head, head_bytes)) return Kind::ascii;
  if (size < kHeaderBytes)
    throw Error(ErrorCode::malformed, name,
                "not an STL: " + num(size) +
                    " bytes is too short for a binary STL (84-byte header) and it does not start with 'solid'");
  throw_truncated(name, load_u32le(head + 80), size);
}

Mesh finish(const std::string& name, Welder& welder, Mesh& mesh, uint64_t triangles, CleanStats* stats) {
  CleanStats s = welder.finish();
  if (stats) *stats = s;
  if (triangles == 0) throw Error(ErrorCode::empty, name, "the STL holds no triangles");
  if (mesh.indices.empty())
    throw Error(ErrorCode::empty, name,
                "all " + num(triangles) + " triangles are degenerate (zero area); nothing is left to screen");
  return std::move(mesh);
}

// Adds the binary-with-"solid"-header hint to ASCII parse errors.
[[noreturn]] void rethrow_ascii(const Error& e, const unsigned char* head, size_t head_bytes, uint64_t size) {
  if (e.code() != ErrorCode::malformed || head_bytes < kHeaderBytes) throw e;
  throw Error(e.code(), e.file(),
              e.reason() + " (if this is a binary STL whose header starts with 'solid', it is truncated: header says " +
                  num(load_u32le(head + 80)) + " triangles, file holds room for " +
                  num((size - kHeaderBytes) / kRecordBytes) + ")");
}

Mesh parse_ascii(const std::string& name, ChunkSource& src, uint64_t size, const unsigned char* head,
                 size_t head_bytes, const LoadOptions& options, CleanStats* stats) {
  Mesh mesh;
  // ~250 bytes per facet in typical exporters; the estimate only sizes the first allocation.
  Welder welder(name, options, mesh, std::min<uint64_t>(size / 256, options.max_triangles));
  Tokenizer tok(src, name);
  AsciiParser parser(tok, welder, name, options);
  try {
    parser.run();
  } catch (const Error& e) {
    rethrow_ascii(e, head, head_bytes, size);
  }
  return finish(name, welder, mesh, parser.triangles(), stats);
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Reads exactly n bytes unless the file ends first; returns the count read.
size_t read_full(int fd, unsigned char* dst, size_t n, const std::string& name) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, dst + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw Error(ErrorCode::io, name, std::string("read failed: ") + std::strerror(errno));
    if (r == 0) break;
    got += size_t(r);
  }
  return got;
}

}  // namespace

bool is_binary_stl(const unsigned char* head, size_t head_bytes, uint64_t file_bytes) {
  if (head_bytes < kHeaderBytes || file_bytes < kHeaderBytes) return false;
  return kHeaderBytes + uint64_t(kRecordBytes) * load_u32le(head + 80) == file_bytes;
}

Mesh read_stl_bytes(const std::string& name, const unsigned char* data, size_t size, const LoadOptions& options,
                    CleanStats* stats) {
  if (stats) *stats = CleanStats{};
  const size_t head_bytes = std::min<size_t>(size, kHeaderBytes);
  const Kind kind = classify(name, data, head_bytes, size, options);
  if (kind == Kind::ascii) {
    ChunkSource src(data, size);
    return parse_ascii(name, src, size, data, head_bytes, options, stats);
  }
  const uint32_t count = load_u32le(data + 80);
  check_triangle_limit(name, count, options, true);
  Mesh mesh;
  Welder welder(name, options, mesh, count);
  const unsigned char* rec = data + kHeaderBytes;
  for (uint64_t done = 0; done < count;) {
    const size_t n = size_t(std::min<uint64_t>(kChunkTriangles, count - done));
    weld_records(welder, rec + done * kRecordBytes, n, done);
    done += n;
  }
  return finish(name, welder, mesh, count, stats);
}

Mesh read_stl_file(const std::string& path, const LoadOptions& options, CleanStats* stats) {
  if (stats) *stats = CleanStats{};
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) {
    const int err = errno;
    throw Error(ErrorCode::io, path,
                std::string("cannot open: ") + std::strerror(err) +
                    (err == ENOENT ? " (check the path)" : err == EACCES ? " (check the file's permissions)" : ""));
  }
  struct stat st;
  if (::fstat(f.fd, &st) != 0) throw Error(ErrorCode::io, path, std::string("cannot stat: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw Error(ErrorCode::io, path, "not a regular file");
  const uint64_t size = uint64_t(st.st_size);
  // Size limit before reading a single byte.
  if (size > options.max_file_bytes) classify(path, nullptr, 0, size, options);
#ifdef POSIX_FADV_SEQUENTIAL
  ::posix_fadvise(f.fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
  unsigned char head[kHeaderBytes];
  const size_t head_bytes = read_full(f.fd, head, std::min<uint64_t>(size, kHeaderBytes), path);
  if (head_bytes < std::min<uint64_t>(size, kHeaderBytes))
    throw Error(ErrorCode::io, path, "file shrank while being read");
  const Kind kind = classify(path, head, head_bytes, size, options);
  if (kind == Kind::ascii) {
    if (::lseek(f.fd, 0, SEEK_SET) != 0) throw Error(ErrorCode::io, path, std::string("cannot seek: ") + std::strerror(errno));
    ChunkSource src(f.fd, path);
    return parse_ascii(path, src, size, head, head_bytes, options, stats);
  }
  const uint32_t count = load_u32le(head + 80);
  check_triangle_limit(path, count, options, true);
  Mesh mesh;
  Welder welder(path, options, mesh, count);
  std::vector<unsigned char> buffer(std::min<uint64_t>(kChunkTriangles, std::max<uint32_t>(count, 1)) * kRecordBytes);
  for (uint64_t done = 0; done < count;) {
    const size_t n = size_t(std::min<uint64_t>(kChunkTriangles, count - done));
    if (read_full(f.fd, buffer.data(), n * kRecordBytes, path) != n * kRecordBytes)
      throw Error(ErrorCode::io, path, "file shrank while being read (another program is writing it?)");
    weld_records(welder, buffer.data(), n, done);
    done += n;
  }
  return finish(path, welder, mesh, count, stats);
}

}  // namespace partscreen::detail
