// SPDX-License-Identifier: GPL-3.0-or-later
// Streaming G-code reader: turns Marlin / RepRap / Klipper G-code into extruding segments.
// Semantics follow the Marlin and RepRap G-code references (reprap.org/wiki/G-code):
// G90/G91 switch XYZ and E together, M82/M83 switch E alone; G92 sets logical positions;
// G20/G21 inch/mm; G2/G3 arcs in the I/J form and the R form (centre computed as Marlin's
// plan_arc does); G10/G11 without parameters are firmware retraction and never move E.
// Comments (';' and '(...)') and checksums ('*nn') are dropped, never interpreted.
#include <cmath>
#include <cstring>
#include <string>

#include "gcode/gcode_internal.h"
#include "partscreen/error.h"

namespace partscreen {
namespace gcode {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kMaxE = 1.0e12;  // E is cumulative in absolute mode: allow long prints, refuse absurd

// Parses a G-code number at p (sign, digits, optional fraction; no exponent as G-code has none).
// Returns the position after it, or nullptr when there is no number.
inline const char* parse_number(const char* p, const char* end, double& out) {
  bool neg = false;
  if (p < end && (*p == '-' || *p == '+')) {
    neg = (*p == '-');
    ++p;
  }
  double v = 0.0;
  int digits = 0;
  while (p < end && *p >= '0' && *p <= '9') {
    v = v * 10.0 + (*p - '0');
    ++p;
    ++digits;
  }
  if (p < end && *p == '.') {
    ++p;
    double scale = 0.1;
    while (p < end && *p >= '0' && *p <= '9') {
      v += (*p - '0') * scale;
      scale *= 0.1;
      ++p;
      ++digits;
    }
  }
  if (digits == 0) return nullptr;
  out = neg ? -v : v;
  return p;
}

}  // namespace

struct Parser::State {
  std::string name;
  GcodeOptions opt;
  ParseResult result;
  std::string line;  // partial line carried across feed() calls
  bool prev_cr = false;
  bool first_bytes_checked = false;
  char magic[4] = {0, 0, 0, 0};
  size_t magic_have = 0;

  // Machine state (millimetres, logical coordinates).
  double x = 0, y = 0, z = 0, e = 0;
  bool abs_xyz = true, abs_e = true;
  double unit = 1.0;           // G20: 25.4
  double e_scale = 1.0;        // M200 D: volumetric E converted to filament millimetres (1.75 nominal)
  uint32_t chain = 0;
  bool in_chain = false;

  // Pending segment for merging collinear tiny moves.
  bool have_pending = false;
  Segment pending{};
  double pending_len = 0.0;
  double pending_dev = 0.0;

  uint64_t good_lines = 0, bad_lines = 0;
  uint64_t first_bad_line = 0;

  [[noreturn]] void fail(ErrorCode code, const std::string& why) const {
    throw Error(code, name, "line " + std::to_string(result.lines) + ": " + why);
  }

  void check_xyz(double nx, double ny, double nz) const {
    const double cap = opt.max_coordinate_mm;
    if (!(std::fabs(nx) <= cap && std::fabs(ny) <= cap && std::fabs(nz) <= cap))
      fail(ErrorCode::invalid_coordinates,
           "coordinate beyond " + std::to_string(static_cast<long long>(cap)) + " mm (or not a number)");
  }

  void flush_pending() {
    if (!have_pending) return;
    if (result.segments.size() >= opt.max_segments)
      fail(ErrorCode::limit_exceeded,
           "more than " + std::to_string(opt.max_segments) + " extruding segments (max_segments)");
    result.segments.push_back(pending);
    have_pending = false;
  }

  void break_chain() {
    in_chain = false;
  }

  // A straight move from the current position to (nx,ny,nz,ne), all absolute millimetres.
  void line_to(double nx, double ny, double nz, double ne) {
    const double dx = nx - x, dy = ny - y;
    const double len = std::sqrt(dx * dx + dy * dy);
    const double de = ne - e;
    if (de > 1e-9 && len > 1e-6) {
      if (!in_chain) {
        ++chain;
        in_chain = true;
        flush_pending();
      }
      Segment s{static_cast<float>(x), static_cast<float>(y), static_cast<float>(z),
                static_cast<float>(nx), static_cast<float>(ny), static_cast<float>(nz),
                static_cast<float>(de * e_scale / len), chain};
      add_segment(s, len);
    } else if (len > 1e-6 || std::fabs(nz - z) > 1e-6) {
      break_chain();
    }
    x = nx;
    y = ny;
    z = nz;
    e = ne;
  }

  void add_segment(const Segment& s, double len) {
    if (have_pending && pending.chain == s.chain) {
      // Merge when the shared vertex B stays within tolerance of the chord A->C and the flow
      // matches: keeps floods of tiny collinear moves (and fine arcs) from costing memory.
      const double ax = pending.x0, ay = pending.y0, cx = s.x1, cy = s.y1;
      const double bx = pending.x1, by = pending.y1;
      const double ux = cx - ax, uy = cy - ay;
      const double ul = std::sqrt(ux * ux + uy * uy);
      double dev = 1e30;
      if (ul > 1e-9) {
        const double t = ((bx - ax) * ux + (by - ay) * uy) / (ul * ul);
        if (t > 0.0 && t < 1.0) dev = std::fabs((bx - ax) * uy - (by - ay) * ux) / ul;
      }
      const double ratio = s.e_per_mm / std::max(1e-12f, pending.e_per_mm);
      const bool flat = pending.z0 == pending.z1 && s.z0 == s.z1 && pending.z1 == s.z0;
      if (flat && pending_dev + dev <= opt.merge_tolerance_mm && ratio > 0.8 && ratio < 1.25) {
        const double total = pending_len + len;
        pending.e_per_mm = static_cast<float>((pending.e_per_mm * pending_len + s.e_per_mm * len) / total);
        pending.x1 = s.x1;
        pending.y1 = s.y1;
        pending_len = total;
        pending_dev += dev;
        ++result.merged;
        return;
      }
    }
    flush_pending();
    pending = s;
    pending_len = len;
    pending_dev = 0.0;
    have_pending = true;
  }

  void arc_to(bool clockwise, double tx, double ty, double tz, double te, bool has_ij, double i, double j,
              bool has_r, double r) {
    // A travel arc prints nothing, and only where it ends matters: linearising it (up to
    // max_arc_segments moves per line) let a file of full-circle travels cost ~60x the parse time
    // per byte of straight travels, minutes at the file-size limit (bench/results/gcode.md).
    if (!(te - e > 1e-9)) {
      line_to(tx, ty, tz, te);
      return;
    }
    double cx, cy;
    if (has_r) {
      // Marlin plan_arc R form: centre on the perpendicular bisector, negative R = long way.
      const double dx = tx - x, dy = ty - y;
      const double d = std::sqrt(dx * dx + dy * dy);
      if (d < 1e-9) {  // R form cannot describe a full circle
        line_to(tx, ty, tz, te);
        return;
      }
      const double sgn = (clockwise != (r < 0)) ? -1.0 : 1.0;
      const double h2 = (std::fabs(r) - d / 2) * (std::fabs(r) + d / 2);
      const double h = h2 > 0 ? std::sqrt(h2) : 0.0;
      cx = x + dx / 2 + sgn * h * (-dy / d);
      cy = y + dy / 2 + sgn * h * (dx / d);
    } else if (has_ij) {
      cx = x + i;
      cy = y + j;
    } else {
      line_to(tx, ty, tz, te);
      return;
    }
    check_xyz(cx, cy, 0.0);
    const double rad = std::hypot(x - cx, y - cy);
    if (rad < 1e-6) {
      line_to(tx, ty, tz, te);
      return;
    }
    const double a0 = std::atan2(y - cy, x - cx);
    const double a1 = std::atan2(ty - cy, tx - cx);
    double sweep = clockwise ? a0 - a1 : a1 - a0;
    while (sweep <= 1e-9) sweep += 2 * kPi;
    if (std::hypot(tx - x, ty - y) < 1e-9) sweep = 2 * kPi;
    const double tol = std::max(1e-4, opt.arc_tolerance_mm);
    double step = tol < rad ? 2.0 * std::acos(1.0 - tol / rad) : kPi / 2;
    uint32_t n = static_cast<uint32_t>(std::ceil(sweep / std::max(step, 1e-6)));
    n = std::max<uint32_t>(1, std::min<uint32_t>(n, std::max<uint32_t>(1, opt.max_arc_segments)));
    const double x0 = x, y0 = y, z0 = z, e0 = e;
    const double dir = clockwise ? -1.0 : 1.0;
    for (uint32_t k = 1; k < n; ++k) {
      const double f = static_cast<double>(k) / n;
      const double a = a0 + dir * sweep * f;
      line_to(cx + rad * std::cos(a), cy + rad * std::sin(a), z0 + (tz - z0) * f, e0 + (te - e0) * f);
    }
    (void)x0;
    (void)y0;
    line_to(tx, ty, tz, te);
  }

  void process_line(const char* p, const char* end) {
    // Words: letter + number. Stops at ';' or '*' (checksum); skips '(...)' comments.
    double val[26];
    uint32_t have = 0;
    char cmd = 0;
    double cmd_num = 0;
    bool any = false;
    while (p < end) {
      const char c = *p;
      if (c == ' ' || c == '\t' || c == '\r') {
        ++p;
        continue;
      }
      if (c == ';' || c == '*') break;
      if (c == '(') {
        while (p < end && *p != ')') ++p;
        if (p < end) ++p;
        continue;
      }
      char L = c;
      if (L >= 'a' && L <= 'z') L = static_cast<char>(L - 'a' + 'A');
      if (L < 'A' || L > 'Z') {
        if (!any) note_bad();
        return;
      }
      ++p;
      double v = 0;
      const char* q = parse_number(p, end, v);
      if (!q) {
        // A letter followed by letters: a Klipper/RepRap extended command (SET_..., EXCLUDE_OBJECT,
        // M486 labels etc. are ignored); anything else is not G-code.
        if (!any && p < end && ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '_')) {
          ++good_lines;
          return;
        }
        if (!any) {
          note_bad();
          return;
        }
        // Parameter without a value (e.g. "G28 X"): present with value 0.
        v = 0;
        q = p;
      }
      p = q;
      if (!any) {
        any = true;
        cmd = L;
        cmd_num = v;
        if (cmd == 'N') {  // line number: the command follows
          any = false;
        }
        continue;
      }
      const int idx = L - 'A';
      val[idx] = v;
      have |= (1u << idx);
    }
    if (!any) return;
    ++good_lines;
    auto has = [&](char l) { return (have >> (l - 'A')) & 1u; };
    auto get = [&](char l) { return val[l - 'A']; };
    // Command numbers beyond any real one (or NaN) would overflow the cast: no such command.
    const int num = cmd_num >= 0 && cmd_num < 100000 ? static_cast<int>(cmd_num) : -1;
    if (cmd == 'G') {
      if (cmd_num != num) return;  // G29.1 etc.: not a move
      switch (num) {
        case 0:
        case 1:
        case 2:
        case 3: {
          ++result.moves;
          double nx = x, ny = y, nz = z, ne = e;
          if (has('X')) nx = abs_xyz ? get('X') * unit : x + get('X') * unit;
          if (has('Y')) ny = abs_xyz ? get('Y') * unit : y + get('Y') * unit;
          if (has('Z')) nz = abs_xyz ? get('Z') * unit : z + get('Z') * unit;
          if (has('E')) ne = abs_e ? get('E') * unit : e + get('E') * unit;
          check_xyz(nx, ny, nz);
          if (!(std::fabs(ne) <= kMaxE)) fail(ErrorCode::invalid_coordinates, "E beyond 1e12 mm (or not a number)");
          if (num <= 1) {
            line_to(nx, ny, nz, ne);
          } else {
            arc_to(num == 2, nx, ny, nz, ne, has('I') || has('J'), has('I') ? get('I') * unit : 0.0,
                   has('J') ? get('J') * unit : 0.0, has('R'), has('R') ? get('R') * unit : 0.0);
          }
          break;
        }
        case 20: unit = 25.4; break;
        case 21: unit = 1.0; break;
        case 28: {
          const bool all = !has('X') && !has('Y') && !has('Z');
          if (all || has('X')) x = 0;
          if (all || has('Y')) y = 0;
          if (all || has('Z')) z = 0;
          break_chain();
          break;
        }
        case 90: abs_xyz = abs_e = true; break;
        case 91: abs_xyz = abs_e = false; break;
        case 92: {
          const bool all = !has('X') && !has('Y') && !has('Z') && !has('E');
          if (all || has('X')) x = all ? 0 : get('X') * unit;
          if (all || has('Y')) y = all ? 0 : get('Y') * unit;
          if (all || has('Z')) z = all ? 0 : get('Z') * unit;
          if (all || has('E')) e = all ? 0 : get('E') * unit;
          check_xyz(x, y, z);
          if (!(std::fabs(e) <= kMaxE)) fail(ErrorCode::invalid_coordinates, "E beyond 1e12 mm (or not a number)");
          if (has('X') || has('Y') || has('Z') || all) break_chain();
          break;
        }
        default: break;  // G4 dwell, G10/G11 firmware retraction, G29 probing...: no XY/E effect
      }
    } else if (cmd == 'M') {
      switch (num) {
        case 82: abs_e = true; break;
        case 83: abs_e = false; break;
        case 200: {
          // Volumetric E: E counts cubic millimetres. Convert to filament millimetres of a nominal
          // 1.75 mm filament so one calibration covers both modes.
          const double d = has('D') ? get('D') : 0.0;
          const bool on = d > 0.1 && d < 10.0 && !(has('S') && get('S') == 0);
          const double nominal = kPi * 1.75 * 1.75 / 4;
          e_scale = on ? 1.0 / nominal : 1.0;
          break;
        }
        default: break;
      }
    }
  }

  void note_bad() {
    ++bad_lines;
    if (first_bad_line == 0) first_bad_line = result.lines;
    // Garbage is refused early rather than scanned to the end.
    if (bad_lines >= 64 && bad_lines > 4 * good_lines)
      throw Error(ErrorCode::malformed, name,
                  "not G-code: line " + std::to_string(first_bad_line) + " and most others are not commands");
  }

  void end_line() {
    ++result.lines;
    if (line.size()) process_line(line.data(), line.data() + line.size());
    line.clear();
  }
};

Parser::Parser(std::string name, const GcodeOptions& options) : s_(new State) {
  s_->name = std::move(name);
  s_->opt = options;
}

Parser::~Parser() { delete s_; }

void Parser::feed(const char* data, size_t n) {
  State& s = *s_;
  if (s.magic_have < 4) {
    while (s.magic_have < 4 && s.magic_have < s.result.bytes + n) {
      s.magic[s.magic_have] = data[s.magic_have - s.result.bytes];
      ++s.magic_have;
    }
    if (s.magic_have == 4 && std::memcmp(s.magic, "GCDE", 4) == 0)
      throw Error(ErrorCode::unsupported_format, s.name,
                  "binary G-code (.bgcode) is not supported yet: export plain G-code");
  }
  s.result.bytes += n;
  if (s.result.bytes > s.opt.max_file_bytes)
    throw Error(ErrorCode::limit_exceeded, s.name,
                "larger than " + std::to_string(s.opt.max_file_bytes) + " bytes (max_file_bytes)");
  const char* p = data;
  const char* end = data + n;
  while (p < end) {
    // Find the next line terminator; '\r\n', '\n' and a lone '\r' each end one line.
    const char* q = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    if (!q) q = end;
    if (const void* cr = std::memchr(p, '\r', static_cast<size_t>(q - p))) q = static_cast<const char*>(cr);
    if (q < end && *q == '\n' && s.line.empty() && !s.prev_cr && static_cast<size_t>(q - p) <= s.opt.max_line_bytes) {
      // Whole line inside this chunk: parsed in place, not copied.
      ++s.result.lines;
      if (q > p) s.process_line(p, q);
      p = q + 1;
      continue;
    }
    if (q > p) {
      s.prev_cr = false;
      if (s.line.size() + static_cast<size_t>(q - p) > s.opt.max_line_bytes) {
        ++s.result.lines;
        s.fail(ErrorCode::malformed, "longer than " + std::to_string(s.opt.max_line_bytes) + " bytes (max_line_bytes)");
      }
      s.line.append(p, q);
    }
    if (q == end) break;
    if (*q == '\n' && s.prev_cr) {
      s.prev_cr = false;  // second half of "\r\n"
    } else {
      s.prev_cr = (*q == '\r');
      s.end_line();
    }
    p = q + 1;
  }
}

ParseResult Parser::finish() {
  State& s = *s_;
  if (!s.line.empty()) s.end_line();
  s.flush_pending();
  if (s.result.bytes == 0) throw Error(ErrorCode::empty, s.name, "the file is empty");
  if (s.good_lines == 0 || (s.bad_lines > 4 * s.good_lines && s.bad_lines > 0))
    throw Error(ErrorCode::malformed, s.name,
                "not G-code: no commands found" +
                    (s.first_bad_line ? " (line " + std::to_string(s.first_bad_line) + " is not a command)" : ""));
  if (s.result.segments.empty())
    throw Error(ErrorCode::empty, s.name, "no extruding moves: the G-code prints nothing");
  return std::move(s.result);
}

}  // namespace gcode
}  // namespace partscreen
