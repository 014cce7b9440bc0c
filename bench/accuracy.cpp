// SPDX-License-Identifier: GPL-3.0-or-later
// Accuracy and speed benchmark of the matching engine (issue: matching engine).
// Picks N reference parts and M distractors from one folder of meshes (seeded shuffle), enrolls
// the references and runs the evaluation loop of `partscreen eval` (run_eval, partscreen/eval.h:
// one piece of code for both), then prints its tables as Markdown; with --baseline also the naive
// "verify every reference" pipeline on the same distractors. --out DIR also writes report.json
// and report.html there.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "containment.h"
#include "partscreen/eval.h"
#include "partscreen/partscreen.h"
#include "partscreen/variants.h"

namespace fs = std::filesystem;
using namespace partscreen;

namespace {

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(p * (v.size() - 1) + 0.5))];
}

void usage() {
  std::puts(
      "usage: accuracy [--refs N] [--distractors N] [--look-alikes K] [--seed S] [--kinds a,b,...] [--baseline N]\n"
      "                [--flag X] [--review X] [--out DIR] [--threads N] [--slicers] [--keep-pack FILE]\n"
      "                [--keep-cases DIR] FOLDER\n"
      "FOLDER: meshes (searched recursively). The first N (after a seeded shuffle) are enrolled,\n"
      "the next --distractors are scanned as unrelated uploads; --look-alikes K adds K unevenly\n"
      "stretched copies of each (benign look-alikes: more distractors than the folder holds).\n"
      "--keep-pack FILE keeps the enrolled pack (to scan single cases again with the CLI).\n"
      "--keep-cases DIR keeps every case's files in DIR (to look at a miss with the CLI).\n"
      "--dense FILE (repeatable): only scan FILE against the enrolled references and print the dense\n"
      "containment check of every match in the review band or above (no suite, no distractors).");
}

}  // namespace

int main(int argc, char** argv) {
  size_t n_refs = 20, n_distractors = 100, baseline = 0, look_alikes = 0;
  bool verbose = false, slicers = false;
  uint64_t seed = 1;
  std::string folder, out_dir, kinds_arg, keep_pack, keep_cases;
  std::vector<std::string> dense_only;
  EvalOptions eo;
  ScanOptions& opt = eo.scan;
  opt.threads = 1;  // latency is quoted per core
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--refs") n_refs = std::stoul(next());
    else if (a == "--distractors") n_distractors = std::stoul(next());
    else if (a == "--look-alikes") look_alikes = std::stoul(next());
    else if (a == "--seed") seed = std::stoull(next());
    else if (a == "--baseline") baseline = std::stoul(next());
    else if (a == "--out" || a == "--json") out_dir = next();
    else if (a == "--kinds") kinds_arg = next();
    else if (a == "--flag") opt.flag_score = std::stod(next());
    else if (a == "--review") opt.review_score = std::stod(next());
    else if (a == "--threads") opt.threads = uint32_t(std::stoul(next()));
    else if (a == "--verbose") verbose = true;
    else if (a == "--slicers") slicers = true;
    else if (a == "--keep-pack") keep_pack = next();
    else if (a == "--keep-cases") keep_cases = next();
    else if (a == "--dense") dense_only.push_back(next());
    else if (a == "--tolerance") opt.coverage_tolerance = std::stod(next());
    else if (a == "--normal") opt.normal_agreement = std::stod(next());
    else if (a == "--help" || a == "-h") { usage(); return 0; }
    else folder = a;
  }
  if (folder.empty()) { usage(); return 2; }
  try {
    std::vector<std::string> files = eval_mesh_files(folder);
    std::mt19937_64 rng(seed);
    std::shuffle(files.begin(), files.end(), rng);
    eo.seed = seed;
    if (!kinds_arg.empty()) {
      for (size_t p = 0; p <= kinds_arg.size();) {
        size_t q = kinds_arg.find(',', p);
        if (q == std::string::npos) q = kinds_arg.size();
        if (q > p) eo.kinds.push_back(kinds_arg.substr(p, q - p));
        p = q + 1;
      }
    } else if (slicers) {
      eo.kinds = eval_default_kinds();
      eo.kinds.push_back("gcode_prusa");
      eo.kinds.push_back("gcode_cura");
    }
    if (slicers) eo.cura_definition = PARTSCREEN_CURA_DEFINITION;
    // References: the first N readable files; ids are stems (#n when a stem repeats).
    std::vector<EvalReference> refs;
    std::vector<ReferenceInput> inputs;
    size_t cursor = 0;
    for (; cursor < files.size() && refs.size() < n_refs; ++cursor) {
      try {
        load_file(files[cursor]);
      } catch (const Error& e) {
        std::fprintf(stderr, "skip reference %s\n", e.what());
        continue;
      }
      std::string id = fs::path(files[cursor]).stem().string() + "#" + std::to_string(refs.size());
      refs.push_back({id, files[cursor]});
      inputs.push_back({files[cursor], id, "bench", ""});
    }
    // Distractors: the next M files outside the references' design families; the relatives met
    // on the way are scanned too and reported apart (run_eval recognises them).
    std::vector<std::string> families;
    for (const auto& r : refs) families.push_back(design_family(r.path));
    std::vector<std::string> distractors;
    size_t unrelated = 0;
    for (; cursor < files.size() && unrelated < n_distractors; ++cursor) {
      distractors.push_back(files[cursor]);
      unrelated += std::find(families.begin(), families.end(), design_family(files[cursor])) == families.end();
    }
    // Look-alikes: each unrelated distractor also as K copies stretched unevenly (one axis at least
    // 25% more than another): benign parts of the same kind and size, but not the same shape, so
    // the false-positive rate is measured on five times as many uploads. Named <stem>_<k> so a
    // copy keeps its original's design family.
    const fs::path look_dir = fs::temp_directory_path() / ("partscreen-bench-lookalikes-" + std::to_string(seed));
    if (look_alikes > 0) {
      fs::create_directories(look_dir);
      std::mt19937_64 shape_rng(seed ^ 0x100c);
      std::uniform_real_distribution<float> u(0.7f, 1.4f);
      const size_t originals = distractors.size();
      for (size_t d = 0; d < originals; ++d) {
        if (std::find(families.begin(), families.end(), design_family(distractors[d])) != families.end()) continue;
        Mesh m;
        try {
          m = load_file(distractors[d]).mesh;
        } catch (const Error&) {
          continue;  // run_eval reports the unreadable original
        }
        for (size_t k = 1; k <= look_alikes; ++k) {
          float f[3];
          do {
            for (float& x : f) x = u(shape_rng);
          } while (std::max({f[0], f[1], f[2]}) < 1.25f * std::min({f[0], f[1], f[2]}));
          Mesh c = m;
          for (size_t i = 0; i < c.positions.size(); ++i) c.positions[i] *= f[i % 3];
          const std::string out = (look_dir / (fs::path(distractors[d]).stem().string() + "_" + std::to_string(k) + ".stl")).string();
          write_binary_stl(c, out);
          distractors.push_back(out);
        }
      }
    }
    const std::string pack_path = (fs::temp_directory_path() / ("partscreen-bench-" + std::to_string(seed) + "-" + std::to_string(getpid()) + ".pack")).string();
    EnrollOptions en;
    en.pack_name = "bench";
    EnrollReport er = enroll(inputs, pack_path, en);
    Pack pack = Pack::open(pack_path);
    std::printf("pack: %zu references, %.1f KiB per reference, enrolled in %.0f ms\n", pack.reference_count(),
                double(er.pack_bytes) / 1024.0 / double(pack.reference_count()), er.total_ms);
    eo.scan.report_score = 0.05;
    if (!keep_cases.empty()) {
      eo.cases_dir = keep_cases;
      eo.keep_case_files = true;
    }
    if (!dense_only.empty()) {
      std::map<std::string, std::string> ref_paths;
      for (const EvalReference& r : refs) ref_paths[r.id] = r.path;
      for (const std::string& f : dense_only) {
        const LoadedFile up = load_file(f, opt.load);
        for (const Match& m : scan_loaded({up}, pack, opt).matches) {
          if (m.score < opt.review_score) continue;
          const bench::Containment k = bench::dense_containment(load_file(ref_paths.at(m.reference), opt.load).mesh, up.mesh, m.transform);
          std::printf("%s -> %s (%.3f, coverage %.3f): reference found %.1f%% (%.1f%% at 3x), upload explained %.1f%%, scale %.3f, "
                      "tolerance %.3f mm\n",
                      f.c_str(), m.reference.c_str(), m.score, m.coverage, 100 * k.reference_found, 100 * k.reference_found_loose,
                      100 * k.upload_explained, k.scale, k.tolerance_mm);
        }
      }
      std::remove(pack_path.c_str());
      return 0;
    }
    eo.progress = [&](size_t done, size_t total, const std::string& item) {
      if (verbose) std::fprintf(stderr, "\n%s", item.c_str());
      else std::fprintf(stderr, "\r%zu/%zu cases", done, total);
    };
    EvalReport report = run_eval(pack, refs, distractors, eo);
    std::fprintf(stderr, "\n");
    if (!out_dir.empty()) write_eval_report(report, out_dir);
    const EvalSummary& s = report.summary;
    // Report (the same tables as before run_eval existed, so results stay comparable).
    std::printf("\n| transformation | cases | flagged | review | right reference | median score |\n|---|---|---|---|---|---|\n");
    for (const EvalKindRow& k : s.by_kind)
      std::printf("| %s | %zu | %.1f%% | %.1f%% | %.1f%% | %.2f |\n", k.kind.c_str(), k.cases,
                  100.0 * k.flagged / std::max<size_t>(1, k.cases), 100.0 * k.review / std::max<size_t>(1, k.cases),
                  100.0 * k.right / std::max<size_t>(1, k.flagged), k.median_score);
    std::printf("\nall variants: %zu cases (%zu skipped), detection %.2f%%, right reference in %.2f%% of detections\n", s.cases,
                s.skipped, 100.0 * s.detection, 100.0 * s.right_rate);
    std::printf("distractors: %zu, flagged %zu (%.2f%%), review %zu (%.2f%%), max score %.3f, p95 score %.3f\n", s.distractors,
                s.distractor_flagged, 100.0 * s.distractor_flagged / std::max<size_t>(1, s.distractors), s.distractor_review,
                100.0 * s.distractor_review / std::max<size_t>(1, s.distractors), s.max_distractor_score, s.p95_distractor_score);
    for (const EvalFalsePositive& f : s.false_positives)
      std::printf("  false positive: %s -> %s (%.3f)\n", f.file.c_str(), f.reference.c_str(), f.score);
    for (const EvalCase& c : report.cases)
      if (c.group == "reference" && (!c.detected() || !c.right_reference()))
        std::printf("  miss: %s %s -> %s %s (%.3f)%s%s\n", c.reference.c_str(), c.name.c_str(), c.verdict.c_str(),
                    c.top_reference.c_str(), c.score, c.note.empty() ? "" : " ", c.note.c_str());
    // Flagged distractors that really hold the reference: an edited copy (another cut-out, the
    // reference as a region of a larger part) is what the issue requires to be FOUND, so such a
    // case is a mislabelled relative, not a false positive. Told by the dense check
    // (containment.h), not by the engine: at least kContained of the reference's surface must lie
    // on the upload where the engine placed it.
    constexpr double kContained = 0.90;
    size_t containing = 0;
    std::map<std::string, std::string> ref_paths;
    for (const EvalReference& r : refs) ref_paths[r.id] = r.path;
    std::printf("dense check of flagged distractors (reference surface within %.1f%% of its size of the upload, both ways):\n",
                100 * 0.004);
    for (const EvalCase& c : report.cases) {
      if (c.group != "distractor" || !c.detected()) continue;
      try {
        const LoadedFile up = load_file(c.files[0], opt.load);
        const ScanResult res = scan_loaded({up}, pack, opt);
        const Match* m = nullptr;
        for (const Match& x : res.matches)
          if (x.reference == c.top_reference) { m = &x; break; }
        if (!m) {
          std::printf("  %s: rescan did not find %s again\n", c.files[0].c_str(), c.top_reference.c_str());
          continue;
        }
        const bench::Containment k = bench::dense_containment(load_file(ref_paths.at(c.top_reference), opt.load).mesh, up.mesh, m->transform);
        const bool holds = k.reference_found >= kContained;
        containing += holds;
        std::printf("  %s: %s -> %s (%.3f): reference found %.1f%% (%.1f%% at 3x), upload explained %.1f%%, scale %.3f, "
                    "tolerance %.3f mm\n",
                    holds ? "containing relative" : "false positive", c.files[0].c_str(), c.top_reference.c_str(), c.score,
                    100 * k.reference_found, 100 * k.reference_found_loose, 100 * k.upload_explained, k.scale, k.tolerance_mm);
      } catch (const Error& e) {
        std::printf("  %s: dense check failed: %s\n", c.files[0].c_str(), e.what());
      }
    }
    std::printf("distractors flagged: %zu raw, %zu containing the reference (dense check >= %.0f%%), %zu false positives (%.2f%%)\n",
                s.distractor_flagged, containing, 100 * kContained, s.distractor_flagged - containing,
                100.0 * double(s.distractor_flagged - containing) / double(std::max<size_t>(1, s.distractors)));
    std::printf("design-family relatives of references (mirror twins, resized variants; not counted above): %zu, %zu not clear\n",
                s.relatives, s.relatives_not_clear);
    for (const EvalCase& c : report.cases)
      if (c.group == "relative")
        std::printf("  relative: %s -> %s %s (%.3f)\n", c.files[0].c_str(), c.verdict.c_str(), c.top_reference.c_str(), c.score);
    for (const EvalThreshold& t : s.thresholds)
      std::printf("threshold for %.1f%% false positives: %.3f (detection %.1f%%)%s\n", 100 * t.target_fpr, t.threshold,
                  100 * t.detection, t.estimable ? "" : " - too few distractors to tell");
    std::printf("latency (%u thread%s, reading the files included): p50 %.1f ms, p95 %.1f ms, p99 %.1f ms\n", opt.threads,
                opt.threads == 1 ? "" : "s", s.latency_p50, s.latency_p95, s.latency_p99);
    if (baseline > 0) {
      ScanOptions naive = opt;
      naive.use_index = false;
      std::vector<double> a, b;
      size_t done = 0;
      for (const EvalCase& c : report.cases) {
        if (c.group != "distractor" || done >= baseline) continue;
        ++done;
        try {
          LoadedFile f = load_file(c.files[0]);
          a.push_back(scan_loaded({f}, pack, opt).timings.total_ms);
          b.push_back(scan_loaded({f}, pack, naive).timings.total_ms);
        } catch (const Error&) {
        }
      }
      std::printf("baseline (verify every reference) on %zu uploads: median %.1f ms vs indexed %.1f ms (%.1fx)\n", a.size(),
                  pct(b, 0.5), pct(a, 0.5), pct(b, 0.5) / std::max(1e-9, pct(a, 0.5)));
    }
    if (!keep_pack.empty()) fs::copy_file(pack_path, keep_pack, fs::copy_options::overwrite_existing);
    std::remove(pack_path.c_str());
  } catch (const Error& e) {
    std::fprintf(stderr, "accuracy: %s\n", e.what());
    return 2;
  }
  return 0;
}
