// SPDX-License-Identifier: GPL-3.0-or-later
// Accuracy and speed benchmark of the matching engine (issue: matching engine).
// Enrolls N reference parts from a folder of meshes, generates the transformation suite for each,
// scans every variant and every distractor (the folder's other parts), and reports detection per
// transformation, false positives, correct-reference rate, latency percentiles and pack size;
// with --baseline also the naive "verify every reference" pipeline on the same cases.
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

#include "partscreen/partscreen.h"
#include "partscreen/variants.h"

namespace fs = std::filesystem;
using namespace partscreen;

namespace {

struct Case {
  std::string kind, ref, name;
  std::string verdict, top;
  double score = 0, ms = 0, scale = 0;
  bool mirrored = false, detected = false, right = false;
};

// A design family: the file stem without side (left/right, a/b), size and count tokens. Members of
// a reference's family are its mirror twin or a resized variant (a 250 mm and a 350 mm skirt):
// under our own transformation model they ARE the reference, so they are reported apart from
// unrelated distractors instead of being counted as false positives.
std::string family(const std::string& path) {
  std::string stem = fs::path(path).stem().string();
  std::transform(stem.begin(), stem.end(), stem.begin(), ::tolower);
  std::vector<std::string> tokens;
  std::string cur;
  for (char c : stem + "_") {
    if (std::isalnum(static_cast<unsigned char>(c))) { cur += c; continue; }
    if (!cur.empty()) tokens.push_back(cur);
    cur.clear();
  }
  std::string out;
  for (const std::string& t : tokens) {
    bool digits = std::all_of(t.begin(), t.end(), ::isdigit);
    bool count = t.size() >= 2 && t[0] == 'x' && std::all_of(t.begin() + 1, t.end(), ::isdigit);
    bool rev = t.rfind("rev", 0) == 0 || (t[0] == 'v' && t.size() > 1 && std::isdigit(static_cast<unsigned char>(t[1])));
    bool mgn = t.rfind("mgn", 0) == 0;
    if (digits || count || rev || mgn || t == "left" || t == "right" || t == "l" || t == "r" || t == "a" || t == "b") continue;
    // "300mm", "9mm": sizes
    if (t.size() > 2 && t.compare(t.size() - 2, 2, "mm") == 0 && std::isdigit(static_cast<unsigned char>(t[0]))) continue;
    out += t + "_";
  }
  return out;
}

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(p * (v.size() - 1) + 0.5))];
}

void usage() {
  std::puts(
      "usage: accuracy [--refs N] [--distractors N] [--seed S] [--kinds a,b,...] [--baseline N]\n"
      "                [--flag X] [--review X] [--json FILE] [--threads N] FOLDER\n"
      "FOLDER: meshes (searched recursively). The first N (after a seeded shuffle) are enrolled,\n"
      "the next --distractors are scanned as unrelated uploads.");
}

}  // namespace

int main(int argc, char** argv) {
  size_t n_refs = 20, n_distractors = 100, baseline = 0;
  bool verbose = false;
  uint64_t seed = 1;
  std::string folder, json_path, kinds_arg;
  ScanOptions opt;
  opt.threads = 1;  // latency is quoted per core
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--refs") n_refs = std::stoul(next());
    else if (a == "--distractors") n_distractors = std::stoul(next());
    else if (a == "--seed") seed = std::stoull(next());
    else if (a == "--baseline") baseline = std::stoul(next());
    else if (a == "--json") json_path = next();
    else if (a == "--kinds") kinds_arg = next();
    else if (a == "--flag") opt.flag_score = std::stod(next());
    else if (a == "--review") opt.review_score = std::stod(next());
    else if (a == "--threads") opt.threads = uint32_t(std::stoul(next()));
    else if (a == "--verbose") verbose = true;
    else if (a == "--tolerance") opt.coverage_tolerance = std::stod(next());
    else if (a == "--normal") opt.normal_agreement = std::stod(next());
    else if (a == "--help" || a == "-h") { usage(); return 0; }
    else folder = a;
  }
  if (folder.empty()) { usage(); return 2; }
  std::vector<std::string> files;
  for (auto& e : fs::recursive_directory_iterator(folder)) {
    if (!e.is_regular_file()) continue;
    std::string ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
    if (ext == ".stl" || ext == ".obj" || ext == ".off" || ext == ".ply" || ext == ".3mf") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  std::mt19937_64 rng(seed);
  std::shuffle(files.begin(), files.end(), rng);
  std::vector<VariantKind> kinds = all_variant_kinds();
  if (!kinds_arg.empty()) {
    kinds.clear();
    for (VariantKind k : all_variant_kinds())
      if (("," + kinds_arg + ",").find("," + std::string(variant_name(k)) + ",") != std::string::npos) kinds.push_back(k);
  }
  // Load references (skipping unreadable ones) and distractors.
  std::vector<ReferenceInput> ref_inputs;
  std::vector<Mesh> ref_meshes;
  size_t cursor = 0;
  for (; cursor < files.size() && ref_inputs.size() < n_refs; ++cursor) {
    try {
      LoadedFile f = load_file(files[cursor]);
      ReferenceInput in;
      in.path = files[cursor];
      in.id = fs::path(files[cursor]).stem().string() + "#" + std::to_string(ref_inputs.size());
      in.category = "bench";
      ref_inputs.push_back(in);
      ref_meshes.push_back(std::move(f.mesh));
    } catch (const Error& e) {
      std::fprintf(stderr, "skip reference %s\n", e.what());
    }
  }
  std::vector<std::string> ref_families;
  for (const auto& r : ref_inputs) ref_families.push_back(family(r.path));
  auto related = [&](const std::string& path) {
    return std::find(ref_families.begin(), ref_families.end(), family(path)) != ref_families.end();
  };
  std::vector<LoadedFile> distractors;
  std::vector<LoadedFile> relatives;  // mirror twins and resized variants of a reference
  std::vector<Mesh> plate_fill;
  for (; cursor < files.size() && distractors.size() < n_distractors; ++cursor) {
    try {
      if (related(files[cursor])) {
        relatives.push_back(load_file(files[cursor]));
        continue;
      }
      distractors.push_back(load_file(files[cursor]));
      if (plate_fill.size() < 8) plate_fill.push_back(distractors.back().mesh);
    } catch (const Error& e) {
      std::fprintf(stderr, "skip distractor %s\n", e.what());
    }
  }
  const std::string pack_path = (fs::temp_directory_path() / ("partscreen-bench-" + std::to_string(seed) + ".pack")).string();
  EnrollOptions eo;
  eo.pack_name = "bench";
  EnrollReport er = enroll(ref_inputs, pack_path, eo);
  Pack pack = Pack::open(pack_path);
  std::printf("pack: %zu references, %.1f KiB per reference, enrolled in %.0f ms\n", pack.reference_count(),
              double(er.pack_bytes) / 1024.0 / double(pack.reference_count()), er.total_ms);

  std::vector<Case> cases;
  std::vector<double> lat;
  for (size_t r = 0; r < ref_inputs.size(); ++r) {
    for (VariantKind k : kinds) {
      Variant v;
      try {
        std::vector<Mesh> others;
        for (size_t o = 0; o < 3 && o < plate_fill.size(); ++o) others.push_back(plate_fill[(r + o) % plate_fill.size()]);
        v = make_variant(ref_meshes[r], k, seed * 1000 + r, others);
      } catch (const Error& e) {
        continue;
      }
      std::vector<LoadedFile> job;
      for (size_t f = 0; f < v.files.size(); ++f) job.push_back(loaded_from_mesh(v.files[f], v.name + "." + std::to_string(f) + ".stl"));
      ScanResult res = scan_loaded(job, pack, opt);
      Case c;
      c.kind = variant_name(k);
      c.ref = ref_inputs[r].id;
      c.name = v.name;
      c.verdict = verdict_name(res.verdict);
      c.ms = res.timings.total_ms;
      lat.push_back(c.ms);
      if (!res.matches.empty()) {
        c.top = res.matches[0].reference;
        c.score = res.matches[0].score;
        c.scale = res.matches[0].scale;
        c.mirrored = res.matches[0].mirrored;
      }
      c.detected = res.verdict == Verdict::flagged;
      c.right = c.top == c.ref;
      if (verbose) std::fprintf(stderr, "\n%s %s: %s %.3f %.0f ms", c.ref.c_str(), c.name.c_str(), c.verdict.c_str(), c.score, c.ms);
      cases.push_back(c);
      std::fprintf(stderr, "\r%zu/%zu references", r + 1, ref_inputs.size());
    }
  }
  std::fprintf(stderr, "\n");
  std::vector<Case> dcases;
  for (size_t d = 0; d < distractors.size(); ++d) {
    if (verbose) std::fprintf(stderr, "\ndistractor %s", distractors[d].path.c_str());
    ScanResult res = scan_loaded({distractors[d]}, pack, opt);
    Case c;
    c.kind = "distractor";
    c.name = distractors[d].path;
    c.verdict = verdict_name(res.verdict);
    c.ms = res.timings.total_ms;
    lat.push_back(c.ms);
    if (!res.matches.empty()) { c.top = res.matches[0].reference; c.score = res.matches[0].score; }
    dcases.push_back(c);
  }
  std::vector<Case> rcases;
  for (const LoadedFile& f : relatives) {
    ScanResult res = scan_loaded({f}, pack, opt);
    Case c;
    c.kind = "relative";
    c.name = f.path;
    c.verdict = verdict_name(res.verdict);
    if (!res.matches.empty()) { c.top = res.matches[0].reference; c.score = res.matches[0].score; }
    rcases.push_back(c);
  }
  // Report.
  std::printf("\n| transformation | cases | flagged | review | right reference | median score |\n|---|---|---|---|---|---|\n");
  std::map<std::string, std::vector<const Case*>> by_kind;
  for (const Case& c : cases) by_kind[c.kind].push_back(&c);
  size_t det = 0, right = 0, total = 0;
  for (VariantKind k : kinds) {
    auto& list = by_kind[variant_name(k)];
    size_t f = 0, rv = 0, rt = 0;
    std::vector<double> scores;
    for (auto* c : list) { f += c->detected; rv += c->verdict == "review"; rt += c->detected && c->right; scores.push_back(c->score); }
    det += f; right += rt; total += list.size();
    std::printf("| %s | %zu | %.1f%% | %.1f%% | %.1f%% | %.2f |\n", variant_name(k), list.size(), 100.0 * f / std::max<size_t>(1, list.size()),
                100.0 * rv / std::max<size_t>(1, list.size()), 100.0 * rt / std::max<size_t>(1, f), pct(scores, 0.5));
  }
  size_t fp_flag = 0, fp_review = 0;
  std::vector<double> dscores;
  for (const Case& c : dcases) { fp_flag += c.verdict == "flagged"; fp_review += c.verdict == "review"; dscores.push_back(c.score); }
  std::printf("\nall variants: %zu cases, detection %.2f%%, right reference in %.2f%% of detections\n", total, 100.0 * det / std::max<size_t>(1, total),
              100.0 * right / std::max<size_t>(1, det));
  std::printf("distractors: %zu, flagged %zu (%.2f%%), review %zu (%.2f%%), max score %.3f, p95 score %.3f\n", dcases.size(), fp_flag,
              100.0 * fp_flag / std::max<size_t>(1, dcases.size()), fp_review, 100.0 * fp_review / std::max<size_t>(1, dcases.size()), pct(dscores, 1.0), pct(dscores, 0.95));
  for (const Case& c : dcases)
    if (c.verdict != "clear") std::printf("  false positive: %s -> %s (%.3f)\n", c.name.c_str(), c.top.c_str(), c.score);
  for (const Case& c : cases)
    if (!c.detected || !c.right) std::printf("  miss: %s %s -> %s %s (%.3f)\n", c.ref.c_str(), c.name.c_str(), c.verdict.c_str(), c.top.c_str(), c.score);
  size_t rel_hit = 0;
  for (const Case& c : rcases) rel_hit += c.verdict != "clear";
  std::printf("design-family relatives of references (mirror twins, resized variants; not counted above): %zu, %zu not clear\n",
              rcases.size(), rel_hit);
  for (const Case& c : rcases) std::printf("  relative: %s -> %s %s (%.3f)\n", c.name.c_str(), c.verdict.c_str(), c.top.c_str(), c.score);
  std::printf("latency (1 thread): p50 %.1f ms, p95 %.1f ms\n", pct(lat, 0.5), pct(lat, 0.95));
  if (baseline > 0) {
    ScanOptions naive = opt;
    naive.use_index = false;
    std::vector<double> a, b;
    for (size_t d = 0; d < std::min(baseline, distractors.size()); ++d) {
      a.push_back(scan_loaded({distractors[d]}, pack, opt).timings.total_ms);
      b.push_back(scan_loaded({distractors[d]}, pack, naive).timings.total_ms);
    }
    std::printf("baseline (verify every reference) on %zu uploads: median %.1f ms vs indexed %.1f ms (%.1fx)\n", a.size(), pct(b, 0.5), pct(a, 0.5),
                pct(b, 0.5) / std::max(1e-9, pct(a, 0.5)));
  }
  std::remove(pack_path.c_str());
  return 0;
}
