// SPDX-License-Identifier: GPL-3.0-or-later
// The evaluation loop (see partscreen/eval.h): make every case, write it to disk, scan it as an
// upload would be scanned, journal it. Cases carry their own seeds (a hash of the run's seed, the
// reference and the kind), so a case does not depend on which others ran before it: that is what
// makes a resumed run equal to an uninterrupted one.
#include "partscreen/eval.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>
#include <zip.h>

#include "eval/eval_json.h"
#include "partscreen/error.h"
#include "partscreen/io.h"
#include "partscreen/variants.h"
#include "partscreen/version.h"

namespace fs = std::filesystem;

namespace partscreen {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// The factor a slicer case prints a part at (largest extent in the mesh's units). Parts of
// 10..180 mm print as they are; others are scaled as an uploader would, but only by factors the
// screen counts as the same part (0.45..2.2, or the inch/mm mistake: scale_allowed in
// match/scan.cpp). Scaling every part under 20 mm up to 60 mm made a 16 mm clamp a 3.8x
// enlargement, which no scan matches, mesh or G-code: such a case measured the eval, not the
// G-code stage. Only meshes in other units (under 0.4 or over 400) keep an out-of-range factor.
double printable_factor(double extent) {
  if (extent > 180.0) return 180.0 / extent;
  if (extent >= 10.0) return 1.0;
  if (extent >= 5.0) return 2.0;                                // tiny mm part, enlarged to print
  if (extent * 25.4 >= 10.0 && extent * 25.4 <= 180.0) return 25.4;  // drawn in inches
  return 60.0 / extent;
}

// FNV-1a: stable across platforms and runs (std::hash is not).
uint64_t fnv(const std::string& s, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)v);
  return buf;
}

const std::vector<std::string>& format_kinds() {
  static const std::vector<std::string> k = {"format_stl", "format_3mf", "format_obj"};
  return k;
}
const std::vector<std::string>& slicer_kinds() {
  static const std::vector<std::string> k = {"gcode_prusa", "gcode_cura"};
  return k;
}

bool variant_kind_of(const std::string& name, VariantKind& out) {
  for (VariantKind k : all_variant_kinds())
    if (name == variant_name(k)) {
      out = k;
      return true;
    }
  return false;
}

// A file name from a case id ("ref/kind/0" -> "ref_kind_0").
std::string safe_name(const std::string& id) {
  std::string out;
  for (char c : id) out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ? c : '_';
  if (out.size() > 120) out = out.substr(0, 100) + "_" + hex64(fnv(id));
  return out;
}

// ---- writers for the format round trips ----

void write_ascii_stl(const Mesh& m, const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw Error(ErrorCode::io, path, "cannot write");
  std::fprintf(f, "solid partscreen_eval\n");
  for (size_t t = 0; t < m.triangle_count(); ++t) {
    std::fprintf(f, " facet normal 0 0 0\n  outer loop\n");
    for (int k = 0; k < 3; ++k) {
      const float* p = &m.positions[3 * m.indices[3 * t + k]];
      std::fprintf(f, "   vertex %.9g %.9g %.9g\n", p[0], p[1], p[2]);
    }
    std::fprintf(f, "  endloop\n endfacet\n");
  }
  std::fprintf(f, "endsolid partscreen_eval\n");
  if (std::fclose(f) != 0) throw Error(ErrorCode::io, path, "write failed");
}

void write_obj(const Mesh& m, const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw Error(ErrorCode::io, path, "cannot write");
  std::fprintf(f, "# partscreen eval\no part\n");
  for (size_t v = 0; v < m.vertex_count(); ++v)
    std::fprintf(f, "v %.9g %.9g %.9g\n", m.positions[3 * v], m.positions[3 * v + 1], m.positions[3 * v + 2]);
  for (size_t t = 0; t < m.triangle_count(); ++t)
    std::fprintf(f, "f %u %u %u\n", m.indices[3 * t] + 1, m.indices[3 * t + 1] + 1, m.indices[3 * t + 2] + 1);
  if (std::fclose(f) != 0) throw Error(ErrorCode::io, path, "write failed");
}

// A minimal 3MF package (3MF Core spec 1.2: content types, root relationship, one model part).
void write_3mf(const Mesh& m, const std::string& path) {
  std::string model;
  model.reserve(m.vertex_count() * 48 + m.triangle_count() * 40 + 512);
  model +=
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<model unit=\"millimeter\" xml:lang=\"en-US\" "
      "xmlns=\"http://schemas.microsoft.com/3dmanufacturing/core/2015/02\">\n<resources>\n<object id=\"1\" "
      "type=\"model\">\n<mesh>\n<vertices>\n";
  char buf[128];
  for (size_t v = 0; v < m.vertex_count(); ++v) {
    std::snprintf(buf, sizeof buf, "<vertex x=\"%.9g\" y=\"%.9g\" z=\"%.9g\"/>\n", m.positions[3 * v], m.positions[3 * v + 1],
                  m.positions[3 * v + 2]);
    model += buf;
  }
  model += "</vertices>\n<triangles>\n";
  for (size_t t = 0; t < m.triangle_count(); ++t) {
    std::snprintf(buf, sizeof buf, "<triangle v1=\"%u\" v2=\"%u\" v3=\"%u\"/>\n", m.indices[3 * t], m.indices[3 * t + 1],
                  m.indices[3 * t + 2]);
    model += buf;
  }
  model += "</triangles>\n</mesh>\n</object>\n</resources>\n<build>\n<item objectid=\"1\"/>\n</build>\n</model>\n";
  const std::string types =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
      "<Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>"
      "<Default Extension=\"model\" ContentType=\"application/vnd.ms-package.3dmanufacturing-3dmodel+xml\"/></Types>\n";
  const std::string rels =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
      "<Relationship Target=\"/3D/3dmodel.model\" Id=\"rel0\" "
      "Type=\"http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel\"/></Relationships>\n";
  std::error_code ec;
  fs::remove(path, ec);
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  if (!z) throw Error(ErrorCode::io, path, "cannot create the zip archive");
  const std::pair<const char*, const std::string*> entries[] = {
      {"[Content_Types].xml", &types}, {"_rels/.rels", &rels}, {"3D/3dmodel.model", &model}};
  for (const auto& [name, text] : entries) {
    zip_source_t* src = zip_source_buffer(z, text->data(), text->size(), 0);
    if (!src || zip_file_add(z, name, src, ZIP_FL_ENC_UTF_8) < 0) {
      if (src) zip_source_free(src);
      zip_discard(z);
      throw Error(ErrorCode::io, path, std::string("cannot add ") + name);
    }
  }
  // zip_close reads the buffers: they must outlive it (they do, they are locals here).
  if (zip_close(z) != 0) {
    zip_discard(z);
    throw Error(ErrorCode::io, path, "cannot write the zip archive");
  }
}

// ---- slicers ----

struct RunResult {
  bool ok = false;
  std::string why;
};

// Runs a program with stdout/stderr into log_path; kills it after timeout_s.
RunResult run_program(const std::vector<std::string>& args, const std::string& log_path, double timeout_s) {
  std::vector<char*> argv;
  std::vector<std::string> copy = args;
  for (std::string& s : copy) argv.push_back(s.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return {false, "fork failed"};
  if (pid == 0) {
    // Same process group as ours: a Ctrl-C at the terminal stops the slicer too.
    int in = open("/dev/null", O_RDONLY);
    int out = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0) _exit(127);
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  const auto t0 = Clock::now();
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0) return {false, "waitpid failed"};
    if (ms_since(t0) > timeout_s * 1000.0) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return {false, args[0] + " timed out after " + std::to_string(int(timeout_s)) + " s"};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {true, ""};
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) return {false, args[0] + " could not be run (not installed?)"};
  std::string tail;
  {
    std::ifstream in(log_path);
    std::string line;
    // The last line that says something (PrusaSlicer ends with "Object name: ..." after the reason).
    while (std::getline(in, line))
      if (!line.empty() && line[0] != '[' && line.rfind("Object name", 0) != 0) tail = line;
  }
  return {false, args[0] + " failed (exit " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")" +
                     (tail.empty() ? "" : ": " + tail.substr(0, 200))};
}

std::string program_version(const std::vector<std::string>& args, const std::string& prefix, const std::string& log) {
  run_program(args, log, 60);
  std::ifstream in(log);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(prefix, 0) == 0) return line;
  return "";
}

// ---- journal ----

std::string fingerprint(const Pack& pack, const std::vector<EvalReference>& refs, const std::vector<std::string>& distractors,
                        const std::vector<std::string>& kinds, const EvalOptions& o) {
  std::ostringstream s;
  s << version_string() << '|' << pack.content_hex() << '|' << o.seed << '|' << o.cases_per_kind << '|' << o.scan.flag_score << '|' << o.scan.review_score
    << '|' << o.scan.report_score << '|' << o.distractors_only;
  for (const auto& k : kinds) s << "|k:" << k;
  for (const auto& r : refs) s << "|r:" << r.id << '=' << r.path;
  for (const auto& d : distractors) s << "|d:" << d;
  return hex64(fnv(s.str()));
}

struct Planned {
  std::string id, group, reference, kind, path;  // path: distractor file / reference file
  size_t ref_index = 0;
  uint32_t n = 0;
  uint64_t seed = 0;
};

}  // namespace

std::vector<std::string> eval_kind_names() {
  std::vector<std::string> out;
  for (VariantKind k : all_variant_kinds())
    if (k != VariantKind::identity) out.push_back(variant_name(k));
  for (const auto& k : format_kinds()) out.push_back(k);
  for (const auto& k : slicer_kinds()) out.push_back(k);
  return out;
}

std::vector<std::string> eval_default_kinds() {
  std::vector<std::string> out;
  for (const auto& k : eval_kind_names())
    if (k.rfind("gcode_", 0) != 0) out.push_back(k);
  return out;
}

std::vector<std::string> eval_mesh_files(const std::string& dir) {
  static const std::set<std::string> exts = {".stl", ".obj", ".off", ".ply", ".3mf", ".amf", ".step", ".stp", ".iges", ".igs", ".glb", ".gltf"};
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(ErrorCode::io, dir, "not a readable folder");
  std::vector<std::string> out;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::string ext = it->path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
    if (exts.count(ext)) out.push_back(it->path().string());
  }
  if (ec) throw Error(ErrorCode::io, dir, "cannot list: " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

std::string design_family(const std::string& path) {
  std::string stem = fs::path(path).stem().string();
  std::transform(stem.begin(), stem.end(), stem.begin(), ::tolower);
  std::vector<std::string> tokens;
  std::string cur;
  for (char c : stem + "_") {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      cur += c;
      continue;
    }
    if (!cur.empty()) tokens.push_back(cur);
    cur.clear();
  }
  std::string out;
  for (const std::string& t : tokens) {
    const bool digits = std::all_of(t.begin(), t.end(), ::isdigit);
    const bool count = t.size() >= 2 && t[0] == 'x' && std::all_of(t.begin() + 1, t.end(), ::isdigit);
    const bool rev = t.rfind("rev", 0) == 0 || (t[0] == 'v' && t.size() > 1 && std::isdigit(static_cast<unsigned char>(t[1])));
    const bool mgn = t.rfind("mgn", 0) == 0;
    // "2hole", "3holes": the same design with more or fewer holes, which the suite's own "holes"
    // transformation expects to be flagged as the reference.
    const size_t lead = size_t(std::find_if(t.begin(), t.end(), [](char c) { return !std::isdigit(static_cast<unsigned char>(c)); }) - t.begin());
    const bool holes = lead > 0 && (t.substr(lead) == "hole" || t.substr(lead) == "holes");
    if (digits || count || rev || mgn || holes || t == "left" || t == "right" || t == "l" || t == "r" || t == "a" || t == "b") continue;
    if (t.size() > 2 && t.compare(t.size() - 2, 2, "mm") == 0 && std::isdigit(static_cast<unsigned char>(t[0]))) continue;
    out += t + "_";
  }
  return out;
}

EvalReport run_eval(const Pack& pack, const std::vector<EvalReference>& references, const std::vector<std::string>& distractors,
                    const EvalOptions& options) {
  EvalReport report;
  report.tool_version = version_string();
  report.pack_name = pack.name();
  report.pack_checksum = pack.checksum_hex();
  report.pack_path = pack.path();
  report.references = references;
  report.pack_references = pack.reference_count();
  report.seed = options.seed;
  report.cases_per_kind = options.cases_per_kind;
  report.flag_score = options.scan.flag_score;
  report.review_score = options.scan.review_score;
  report.kinds = options.kinds.empty() ? eval_default_kinds() : options.kinds;
  const std::vector<std::string> known = eval_kind_names();
  for (const std::string& k : report.kinds)
    if (std::find(known.begin(), known.end(), k) == known.end()) {
      std::string list;
      for (const auto& n : known) list += (list.empty() ? "" : ", ") + n;
      throw Error(ErrorCode::invalid_argument, "--kinds", "unknown kind '" + k + "'; kinds: " + list);
    }
  std::set<std::string> ids;
  for (size_t i = 0; i < pack.reference_count(); ++i) ids.insert(pack.reference(i).id);
  for (const EvalReference& r : references)
    if (!ids.count(r.id))
      throw Error(ErrorCode::invalid_argument, r.path,
                  "reference '" + r.id + "' is not in the pack '" + pack.path() + "' (ids are file stems when enrolled)");
  const bool want_cura = std::find(report.kinds.begin(), report.kinds.end(), "gcode_cura") != report.kinds.end();
  const bool make_cases = !references.empty() && !options.distractors_only;
  if (options.distractors_only) report.mode = "collision";
  if (want_cura && make_cases && options.cura_definition.empty())
    throw Error(ErrorCode::invalid_argument, "--cura-definition", "gcode_cura needs a CuraEngine machine definition (.def.json)");

  // Where case files go.
  std::string cases_dir = options.cases_dir;
  bool remove_cases_dir = false;
  if (cases_dir.empty()) {
    cases_dir = (fs::temp_directory_path() / ("partscreen-eval-" + std::to_string(getpid()))).string();
    remove_cases_dir = true;
  }
  std::error_code ec;
  fs::create_directories(cases_dir, ec);
  if (ec) throw Error(ErrorCode::io, cases_dir, "cannot create: " + ec.message());

  // The plan: every reference's cases, then distractors and relatives.
  std::set<std::string> families;
  for (const EvalReference& r : references) families.insert(design_family(r.path));
  std::vector<Planned> plan;
  for (size_t r = 0; r < (options.distractors_only ? 0 : references.size()); ++r)
    for (const std::string& k : report.kinds)
      for (uint32_t n = 0; n < std::max<uint32_t>(1, options.cases_per_kind); ++n) {
        Planned p;
        p.group = "reference";
        p.reference = references[r].id;
        p.kind = k;
        p.path = references[r].path;
        p.ref_index = r;
        p.n = n;
        p.id = p.reference + "/" + k + "/" + std::to_string(n);
        p.seed = fnv(p.id, fnv(std::to_string(options.seed)));
        plan.push_back(p);
      }
  std::vector<std::string> plate_fill;  // distractors laid beside a reference on a plate
  for (int pass = 0; pass < 2; ++pass)
    for (const std::string& d : distractors) {
      const bool related = families.count(design_family(d)) > 0;
      if ((pass == 0) == related) continue;
      Planned p;
      p.group = related ? "relative" : "distractor";
      p.kind = p.group;
      p.path = d;
      p.id = p.group + "/" + d;
      plan.push_back(p);
      if (!related && plate_fill.size() < 8) plate_fill.push_back(d);
    }

  // Journal: finished cases of an earlier run with the same inputs.
  const std::string fp = fingerprint(pack, references, distractors, report.kinds, options);
  std::map<std::string, EvalCase> journaled;
  std::FILE* journal = nullptr;
  if (!options.journal_path.empty()) {
    std::ifstream in(options.journal_path);
    std::string line;
    bool header = false;
    while (std::getline(in, line)) {
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded()) continue;  // a line cut short by a crash
      if (!header) {
        if (j.value("fingerprint", "") != fp)
          throw Error(ErrorCode::invalid_argument, options.journal_path,
                      "holds a run with other inputs (pack, seed, kinds, thresholds or files differ): use another --out "
                      "folder or remove this one");
        header = true;
        continue;
      }
      EvalCase c = eval::case_from_json(j);
      journaled[c.id] = c;
    }
    const bool fresh = !header;
    journal = std::fopen(options.journal_path.c_str(), fresh ? "w" : "a");
    if (!journal) throw Error(ErrorCode::io, options.journal_path, "cannot write the journal");
    // A line cut short by a crash must not swallow the next case's line.
    if (!fresh && fs::file_size(options.journal_path, ec) > 0) {
      std::ifstream tail(options.journal_path, std::ios::binary);
      tail.seekg(-1, std::ios::end);
      if (tail.get() != '\n') std::fputc('\n', journal);
    }
    if (fresh) {
      nlohmann::json h = {{"journal", 1}, {"fingerprint", fp}, {"partscreen", version_string()}, {"seed", options.seed}};
      std::fputs((h.dump() + "\n").c_str(), journal);
      std::fflush(journal);
    }
  }
  struct Closer {
    std::FILE*& f;
    ~Closer() {
      if (f) std::fclose(f);
    }
  } closer{journal};

  // Slicer versions (recorded in the report so figures name the slicer that made the G-code).
  auto has_kind = [&](const char* k) { return std::find(report.kinds.begin(), report.kinds.end(), k) != report.kinds.end(); };
  if (make_cases && has_kind("gcode_prusa")) {
    std::string v = program_version({options.prusa_slicer, "--help"}, "PrusaSlicer", cases_dir + "/slicer-version.log");
    report.slicer_versions.push_back(v.empty() ? options.prusa_slicer + " (version unknown)" : v);
  }
  if (make_cases && want_cura) {
    std::string v = program_version({options.cura_engine, "help"}, "Cura_SteamEngine", cases_dir + "/slicer-version.log");
    report.slicer_versions.push_back(v.empty() ? options.cura_engine + " (version unknown)" : v);
  }

  // Loaded lazily: one reference at a time, the plate fill once.
  size_t loaded_ref = SIZE_MAX;
  Mesh ref_mesh;
  std::string ref_error;
  std::vector<Mesh> fill_meshes;
  bool fill_loaded = false;
  auto plate_others = [&](uint64_t seed) {
    if (!fill_loaded) {
      for (const std::string& d : plate_fill) {
        try {
          fill_meshes.push_back(load_file(d, options.scan.load).mesh);
        } catch (const Error&) {
        }
      }
      fill_loaded = true;
    }
    std::vector<Mesh> out;
    for (size_t i = 0; i < 3 && i < fill_meshes.size(); ++i) out.push_back(fill_meshes[(seed + i) % fill_meshes.size()]);
    return out;
  };

  size_t new_cases = 0;
  for (size_t i = 0; i < plan.size(); ++i) {
    const Planned& p = plan[i];
    auto found = journaled.find(p.id);
    if (found != journaled.end()) {
      report.cases.push_back(found->second);
      ++report.resumed;
      continue;
    }
    if (options.max_new_cases && new_cases >= options.max_new_cases) {
      report.complete = false;
      break;
    }
    if (options.progress) options.progress(i, plan.size(), p.id);
    EvalCase c;
    c.id = p.id;
    c.group = p.group;
    c.reference = p.reference;
    c.kind = p.kind;
    c.name = p.kind;
    c.seed = p.seed;
    std::vector<std::string> written;
    const auto t0 = Clock::now();
    try {
      if (p.group != "reference") {
        c.name = fs::path(p.path).filename().string();
        c.files = {p.path};
      } else {
        if (loaded_ref != p.ref_index) {
          loaded_ref = p.ref_index;
          ref_error.clear();
          try {
            ref_mesh = load_file(p.path, options.scan.load).mesh;
          } catch (const Error& e) {
            ref_mesh = Mesh{};
            ref_error = e.what();
          }
        }
        if (!ref_error.empty()) throw Error(ErrorCode::invalid_argument, p.path, "reference unreadable: " + ref_error);
        const std::string base = cases_dir + "/" + safe_name(p.id);
        VariantKind vk;
        if (variant_kind_of(p.kind, vk)) {
          Variant v = make_variant(ref_mesh, vk, p.seed, vk == VariantKind::plate ? plate_others(p.seed) : std::vector<Mesh>{});
          c.name = v.name;
          for (size_t f = 0; f < v.files.size(); ++f) {
            const std::string path = base + (v.files.size() == 1 ? "" : "." + std::to_string(f + 1)) + ".stl";
            written.push_back(path);
            write_binary_stl(v.files[f], path);
          }
        } else if (p.kind.rfind("format_", 0) == 0) {
          // A rigid copy written in the format and read back by the format's own reader.
          Variant v = make_variant(ref_mesh, VariantKind::rigid, p.seed);
          const std::string fmt = p.kind.substr(7);
          const std::string path = base + "." + fmt;
          written.push_back(path);
          if (fmt == "stl") write_ascii_stl(v.files[0], path);
          else if (fmt == "3mf") write_3mf(v.files[0], path);
          else write_obj(v.files[0], path);
          c.name = p.kind == "format_stl" ? "rigid, ASCII STL" : "rigid, " + fmt;
        } else {
          // Sliced by the real slicer at a printable size: the printers are 200 mm (PrusaSlicer's
          // default and the Cura definition we ship), and sample meshes come in any unit, so the
          // part is scaled (as an uploader would) when it does not print as it is.
          float lo[3] = {1e30f, 1e30f, 1e30f}, hi[3] = {-1e30f, -1e30f, -1e30f};
          for (size_t v = 0; v < ref_mesh.vertex_count(); ++v)
            for (int d = 0; d < 3; ++d) {
              lo[d] = std::min(lo[d], ref_mesh.positions[3 * v + d]);
              hi[d] = std::max(hi[d], ref_mesh.positions[3 * v + d]);
            }
          const double extent = std::max({hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]});
          if (!(extent > 0)) throw Error(ErrorCode::invalid_argument, p.path, "the part has no extent");
          const double factor = printable_factor(extent);
          Mesh printable = ref_mesh;
          for (size_t v = 0; v < printable.vertex_count(); ++v)
            for (int d = 0; d < 3; ++d) printable.positions[3 * v + d] = float((printable.positions[3 * v + d] - lo[d]) * factor);
          const std::string scaled = factor == 1.0 ? "" : ", scaled x" + std::to_string(factor).substr(0, 5);
          const std::string stl = base + ".stl", gcode = base + ".gcode", log = base + ".log";
          written.push_back(stl);
          write_binary_stl(printable, stl);
          RunResult r;
          if (p.kind == "gcode_prusa") {
            const int angle = int(p.seed % 360);
            c.name = "prusa-slicer, turned " + std::to_string(angle) + " deg" + scaled;
            // Classic perimeters: PrusaSlicer 2.5's default (Arachne) makes different G-code
            // run to run on curved parts, and a case must be the same every run.
            r = run_program({options.prusa_slicer, "--export-gcode", "--perimeter-generator", "classic", "--rotate", std::to_string(angle), "--output", gcode, stl}, log,
                            options.slicer_timeout_s);
          } else {
            c.name = "CuraEngine" + scaled;
            r = run_program({options.cura_engine, "slice", "-j", options.cura_definition, "-s", "center_object=true", "-o", gcode, "-l", stl},
                            log, options.slicer_timeout_s);
          }
          fs::remove(stl, ec);
          written = {gcode};
          if (!r.ok) {
            fs::remove(log, ec);
            throw Error(ErrorCode::invalid_argument, p.path, r.why);
          }
          fs::remove(log, ec);
        }
        c.files = written;
      }
      c.make_ms = ms_since(t0);
      const auto t1 = Clock::now();
      ScanResult res = scan_files(c.files, pack, options.scan);
      c.scan_ms = ms_since(t1);
      c.verdict = verdict_name(res.verdict);
      if (!res.matches.empty()) {
        c.top_reference = res.matches[0].reference;
        c.score = res.matches[0].score;
        c.coverage = res.matches[0].coverage;
        c.explained = res.matches[0].explained;
        c.absent = res.matches[0].absent;
        c.hidden = res.matches[0].hidden;
        c.wall_mismatch = res.matches[0].wall_mismatch;
        c.scale = res.matches[0].scale;
      }
      for (const FileReport& f : res.files)
        if (!f.ok) c.note += (c.note.empty() ? "" : "; ") + f.error_code + ": " + f.error;
    } catch (const Error& e) {
      c.verdict = "skipped";
      c.note = e.reason().empty() ? e.what() : e.reason();
      c.make_ms = ms_since(t0);
    }
    if (!options.keep_case_files)
      for (const std::string& w : written) fs::remove(w, ec);
    // Paths relative to the cases folder, so a report can be moved with its cases.
    if (p.group == "reference")
      for (std::string& f : c.files) f = fs::path(f).filename().string();
    if (journal) {
      std::fputs((eval::case_to_json(c).dump() + "\n").c_str(), journal);
      std::fflush(journal);
    }
    report.cases.push_back(std::move(c));
    ++new_cases;
  }
  if (options.progress) options.progress(plan.size(), plan.size(), "");
  if (remove_cases_dir) fs::remove_all(cases_dir, ec);
  else fs::remove(cases_dir + "/slicer-version.log", ec);
  report.summary = summarize_eval(report);
  return report;
}

}  // namespace partscreen
