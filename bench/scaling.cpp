// SPDX-License-Identifier: GPL-3.0-or-later
// Scan time against pack size (issue: matching engine, speed targets).
// Builds packs of N distinct references from a folder of meshes: the real parts, then copies
// stretched by a random anisotropic scale (a different shape to the engine, which is only
// similarity-invariant). Scans the same uploads (~100k triangles: real parts subdivided, half of
// them enrolled) against every pack size on one thread, and reports median and p95 scan times,
// the ratio between sizes, and whether the enrolled uploads were still found.
#include <Eigen/Geometry>
#include <algorithm>
#include <array>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "partscreen/partscreen.h"
#include "partscreen/eval.h"
#include "partscreen/variants.h"

namespace fs = std::filesystem;
using namespace partscreen;

namespace {

double pct(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, size_t(p * (v.size() - 1) + 0.5))];
}

Mesh stretched(const Mesh& m, std::mt19937_64& rng, std::array<float, 3>& s) {
  std::uniform_real_distribution<float> u(0.6f, 1.6f);
  Mesh out = m;
  s = {u(rng), u(rng), u(rng)};
  for (size_t i = 0; i < out.positions.size(); ++i) out.positions[i] *= s[i % 3];
  return out;
}

// A finely tessellated export of the same part: midpoint subdivision (no noise) until the mesh
// has at least `target` triangles.
Mesh grown(Mesh m, size_t target) {
  while (m.triangle_count() < target) m = subdivided(m);
  return m;
}

}  // namespace

static int run(const std::string& folder, const std::vector<size_t>& sizes, size_t queries, size_t upload_triangles,
               const std::string& pack_dir, const std::string& save_uploads);

// Bad options or an unreadable folder end with the reason and exit code 2.
int main(int argc, char** argv) try {
  std::string folder;
  std::vector<size_t> sizes{100, 1000};
  size_t queries = 10, upload_triangles = 100000;
  std::string pack_dir;  // --pack-dir: keep the packs there and reuse them (enrolling 10k takes minutes)
  std::string save_uploads;  // --save-uploads: write the uploads as STL, to scan or profile one with the CLI
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    auto count = [&](const std::string& text) -> size_t {
      if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos)
        throw std::invalid_argument(a + " wants whole numbers (e.g. --sizes 100,1000,10000), not '" + text + "'");
      return std::stoul(text);
    };
    if (a == "--sizes") {
      sizes.clear();
      std::string list = next();
      for (size_t p = 0; p < list.size();) {
        size_t q = list.find(',', p);
        sizes.push_back(count(list.substr(p, q - p)));
        p = q == std::string::npos ? list.size() : q + 1;
      }
    } else if (a == "--queries") queries = count(next());
    else if (a == "--triangles") upload_triangles = count(next());
    else if (a == "--pack-dir") pack_dir = next();
    else if (a == "--save-uploads") save_uploads = next();
    else if (a == "--help") { std::puts("usage: scaling [--sizes 100,1000,10000] [--queries N] [--triangles N] [--pack-dir DIR] [--save-uploads DIR] FOLDER"); return 0; }
    else folder = a;
  }
  if (folder.empty()) { std::puts("usage: scaling [--sizes 100,1000,10000] [--queries N] [--triangles N] [--pack-dir DIR] [--save-uploads DIR] FOLDER"); return 2; }
  return run(folder, sizes, queries, upload_triangles, pack_dir, save_uploads);
} catch (const std::exception& e) {
  std::fprintf(stderr, "scaling: %s\n", e.what());
  return 2;
}

static int run(const std::string& folder, const std::vector<size_t>& sizes, size_t queries, size_t upload_triangles,
               const std::string& pack_dir, const std::string& save_uploads) {
  if (!pack_dir.empty()) fs::create_directories(pack_dir);
  std::vector<std::string> files;
  for (auto& e : fs::recursive_directory_iterator(folder))
    if (e.is_regular_file() && (e.path().extension() == ".stl" || e.path().extension() == ".STL")) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  std::mt19937_64 rng(42);
  std::shuffle(files.begin(), files.end(), rng);
  std::vector<Mesh> base;
  std::vector<std::string> base_path;
  for (const auto& f : files) {
    try {
      base.push_back(load_file(f).mesh);
      base_path.push_back(f);
    } catch (const Error&) {}
  }
  // Uploads: the first queries/2 base parts are enrolled (they sit first in every pack); the rest
  // come from the end of the folder and are held out of every pack (nor stretched copies of them).
  // Held-out parts must have no design relative in the folder (a mirror twin or resized copy is,
  // to the engine, the same part, see design_family): such parts are moved to the end first.
  const size_t held_out = (queries + 1) / 2;
  {
    std::map<std::string, size_t> family_count;
    for (const auto& p : base_path) ++family_count[design_family(p)];
    size_t placed = 0;
    for (size_t i = base.size(); i-- > 0 && placed < held_out;) {
      const size_t slot = base.size() - 1 - placed;
      if (i > slot || family_count[design_family(base_path[i])] != 1) continue;
      std::swap(base[i], base[slot]);
      std::swap(base_path[i], base_path[slot]);
      ++placed;
    }
  }
  const size_t usable = base.size() > held_out ? base.size() - held_out : base.size();
  std::vector<std::pair<LoadedFile, std::string>> uploads;
  for (size_t q = 0; q < queries; ++q) {
    const bool enrolled = q % 2 == 0;
    const size_t idx = enrolled ? q / 2 : base.size() - 1 - q / 2;
    Mesh m = grown(make_variant(base[idx], VariantKind::rigid, q).files[0], upload_triangles);
    if (!save_uploads.empty()) {
      fs::create_directories(save_uploads);
      const std::string name = (q < 10 ? "0" : "") + std::to_string(q) + "-" + fs::path(base_path[idx]).filename().string();
      write_binary_stl(m, (fs::path(save_uploads) / name).string());
    }
    uploads.push_back({loaded_from_mesh(std::move(m), fs::path(base_path[idx]).filename().string()), enrolled ? "ref" + std::to_string(idx) : ""});
  }
  std::printf("| references | pack MiB | enrol s | scan p50 ms | scan p95 ms | p50 features / candidates / verify ms | enrolled uploads found | others clear |\n|---|---|---|---|---|---|---|---|\n");
  std::vector<double> medians;
  std::vector<ReferenceMesh> refs;
  std::vector<std::array<float, 3>> stretch;  // per reference: 1,1,1 for a real part
  std::mt19937_64 shape_rng(7);
  for (size_t n : sizes) {
    while (refs.size() < n) {
      size_t i = refs.size();
      ReferenceMesh r;
      r.input.id = "ref" + std::to_string(i);
      std::array<float, 3> f{1.f, 1.f, 1.f};
      r.mesh = i < usable ? base[i] : stretched(base[i % usable], shape_rng, f);
      refs.push_back(std::move(r));
      stretch.push_back(f);
    }
    const fs::path dir = pack_dir.empty() ? fs::temp_directory_path() : fs::path(pack_dir);
    // Named by what it holds (the parts in order, after the held-out ones were set aside): a pack
    // kept from a run with other --queries or another folder is not reused by mistake.
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < usable; ++i)
      for (char c : base_path[i] + "\n") h = (h ^ uint8_t(c)) * 1099511628211ull;
    char tag[17];
    std::snprintf(tag, sizeof tag, "%016llx", static_cast<unsigned long long>(h));
    const std::string pack_path = (dir / ("partscreen-scaling-" + std::to_string(n) + "-" + tag + ".pack")).string();
    auto t0 = std::chrono::steady_clock::now();
    double enrol_s = 0;
    uint64_t pack_bytes = 0;
    if (!pack_dir.empty() && fs::exists(pack_path)) {
      pack_bytes = fs::file_size(pack_path);  // reused: enrolment is deterministic for a folder
    } else {
      pack_bytes = enroll_meshes(refs, pack_path).pack_bytes;
      enrol_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    Pack pack = Pack::open(pack_path);
    ScanOptions opt;
    opt.threads = 1;
    std::vector<double> ms, feat, cand, ver;
    size_t found = 0, found_total = 0, clear = 0, clear_total = 0, found_as_copy = 0;
    // A copy stretched by less than 5% more along one axis than another is the same part at
    // another scale to any similarity-invariant screen: naming it counts apart, not as a miss.
    auto copy_of = [&](const std::string& id, size_t& base_index, float& worst) {
      const size_t i = std::stoul(id.substr(3));
      base_index = i < usable ? i : i % usable;
      const auto& f = stretch[i];
      worst = std::max({f[0], f[1], f[2]}) / std::min({f[0], f[1], f[2]}) - 1.f;  // anisotropy; a uniform scale is no change
      return i >= usable;
    };
    for (auto& [up, expect] : uploads) {
      ScanResult r = scan_loaded({up}, pack, opt);
      ms.push_back(r.timings.total_ms);
      feat.push_back(r.timings.features_ms);
      cand.push_back(r.timings.candidates_ms);
      ver.push_back(r.timings.verify_ms);
      std::string copy_note;
      size_t top_base = SIZE_MAX;
      float top_stretch = 0.f;
      if (!r.matches.empty() && copy_of(r.matches[0].reference, top_base, top_stretch)) {
        const auto& f = stretch[std::stoul(r.matches[0].reference.substr(3))];
        char buf[96];
        std::snprintf(buf, sizeof buf, " (copy of ref%zu stretched %.2f/%.2f/%.2f)", top_base, f[0], f[1], f[2]);
        copy_note = buf;
      }
      // Which corpus file the named reference was enrolled from: a held-out upload named for a
      // design relative the name-based family filter missed reads differently from a real miss.
      std::string source;
      if (!r.matches.empty()) {
        size_t i = SIZE_MAX;
        float unused = 0.f;
        copy_of(r.matches[0].reference, i, unused);
        source = " [" + fs::path(base_path[i]).filename().string() + "]";
      }
      std::fprintf(stderr, "  %zu refs, %s (%zu triangles, expect %s): %s %s%s %.3f%s, %.0f ms\n", n, up.path.c_str(),
                   up.mesh.triangle_count(), expect.empty() ? "clear" : expect.c_str(), verdict_name(r.verdict),
                   r.matches.empty() ? "-" : r.matches[0].reference.c_str(), source.c_str(),
                   r.matches.empty() ? 0.0 : r.matches[0].score, copy_note.c_str(), r.timings.total_ms);
      if (!expect.empty()) {
        ++found_total;
        const bool flagged = r.verdict == Verdict::flagged && !r.matches.empty();
        found += flagged && r.matches[0].reference == expect;
        found_as_copy += flagged && r.matches[0].reference != expect && "ref" + std::to_string(top_base) == expect && top_stretch < 0.05f;
      } else {
        ++clear_total;
        clear += r.verdict == Verdict::clear;
      }
    }
    medians.push_back(pct(ms, 0.5));
    const std::string as_copy = found_as_copy ? " (+" + std::to_string(found_as_copy) + " as a copy stretched <5%)" : "";
    std::printf("| %zu | %.1f | %.0f | %.1f | %.1f | %.1f / %.1f / %.1f | %zu/%zu%s | %zu/%zu |\n", n,
                double(pack_bytes) / 1048576.0, enrol_s, pct(ms, 0.5), pct(ms, 0.95), pct(feat, 0.5), pct(cand, 0.5),
                pct(ver, 0.5), found, found_total, as_copy.c_str(), clear, clear_total);
    std::fflush(stdout);
    if (pack_dir.empty()) std::remove(pack_path.c_str());
  }
  for (size_t i = 1; i < sizes.size(); ++i)
    std::printf("scan median %zu refs / %zu refs: %.2fx\n", sizes[i], sizes[i - 1], medians[i] / std::max(1e-9, medians[i - 1]));
  return 0;
}
