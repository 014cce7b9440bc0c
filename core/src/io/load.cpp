// SPDX-License-Identifier: GPL-3.0-or-later
// Format detection and the one load path every file takes: limits before reading, a reader per
// format, then coordinates check, clean-up, components and the caps that need them.
// Detection trusts content over the name: uploads are routinely misnamed (".stl" that is OBJ,
// binary STL whose header starts with "solid"), so the extension only breaks ties.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "io/readers.h"
#include "partscreen/gcode.h"
#include "io/stl.h"
#include "partscreen/error.h"
#include "partscreen/io.h"

namespace partscreen {

const char* format_name(FileFormat format) {
  switch (format) {
    case FileFormat::unknown: return "unknown";
    case FileFormat::stl_binary: return "stl_binary";
    case FileFormat::stl_ascii: return "stl_ascii";
    case FileFormat::obj: return "obj";
    case FileFormat::ply: return "ply";
    case FileFormat::off: return "off";
    case FileFormat::threemf: return "3mf";
    case FileFormat::amf: return "amf";
    case FileFormat::gltf: return "gltf";
    case FileFormat::glb: return "glb";
    case FileFormat::dae: return "dae";
    case FileFormat::step: return "step";
    case FileFormat::iges: return "iges";
    case FileFormat::gcode: return "gcode";
    case FileFormat::bgcode: return "bgcode";
  }
  return "unknown";
}

namespace {

// Bytes of the file looked at for detection.
constexpr size_t kHeadBytes = 4096;

std::string lower_extension(const std::string& path) {
  size_t slash = path.find_last_of("/\\");
  size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return {};
  std::string ext = path.substr(dot + 1);
  for (char& c : ext) c = char(std::tolower((unsigned char)c));
  return ext;
}

FileFormat format_from_extension(const std::string& ext) {
  if (ext == "stl") return FileFormat::stl_ascii;
  if (ext == "obj") return FileFormat::obj;
  if (ext == "ply") return FileFormat::ply;
  if (ext == "off") return FileFormat::off;
  if (ext == "3mf") return FileFormat::threemf;
  if (ext == "amf") return FileFormat::amf;
  if (ext == "gltf") return FileFormat::gltf;
  if (ext == "glb") return FileFormat::glb;
  if (ext == "dae") return FileFormat::dae;
  if (ext == "step" || ext == "stp") return FileFormat::step;
  if (ext == "iges" || ext == "igs") return FileFormat::iges;
  if (ext == "gcode" || ext == "gco" || ext == "g") return FileFormat::gcode;
  if (ext == "bgcode") return FileFormat::bgcode;
  return FileFormat::unknown;
}

bool starts_with(const char* s, size_t n, const char* prefix) {
  size_t k = std::strlen(prefix);
  return n >= k && std::memcmp(s, prefix, k) == 0;
}

bool starts_with_nocase(const char* s, size_t n, const char* prefix) {
  size_t k = std::strlen(prefix);
  if (n < k) return false;
  for (size_t i = 0; i < k; ++i)
    if (std::tolower((unsigned char)s[i]) != std::tolower((unsigned char)prefix[i])) return false;
  return true;
}

// Name of the XML root element (namespace prefix dropped), skipping the declaration, comments,
// DOCTYPE and processing instructions. Empty when the head does not reach it.
std::string xml_root_name(const char* s, size_t n) {
  size_t i = 0;
  while (i < n) {
    while (i < n && std::isspace((unsigned char)s[i])) ++i;
    if (i >= n || s[i] != '<') return {};
    if (i + 1 < n && (s[i + 1] == '?' || s[i + 1] == '!')) {
      const char* end = nullptr;
      if (i + 3 < n && s[i + 1] == '!' && s[i + 2] == '-' && s[i + 3] == '-') {
        for (size_t j = i + 4; j + 2 < n; ++j)
          if (s[j] == '-' && s[j + 1] == '-' && s[j + 2] == '>') { end = s + j + 2; break; }
      } else {
        end = static_cast<const char*>(std::memchr(s + i, '>', n - i));
      }
      if (!end) return {};
      i = size_t(end - s) + 1;
      continue;
    }
    size_t j = i + 1;
    while (j < n && !std::isspace((unsigned char)s[j]) && s[j] != '>' && s[j] != '/') ++j;
    std::string name(s + i + 1, j - i - 1);
    size_t colon = name.find(':');
    if (colon != std::string::npos) name = name.substr(colon + 1);
    return name;
  }
  return {};
}

// IGES: 80-column records, the first one in the Start section ('S' in column 73, sequence 1).
bool looks_like_iges(const char* s, size_t n) {
  const char* nl = static_cast<const char*>(std::memchr(s, '\n', n));
  size_t len = nl ? size_t(nl - s) : n;
  if (len > 0 && s[len - 1] == '\r') --len;
  if (len < 73 || len > 82) return false;
  if (s[72] != 'S') return false;
  for (size_t i = 73; i < len; ++i)
    if (!std::isdigit((unsigned char)s[i]) && s[i] != ' ') return false;
  return true;
}

// Scores text lines as OBJ or G-code. Both are line-oriented with no magic; G-code lines start
// with a G/M/T word (or ';' comments), OBJ lines with v/vn/vt/f/o/g/usemtl (or '#' comments).
void score_text_lines(const char* s, size_t n, int& obj, int& gcode) {
  obj = gcode = 0;
  size_t i = 0;
  while (i < n) {
    size_t e = i;
    while (e < n && s[e] != '\n') ++e;
    if (e >= n && i > 0) break;  // last line may be cut by the head window
    size_t b = i;
    while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
    const char* l = s + b;
    size_t ln = e - b;
    if (ln >= 2 && (l[0] == 'v' || l[0] == 'f' || l[0] == 'o' || l[0] == 'g') && (l[1] == ' ' || l[1] == '\t'))
      ++obj;
    else if (ln >= 3 && l[0] == 'v' && (l[1] == 'n' || l[1] == 't' || l[1] == 'p') && l[2] == ' ')
      ++obj;
    else if (starts_with(l, ln, "usemtl") || starts_with(l, ln, "mtllib"))
      ++obj;
    else if (ln >= 2 && (l[0] == 'G' || l[0] == 'M' || l[0] == 'T' || l[0] == 'g' || l[0] == 'm') &&
             std::isdigit((unsigned char)l[1]))
      ++gcode;
    else if (ln >= 1 && l[0] == ';')
      ++gcode;
    i = e + 1;
  }
}

}  // namespace

FileFormat detect_format(const std::string& path, const unsigned char* head, size_t head_bytes, uint64_t file_bytes) {
  const std::string ext = lower_extension(path);
  const FileFormat by_ext = format_from_extension(ext);
  const char* s = reinterpret_cast<const char*>(head);
  size_t n = head_bytes;
  if (n == 0) return FileFormat::unknown;

  if (detail::is_binary_stl(head, head_bytes, file_bytes)) return FileFormat::stl_binary;
  if (starts_with(s, n, "GCDE")) return FileFormat::bgcode;
  if (starts_with(s, n, "PK\x03\x04")) {
    // Zip: 3MF unless the name says otherwise (zipped AMF); the 3MF reader checks for the model.
    if (by_ext == FileFormat::amf) return FileFormat::amf;
    return FileFormat::threemf;
  }
  if (starts_with(s, n, "glTF")) return FileFormat::glb;
  if (starts_with(s, n, "ply") && n > 3 && (s[3] == '\n' || s[3] == '\r')) return FileFormat::ply;

  // Text formats: skip a UTF-8 byte-order mark and leading blanks.
  size_t o = 0;
  if (starts_with(s, n, "\xEF\xBB\xBF")) o = 3;
  while (o < n && std::isspace((unsigned char)s[o])) ++o;
  const char* t = s + o;
  size_t tn = n - o;

  if (starts_with(t, tn, "ISO-10303-21")) return FileFormat::step;
  if (looks_like_iges(s, n)) return FileFormat::iges;
  if (tn > 0 && t[0] == '{') {
    std::string text(t, tn);
    if (text.find("\"asset\"") != std::string::npos || by_ext == FileFormat::gltf) return FileFormat::gltf;
    return FileFormat::unknown;
  }
  if (tn > 0 && t[0] == '<') {
    std::string root = xml_root_name(t, tn);
    if (root == "amf") return FileFormat::amf;
    if (root == "COLLADA") return FileFormat::dae;
    if (root.empty() && (by_ext == FileFormat::amf || by_ext == FileFormat::dae)) return by_ext;
    return FileFormat::unknown;
  }
  if (starts_with_nocase(t, tn, "solid")) {
    // "solid" followed by binary bytes is a truncated or padded binary STL: let the STL reader say so.
    bool has_nul = std::memchr(s, 0, n) != nullptr;
    return has_nul ? FileFormat::stl_binary : FileFormat::stl_ascii;
  }
  {
    // OFF header: OFF, COFF, NOFF, STOFF, 4OFF, nOFF... as the first token.
    size_t k = 0;
    while (k < tn && !std::isspace((unsigned char)t[k])) ++k;
    std::string tok(t, k);
    if (tok.size() >= 3 && tok.size() <= 6 && tok.compare(tok.size() - 3, 3, "OFF") == 0) return FileFormat::off;
  }
  if (std::memchr(s, 0, n) != nullptr) {
    // Binary content with no known magic: a binary STL whose size does not match its count is
    // the common case worth a precise message.
    return by_ext == FileFormat::stl_ascii ? FileFormat::stl_binary : FileFormat::unknown;
  }
  int obj = 0, gcode = 0;
  score_text_lines(t, tn, obj, gcode);
  if (obj > gcode) return FileFormat::obj;
  if (gcode > obj) return FileFormat::gcode;
  // Only comments or blank lines in the head: the extension decides among line formats.
  if (by_ext == FileFormat::obj || by_ext == FileFormat::gcode || by_ext == FileFormat::off) return by_ext;
  return FileFormat::unknown;
}

namespace {

[[noreturn]] void fail(ErrorCode code, const std::string& file, const std::string& reason) {
  throw Error(code, file, reason);
}

std::string human_bytes(uint64_t b) {
  char buf[64];
  if (b >= (1ull << 20))
    std::snprintf(buf, sizeof buf, "%.1f MiB", double(b) / double(1ull << 20));
  else
    std::snprintf(buf, sizeof buf, "%llu bytes", (unsigned long long)b);
  return buf;
}

void check_options(const std::string& name, const LoadOptions& o) {
  if (!(o.max_coordinate_mm > 0) || !(o.max_zip_ratio > 0) || !(o.cad_deflection_mm > 0) ||
      !(o.cad_angular_deflection_rad > 0) || !(o.max_seconds > 0))
    fail(ErrorCode::invalid_argument, name, "LoadOptions: limits and deflections must be positive");
}

// Coordinates, cleaning, components and the caps that need them; the same for every format.
void finish(LoadedFile& out, const LoadOptions& options, bool already_clean) {
  Mesh& mesh = out.mesh;
  const std::string& name = out.path;
  if (mesh.positions.size() % 3 != 0 || mesh.indices.size() % 3 != 0)
    fail(ErrorCode::internal, name, "reader produced a ragged mesh");
  const size_t nv = mesh.vertex_count();
  for (uint32_t idx : mesh.indices)
    if (idx >= nv) fail(ErrorCode::malformed, name, "triangle references vertex " + std::to_string(idx) + " of " +
                                                        std::to_string(nv));
  if (mesh.triangle_count() > options.max_triangles)
    fail(ErrorCode::limit_exceeded, name,
         std::to_string(mesh.triangle_count()) + " triangles, over the limit of " +
             std::to_string(options.max_triangles));
  const double cap = options.max_coordinate_mm;
  for (size_t i = 0; i < mesh.positions.size(); ++i) {
    float c = mesh.positions[i];
    if (!std::isfinite(c))
      fail(ErrorCode::invalid_coordinates, name,
           "vertex " + std::to_string(i / 3) + " has a NaN or infinite coordinate");
    if (std::fabs(double(c)) > cap) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "vertex %zu has coordinate %g mm, beyond the limit of %g mm", i / 3, double(c),
                    cap);
      fail(ErrorCode::invalid_coordinates, name, buf);
    }
  }
  if (!already_clean) out.clean = clean_mesh(mesh);
  if (mesh.triangle_count() == 0) {
    if (!out.surfaces.empty()) return;  // G-code: parts known as oriented points only
    fail(ErrorCode::empty, name, "no triangles (after removing degenerate ones)");
  }
  out.components = split_components(mesh);
  if (out.components.size() > options.max_components)
    fail(ErrorCode::limit_exceeded, name,
         std::to_string(out.components.size()) + " separate components, over the limit of " +
             std::to_string(options.max_components));
}

std::string parent_dir(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// OCCT reads from paths; uploads in memory go through a private temporary file.
struct TempFile {
  std::string path;
  TempFile(const unsigned char* data, size_t size, const std::string& ext, const std::string& name) {
    const char* dir = std::getenv("TMPDIR");
    std::string templ = std::string(dir && *dir ? dir : "/tmp") + "/partscreen-XXXXXX." + ext;
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    int fd = mkstemps(buf.data(), int(ext.size() + 1));
    if (fd < 0) fail(ErrorCode::io, name, std::string("cannot create a temporary file: ") + std::strerror(errno));
    path = buf.data();
    FILE* f = fdopen(fd, "wb");
    bool ok = f && std::fwrite(data, 1, size, f) == size;
    if (f) ok = (std::fclose(f) == 0) && ok;
    if (!ok) {
      std::remove(path.c_str());
      fail(ErrorCode::io, name, "cannot write a temporary file for the CAD reader");
    }
  }
  ~TempFile() { std::remove(path.c_str()); }
};

// Dispatch for everything but STL-from-disk. `disk_path` is set when the bytes came from a file.
void read_into(LoadedFile& out, FileFormat format, const unsigned char* data, size_t size,
               const LoadOptions& options, const std::string* disk_path) {
  const std::string& name = out.path;
  bool already_clean = false;
  switch (format) {
    case FileFormat::stl_binary:
    case FileFormat::stl_ascii:
      out.mesh = detail::read_stl_bytes(name, data, size, options, &out.clean);
      already_clean = true;
      break;
    case FileFormat::threemf: {
      detail::RawMesh raw = detail::read_3mf(name, data, size, options);
      out.mesh = std::move(raw.mesh);
      out.unit_scale_to_mm = raw.unit_scale_to_mm;
      break;
    }
    case FileFormat::obj:
      out.mesh = detail::read_obj(name, data, size, options).mesh;
      break;
    case FileFormat::ply:
    case FileFormat::off:
    case FileFormat::amf:
    case FileFormat::gltf:
    case FileFormat::glb:
    case FileFormat::dae: {
      detail::RawMesh raw =
          detail::read_with_assimp(name, data, size, format, options, disk_path ? parent_dir(*disk_path) : "");
      out.mesh = std::move(raw.mesh);
      out.unit_scale_to_mm = raw.unit_scale_to_mm;
      break;
    }
    case FileFormat::step:
    case FileFormat::iges: {
      if (!detail::cad_support_enabled())
        fail(ErrorCode::unsupported_format, name,
             std::string(format_name(format)) + ": this build has no CAD support (built without OpenCascade)");
      detail::RawMesh raw;
      if (disk_path) {
        raw = detail::read_cad_file(name, *disk_path, format, options);
      } else {
        TempFile tmp(data, size, format == FileFormat::step ? "step" : "iges", name);
        raw = detail::read_cad_file(name, tmp.path, format, options);
      }
      out.mesh = std::move(raw.mesh);
      out.unit_scale_to_mm = raw.unit_scale_to_mm;
      break;
    }
    case FileFormat::gcode:
      detail::load_gcode(name, data, size, options, out);
      break;
    case FileFormat::bgcode:
      fail(ErrorCode::unsupported_format, name,
           "binary G-code (.bgcode) is not supported: export plain G-code from the slicer instead");
    case FileFormat::unknown:
      fail(ErrorCode::unsupported_format, name,
           "unrecognised content: expected STL, OBJ, PLY, OFF, 3MF, AMF, glTF/GLB, DAE, STEP, IGES or G-code");
  }
  finish(out, options, already_clean);
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

LoadedFile load_file(const std::string& path, const LoadOptions& options) {
  auto t0 = std::chrono::steady_clock::now();
  check_options(path, options);
  LoadedFile out;
  out.path = path;

  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) fail(ErrorCode::io, path, std::string("cannot open: ") + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) fail(ErrorCode::io, path, "is a directory, not a file");
  if (!S_ISREG(st.st_mode)) fail(ErrorCode::io, path, "not a regular file");
  const uint64_t size = uint64_t(st.st_size);
  out.file_bytes = size;
  if (size > options.max_file_bytes)
    fail(ErrorCode::limit_exceeded, path,
         "file is " + human_bytes(size) + ", over the limit of " + human_bytes(options.max_file_bytes));
  if (size == 0) fail(ErrorCode::empty, path, "file is empty (0 bytes)");

  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) fail(ErrorCode::io, path, std::string("cannot open: ") + std::strerror(errno));
  unsigned char head[kHeadBytes];
  size_t head_n = std::fread(head, 1, std::min<uint64_t>(size, kHeadBytes), f.get());
  if (head_n == 0) fail(ErrorCode::io, path, "read failed");
  out.format = detect_format(path, head, head_n, size);

  if (out.format == FileFormat::stl_binary || out.format == FileFormat::stl_ascii) {
    // Streamed by the STL reader: large STLs never sit in memory as raw bytes.
    f.reset();
    out.mesh = detail::read_stl_file(path, options, &out.clean);
    finish(out, options, true);
    out.load_ms = ms_since(t0);
    return out;
  }
  if (out.format == FileFormat::gcode) {
    // Streamed by the G-code reader in bounded memory: sliced jobs run to hundreds of MB.
    f.reset();
    GcodeOptions g;
    g.max_file_bytes = options.max_file_bytes;
    g.max_coordinate_mm = std::min(g.max_coordinate_mm, options.max_coordinate_mm);
    out.surfaces = read_gcode_file(path, g);
    if (out.surfaces.empty())
      fail(ErrorCode::empty, path, "G-code: no printed object found (only travel moves, or thin lines such as a skirt or purge line)");
    finish(out, options, true);
    out.load_ms = ms_since(t0);
    return out;
  }
  if (out.format == FileFormat::step || out.format == FileFormat::iges) {
    f.reset();
    read_into(out, out.format, nullptr, 0, options, &path);
    out.load_ms = ms_since(t0);
    return out;
  }

  std::vector<unsigned char> bytes(size);
  std::memcpy(bytes.data(), head, head_n);
  size_t got = head_n;
  while (got < size) {
    size_t r = std::fread(bytes.data() + got, 1, size - got, f.get());
    if (r == 0) break;
    got += r;
  }
  if (got != size) fail(ErrorCode::io, path, "read failed (file shrank while reading?)");
  f.reset();
  read_into(out, out.format, bytes.data(), bytes.size(), options, &path);
  out.load_ms = ms_since(t0);
  return out;
}

LoadedFile load_bytes(const std::string& name, const void* data, size_t size, const LoadOptions& options) {
  auto t0 = std::chrono::steady_clock::now();
  check_options(name, options);
  LoadedFile out;
  out.path = name;
  out.file_bytes = size;
  if (size > options.max_file_bytes)
    fail(ErrorCode::limit_exceeded, name,
         "upload is " + human_bytes(size) + ", over the limit of " + human_bytes(options.max_file_bytes));
  if (size == 0 || data == nullptr) fail(ErrorCode::empty, name, "no bytes");
  const auto* bytes = static_cast<const unsigned char*>(data);
  out.format = detect_format(name, bytes, std::min<size_t>(size, kHeadBytes), size);
  read_into(out, out.format, bytes, size, options, nullptr);
  out.load_ms = ms_since(t0);
  return out;
}

}  // namespace partscreen
