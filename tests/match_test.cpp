// SPDX-License-Identifier: GPL-3.0-or-later
// The matching engine end to end on real meshes: CGAL's sample parts are enrolled once, then every
// transformation of the variant suite (partscreen/variants.h) is scanned for every reference.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>
#include <array>
#include <random>
#include <unordered_map>

#include <Eigen/Geometry>
#include <gtest/gtest.h>

#include "engine_fixtures.h"
#include "stl_fixtures.h"
#include "eval/mesh_ops.h"
#include "geometry/enclosed.h"
#include "geometry/reassemble.h"
#include "match/align.h"
#include "partscreen/partscreen.h"
#include "partscreen/variants.h"

namespace partscreen::test {
namespace {


// ---------------------------------------------------------------- mirror symmetry
// A part congruent to its own mirror image has no handedness to recover, so the `mirrored` flag of
// a match is meaningless for it. Decided here from the geometry alone (not from the engine):
// the part is mirror-symmetric when reflecting its surface across some plane through its area
// centroid maps it onto itself within 1.5% of its bounding-box diagonal. Candidate plane normals
// are a Fibonacci half-sphere, the best few refined by local search (gears need fine angles).
using P3 = std::array<double, 3>;

struct SurfaceSamples {
  std::vector<P3> points;
  double cell = 1.0;
  std::unordered_map<uint64_t, std::vector<uint32_t>> grid;
  uint64_t key(const P3& p) const {
    auto q = [&](double x) { return uint64_t(int64_t(std::floor(x / cell)) + (1 << 20)) & 0x1fffff; };
    return (q(p[0]) << 42) | (q(p[1]) << 21) | q(p[2]);
  }
  bool near(const P3& p, double tol) const {
    const double t2 = tol * tol;
    for (int dx = -1; dx <= 1; ++dx)
      for (int dy = -1; dy <= 1; ++dy)
        for (int dz = -1; dz <= 1; ++dz) {
          auto it = grid.find(key(P3{p[0] + dx * cell, p[1] + dy * cell, p[2] + dz * cell}));
          if (it == grid.end()) continue;
          for (uint32_t i : it->second) {
            const P3& s = points[i];
            double d2 = (s[0] - p[0]) * (s[0] - p[0]) + (s[1] - p[1]) * (s[1] - p[1]) + (s[2] - p[2]) * (s[2] - p[2]);
            if (d2 <= t2) return true;
          }
        }
    return false;
  }
};

bool mirror_symmetric(const Mesh& m) {
  // Area-weighted surface samples (deterministic), area centroid, diagonal.
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const size_t nt = m.triangle_count();
  std::vector<double> cum(nt);
  P3 centroid{0, 0, 0}, lo{1e300, 1e300, 1e300}, hi{-1e300, -1e300, -1e300};
  double total = 0;
  auto v = [&](uint32_t i) { return P3{m.positions[3 * i], m.positions[3 * i + 1], m.positions[3 * i + 2]}; };
  for (size_t t = 0; t < nt; ++t) {
    P3 a = v(m.indices[3 * t]), b = v(m.indices[3 * t + 1]), c = v(m.indices[3 * t + 2]);
    P3 e1{b[0] - a[0], b[1] - a[1], b[2] - a[2]}, e2{c[0] - a[0], c[1] - a[1], c[2] - a[2]};
    P3 x{e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2], e1[0] * e2[1] - e1[1] * e2[0]};
    double area = 0.5 * std::sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
    total += area;
    cum[t] = total;
    for (int d = 0; d < 3; ++d) {
      centroid[d] += area * (a[d] + b[d] + c[d]) / 3.0;
      lo[d] = std::min({lo[d], a[d], b[d], c[d]});
      hi[d] = std::max({hi[d], a[d], b[d], c[d]});
    }
  }
  for (double& c : centroid) c /= total;
  const double diag = std::sqrt((hi[0] - lo[0]) * (hi[0] - lo[0]) + (hi[1] - lo[1]) * (hi[1] - lo[1]) + (hi[2] - lo[2]) * (hi[2] - lo[2]));
  SurfaceSamples s;
  s.cell = 0.015 * diag;
  for (int i = 0; i < 40000; ++i) {
    size_t t = size_t(std::lower_bound(cum.begin(), cum.end(), u(rng) * total) - cum.begin());
    t = std::min(t, nt - 1);
    double r1 = std::sqrt(u(rng)), r2 = u(rng);
    P3 a = v(m.indices[3 * t]), b = v(m.indices[3 * t + 1]), c = v(m.indices[3 * t + 2]), p;
    for (int d = 0; d < 3; ++d) p[d] = (1 - r1) * a[d] + r1 * (1 - r2) * b[d] + r1 * r2 * c[d];
    s.grid[s.key(p)].push_back(uint32_t(s.points.size()));
    s.points.push_back(p);
  }
  const size_t queries = 400;
  auto agreement = [&](P3 n) {
    double len = std::sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
    for (double& x : n) x /= len;
    size_t hit = 0;
    for (size_t q = 0; q < queries; ++q) {
      const P3& p = s.points[q * 97 % s.points.size()];
      double d = 0;
      for (int k = 0; k < 3; ++k) d += (p[k] - centroid[k]) * n[k];
      P3 r{p[0] - 2 * d * n[0], p[1] - 2 * d * n[1], p[2] - 2 * d * n[2]};
      hit += s.near(r, s.cell);
    }
    return double(hit) / queries;
  };
  std::vector<std::pair<double, P3>> start;
  const int n_dirs = 1500;
  for (int i = 0; i < n_dirs; ++i) {  // Fibonacci half-sphere
    double z = 1.0 - double(i) / n_dirs, r = std::sqrt(1 - z * z), phi = i * 2.399963229728653;
    P3 n{r * std::cos(phi), r * std::sin(phi), z};
    start.push_back({agreement(n), n});
  }
  std::sort(start.begin(), start.end(), [](auto& a, auto& b) { return a.first > b.first; });
  double best = 0;
  for (size_t k = 0; k < 6 && k < start.size(); ++k) {
    auto [score, n] = start[k];
    for (double step = 0.04; step > 0.002; step *= 0.5) {
      bool moved = true;
      while (moved) {
        moved = false;
        for (int d = 0; d < 3; ++d)
          for (double sgn : {-1.0, 1.0}) {
            P3 t = n;
            t[d] += sgn * step;
            double a = agreement(t);
            if (a > score) { score = a; n = t; moved = true; }
          }
      }
    }
    best = std::max(best, score);
  }
  return best >= 0.97;
}

ScanOptions two_threads() {
  ScanOptions o;
  o.threads = 2;
  return o;
}

std::vector<LoadedFile> job_of(const Variant& v) {
  std::vector<LoadedFile> job;
  for (size_t f = 0; f < v.files.size(); ++f)
    job.push_back(loaded_from_mesh(v.files[f], v.name + ".file" + std::to_string(f) + ".stl"));
  return job;
}

// One pack of seven references for the whole file.
class Engine : public ::testing::Test {
public:
  static void SetUpTestSuite() {
    if (!have_cgal_data() || pack_) return;
    dir_ = new TempDir("partscreen_match");
    EnrollOptions eo;
    eo.threads = 2;
    eo.pack_name = "match_test";
    enroll(reference_inputs(reference_stems()), dir_->file("refs.pack"), eo);
    pack_ = new Pack(Pack::open(dir_->file("refs.pack")));
    meshes_ = new std::map<std::string, Mesh>;
    for (const std::string& s : reference_stems()) (*meshes_)[s] = load_file(cgal_mesh(s)).mesh;
    // Plate fillers: parts that are not enrolled.
    plate_ = new std::vector<Mesh>;
    for (const char* s : {"oblong", "cylinder"}) plate_->push_back(load_file(cgal_mesh(s)).mesh);
  }
  static void TearDownTestSuite() {
    delete pack_;
    delete meshes_;
    delete plate_;
    delete dir_;
    pack_ = nullptr;
    meshes_ = nullptr;
    plate_ = nullptr;
    dir_ = nullptr;
  }

protected:
  void SetUp() override { PARTSCREEN_REQUIRE_CGAL_DATA(); }
  static const Pack& pack() { return *pack_; }
  static const Mesh& mesh(const std::string& stem) { return meshes_->at(stem); }
  static const std::vector<Mesh>& plate() { return *plate_; }
  static bool symmetric(const std::string& stem) {
    static std::map<std::string, bool> cache;
    auto it = cache.find(stem);
    return it != cache.end() ? it->second : (cache[stem] = mirror_symmetric(mesh(stem)));
  }

  static TempDir* dir_;
  static Pack* pack_;
  static std::map<std::string, Mesh>* meshes_;
  static std::vector<Mesh>* plate_;
};
TempDir* Engine::dir_ = nullptr;
Pack* Engine::pack_ = nullptr;
std::map<std::string, Mesh>* Engine::meshes_ = nullptr;
std::vector<Mesh>* Engine::plate_ = nullptr;

struct Case {
  std::string stem;
  VariantKind kind;
};

// The variants a reference cannot take, each refused with the reason (pinned by
// Engine.VariantsThatCannotBeMadeSayWhy): the pinion's teeth leave no spot for seed 1's
// engraved label (its grooves would cut them off); couplingdown and handle have no straight
// sharp edge to fillet (round bodies, rounded edges).
bool refused_by_design(const std::string& stem, VariantKind k) {
  return (k == VariantKind::lettering && stem == "pinion") ||
         (k == VariantKind::fillets && (stem == "couplingdown" || stem == "handle"));
}

std::vector<Case> all_cases() {
  std::vector<Case> out;
  for (const std::string& s : reference_stems())
    for (VariantKind k : all_variant_kinds())
      if (!refused_by_design(s, k)) out.push_back(Case{s, k});
  return out;
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  std::string n = info.param.stem + "_" + variant_name(info.param.kind);
  for (char& c : n)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
}

class Variants : public Engine, public ::testing::WithParamInterface<Case> {};

#ifndef PARTSCREEN_SLOW_TESTS
// The transformations that keep the whole part in one piece, unchanged but for a similarity and
// surface noise: flagged for every reference (measured at seed 1: lowest score 0.874, handle
// under rigid and subdivide+noise).
bool exact_whole_part(VariantKind k) {
  switch (k) {
    case VariantKind::decimate:
    case VariantKind::pieces:
    case VariantKind::plate:
    case VariantKind::fused: return false;
    default: return true;
  }
}

TEST_P(Variants, FoundAsTheRightReference) {
  const Case& c = GetParam();
  const Variant v = make_variant(mesh(c.stem), c.kind, 1, plate());
  const std::vector<LoadedFile> job = job_of(v);
  const ScanResult r = scan_loaded(job, pack(), two_threads());
  ASSERT_FALSE(r.matches.empty()) << v.name << ": nothing found";
  const Match& top = r.matches[0];
  SCOPED_TRACE(v.name + ": top " + top.reference + " score " + std::to_string(top.score) + " verdict " + verdict_name(r.verdict));
  EXPECT_EQ(top.reference, c.stem);
  EXPECT_EQ(top.category, "demo");
  if (exact_whole_part(c.kind)) {
    EXPECT_EQ(r.verdict, Verdict::flagged);
  } else if (c.kind == VariantKind::pieces) {
    // Pieces at seed 1 (2-3 pieces over two files): every reference flagged, lowest score 0.878
    // (handle). Over seeds 1-5, 33 of 35 are flagged (SlowEngine.PiecesOverSeeds).
    EXPECT_EQ(r.verdict, Verdict::flagged);
  } else {
    // decimate25, plate and fused: at least review. Lowest scores at seed 1: spool decimate25
    // 0.680, handle on a plate 0.549, rotor fused 0.775.
    EXPECT_TRUE(r.verdict == Verdict::flagged || r.verdict == Verdict::review);
  }
  if (c.kind != VariantKind::pieces) {
    // Whole part: the scale is recovered (measured within 5.3%, spool decimate25).
    EXPECT_NEAR(top.scale / v.expected_scale, 1.0, 0.10) << "scale " << top.scale << " expected " << v.expected_scale;
  }
  if ((c.kind == VariantKind::mirror || c.kind == VariantKind::combined || c.kind == VariantKind::identity) &&
      !symmetric(c.stem)) {
    // Only fandisk of the seven is not mirror-symmetric; pinion, rotor, couplingdown, spool,
    // anchor and handle are, so a mirrored and a proper fit are equally right for them.
    EXPECT_EQ(top.mirrored, v.expected_mirrored);
  }
  EXPECT_GT(top.coverage, 0.0);
  EXPECT_LE(top.coverage, 1.0);
  ASSERT_FALSE(top.parts.empty());
  std::set<std::string> names;
  for (const LoadedFile& f : job) names.insert(f.path);
  for (const MatchPart& p : top.parts) {
    EXPECT_EQ(names.count(p.file), 1u) << p.file << " is not a file of the job";
    EXPECT_GT(p.coverage, 0.0);
    EXPECT_LE(p.coverage, 1.0);
  }
  // Matches are best first and carry the thresholds they were judged with.
  for (size_t i = 1; i < r.matches.size(); ++i) EXPECT_GE(r.matches[i - 1].score, r.matches[i].score);
  EXPECT_EQ(r.pack_checksum, pack().checksum_hex());
}

INSTANTIATE_TEST_SUITE_P(AllReferences, Variants, ::testing::ValuesIn(all_cases()), case_name);

TEST_F(Engine, VariantsThatCannotBeMadeSayWhy) {
  size_t refused = 0;
  for (const std::string& stem : reference_stems())
    for (VariantKind k : all_variant_kinds()) {
      if (!refused_by_design(stem, k)) continue;
      ++refused;
      try {
        make_variant(mesh(stem), k, 1, plate());
        ADD_FAILURE() << stem << " " << variant_name(k) << " was made: add it to the cases";
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
        const std::string why = e.what();
        EXPECT_TRUE(why.find("lettering: no spot") != std::string::npos || why.find("fillets: no straight sharp edge") != std::string::npos)
            << stem << ": " << why;
      }
    }
  EXPECT_EQ(refused, 3u);
}

// The verdict does not hang on the random draw of the transformation: rigid motions from three
// seeds all flag the same reference.
TEST_F(Engine, SameVerdictUnderSeveralSeeds) {
  for (const std::string& stem : reference_stems()) {
    for (uint64_t seed : {2, 3}) {
      ScanResult r = scan_loaded(job_of(make_variant(mesh(stem), VariantKind::rigid, seed, plate())), pack(), two_threads());
      EXPECT_EQ(r.verdict, Verdict::flagged) << stem << " seed " << seed;
      ASSERT_FALSE(r.matches.empty()) << stem << " seed " << seed;
      EXPECT_EQ(r.matches[0].reference, stem) << "seed " << seed;
    }
  }
}

// Scanning the same job twice, with one thread or two, gives the same answer to the last digit.
TEST_F(Engine, DeterministicAcrossRunsAndThreads) {
  const auto job = job_of(make_variant(mesh("anchor"), VariantKind::noise, 1, plate()));
  ScanOptions one = two_threads();
  one.threads = 1;
  const ScanResult a = scan_loaded(job, pack(), two_threads());
  const ScanResult b = scan_loaded(job, pack(), one);
  ASSERT_EQ(a.matches.size(), b.matches.size());
  for (size_t i = 0; i < a.matches.size(); ++i) {
    EXPECT_EQ(a.matches[i].reference, b.matches[i].reference);
    EXPECT_EQ(a.matches[i].score, b.matches[i].score);
    EXPECT_EQ(a.matches[i].transform, b.matches[i].transform);
  }
}

// A part cut in two halves saved as two files (no motion): both files carry the reference.
// Measured for all seven: pinion, rotor, anchor, handle and fandisk list both files; spool is
// explained by one half alone (0.92 coverage: its halves mirror each other), and couplingdown
// finds only its right half (review, 0.583; reported as an engine finding). Asserted on the
// three that list both halves and are flagged.
// A part cut in two by triangle centroid at the median along an axis (no caps: open halves).
std::array<Mesh, 2> split_at_median(const Mesh& m, int axis) {
  std::vector<float> c;
  for (size_t t = 0; t < m.triangle_count(); ++t) {
    float x = 0;
    for (int k = 0; k < 3; ++k) x += m.positions[3 * m.indices[3 * t + k] + axis];
    c.push_back(x / 3);
  }
  std::vector<float> sorted = c;
  std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
  const float median = sorted[sorted.size() / 2];
  std::array<Mesh, 2> halves;
  for (Mesh& h : halves) h.positions = m.positions;  // unused vertices are dropped by clean-up
  for (size_t t = 0; t < m.triangle_count(); ++t)
    for (int k = 0; k < 3; ++k) halves[c[t] < median ? 0 : 1].indices.push_back(m.indices[3 * t + k]);
  return halves;
}
std::array<Mesh, 2> split_at_median_x(const Mesh& m) { return split_at_median(m, 0); }

TEST_F(Engine, PartSplitOverTwoFilesReportsBothFiles) {
  for (const std::string stem : {"fandisk", "pinion", "anchor"}) {
    const std::array<Mesh, 2> halves = split_at_median_x(mesh(stem));
    std::vector<LoadedFile> job{loaded_from_mesh(halves[0], "left.stl"), loaded_from_mesh(halves[1], "right.stl")};
    ScanResult r = scan_loaded(job, pack(), two_threads());
    ASSERT_FALSE(r.matches.empty()) << stem;
    EXPECT_EQ(r.matches[0].reference, stem);
    EXPECT_EQ(r.verdict, Verdict::flagged) << stem;
    std::set<std::string> files;
    for (const MatchPart& p : r.matches[0].parts) files.insert(p.file);
    EXPECT_EQ(files, (std::set<std::string>{"left.stl", "right.stl"})) << stem;
  }

  // The variant suite's own cut (pieces moved and turned apart, over two files): spool is
  // assembled from both files at seeds 1-5 (measured).
  Variant v = make_variant(mesh("spool"), VariantKind::pieces, 1, plate());
  ASSERT_EQ(v.files.size(), 2u);
  ScanResult r = scan_loaded(job_of(v), pack(), two_threads());
  ASSERT_FALSE(r.matches.empty());
  EXPECT_EQ(r.matches[0].reference, "spool");
  std::set<std::string> files;
  for (const MatchPart& p : r.matches[0].parts) files.insert(p.file);
  EXPECT_EQ(files.size(), 2u) << v.name;
}

// Halves of a part that has a symmetry: each half fits the reference in two places (both halves
// of handle are congruent), so fitting each on its own puts both on the same half of the
// reference. Cut at the median along y and z, one half turned a quarter about z and moved
// three bounding boxes away, in its own file. Assembly must place each half where the other is
// not: flagged, both files, and the halves' coverages add up instead of overlapping.
// Measured: before assembly fitted pieces away from each other, one half only (y: 0.641
// coverage, review; z: 0.538, review); after, 1.000 and 0.994.
TEST_F(Engine, HalvesOfASymmetricPartAreEachPlacedWhereTheyBelong) {
  const Mesh& m = mesh("handle");
  ASSERT_TRUE(symmetric("handle"));
  float lo = 1e30f, hi = -1e30f;
  for (float x : m.positions) lo = std::min(lo, x), hi = std::max(hi, x);
  for (int axis : {1, 2}) {
    SCOPED_TRACE("cut along axis " + std::to_string(axis));
    std::array<Mesh, 2> halves = split_at_median(m, axis);
    for (size_t v = 0; v < halves[1].vertex_count(); ++v) {  // (x, y) -> (-y + 3 size, x)
      float& x = halves[1].positions[3 * v];
      float& y = halves[1].positions[3 * v + 1];
      const float nx = -y + 3.f * (hi - lo), ny = x;
      x = nx;
      y = ny;
    }
    std::vector<LoadedFile> job{loaded_from_mesh(halves[0], "first.stl"), loaded_from_mesh(halves[1], "second.stl")};
    const ScanResult r = scan_loaded(job, pack(), two_threads());
    ASSERT_FALSE(r.matches.empty());
    const Match& top = r.matches[0];
    EXPECT_EQ(top.reference, "handle");
    EXPECT_EQ(r.verdict, Verdict::flagged) << "score " << top.score << " coverage " << top.coverage;
    std::set<std::string> files;
    double sum = 0.0;
    for (const MatchPart& p : top.parts) {
      files.insert(p.file);
      sum += p.coverage;
    }
    EXPECT_EQ(files, (std::set<std::string>{"first.stl", "second.stl"}));
    EXPECT_GE(top.coverage, 0.9);
    // Each half explains its own half: what they explain together is nearly what they explain
    // apart (a shared cut edge at most), not one half counted twice.
    EXPECT_GE(top.coverage, 0.9 * sum) << "parts' coverages add to " << sum;
  }
}

// Distance from p to triangle (a, b, c) (Ericson, Real-Time Collision Detection, 5.1.5).
double point_triangle_distance(const P3& p, const P3& a, const P3& b, const P3& c) {
  auto sub = [](const P3& u, const P3& v) { return P3{u[0] - v[0], u[1] - v[1], u[2] - v[2]}; };
  auto dot = [](const P3& u, const P3& v) { return u[0] * v[0] + u[1] * v[1] + u[2] * v[2]; };
  auto at = [&](double v, double w) {
    P3 q;
    for (int k = 0; k < 3; ++k) q[k] = a[k] + v * (b[k] - a[k]) + w * (c[k] - a[k]);
    P3 d = sub(p, q);
    return std::sqrt(dot(d, d));
  };
  const P3 ab = sub(b, a), ac = sub(c, a), ap = sub(p, a);
  const double d1 = dot(ab, ap), d2 = dot(ac, ap);
  if (d1 <= 0 && d2 <= 0) return at(0, 0);
  const P3 bp = sub(p, b);
  const double d3 = dot(ab, bp), d4 = dot(ac, bp);
  if (d3 >= 0 && d4 <= d3) return at(1, 0);
  const double vc = d1 * d4 - d3 * d2;
  if (vc <= 0 && d1 >= 0 && d3 <= 0) return at(d1 / (d1 - d3), 0);
  const P3 cp = sub(p, c);
  const double d5 = dot(ab, cp), d6 = dot(ac, cp);
  if (d6 >= 0 && d5 <= d6) return at(0, 1);
  const double vb = d5 * d2 - d1 * d6;
  if (vb <= 0 && d2 >= 0 && d6 <= 0) return at(0, d2 / (d2 - d6));
  const double va = d3 * d6 - d5 * d4;
  if (va <= 0 && (d4 - d3) >= 0 && (d5 - d6) >= 0) {
    const double w = (d4 - d3) / ((d4 - d3) + (d5 - d6));
    return at(1 - w, w);
  }
  const double denom = 1.0 / (va + vb + vc);
  return at(vb * denom, vc * denom);
}

double distance_to_mesh(const std::array<float, 3>& q, const Mesh& m) {
  const P3 p{q[0], q[1], q[2]};
  auto vertex = [&](uint32_t i) { return P3{m.positions[3 * i], m.positions[3 * i + 1], m.positions[3 * i + 2]}; };
  double best = 1e30;
  for (size_t t = 0; t < m.triangle_count(); ++t)
    best = std::min(best, point_triangle_distance(p, vertex(m.indices[3 * t]), vertex(m.indices[3 * t + 1]),
                                                  vertex(m.indices[3 * t + 2])));
  return best;
}

// Cumulative screening: two halves of a part uploaded as two separate jobs (moved apart) are each
// only part of the reference; the union of their `found` masks explains (nearly) all of it. And
// found_points lie on the uploaded surface, where a reviewer's view highlights them.
TEST_F(Engine, FoundMasksOfSeparateJobsAddUp) {
  for (const std::string stem : {"fandisk", "anchor"}) {
    const Mesh& m = mesh(stem);
    const std::array<Mesh, 2> halves = split_at_median_x(m);
    ScanOptions o = two_threads();
    o.report_score = 0.0;  // keep partial matches: cumulative screening wants them
    std::vector<uint8_t> merged;
    double best_single = 0.0;
    for (int half = 0; half < 2; ++half) {
      Mesh h = halves[half];
      // Each job moves its half somewhere else: masks are in the reference's frame, not the upload's.
      for (size_t v = 0; v < h.positions.size(); v += 3) {
        const float x = h.positions[v], y = h.positions[v + 1];
        h.positions[v] = -y + 40.f * (half + 1);
        h.positions[v + 1] = x - 15.f;
      }
      LoadedFile f = loaded_from_mesh(h, stem + ".half" + std::to_string(half) + ".stl");
      ScanResult r = scan_loaded({f}, pack(), o);
      const Match* match = nullptr;
      for (const Match& x : r.matches)
        if (x.reference == stem) match = &x;
      ASSERT_NE(match, nullptr) << stem << " half " << half;
      // The mask reproduces the match's own coverage.
      const ReferenceCoverage own = coverage_from_found(pack(), stem, match->found);
      EXPECT_NEAR(own.coverage, match->coverage, 1e-9) << stem;
      EXPECT_LT(own.coverage, 0.85) << stem << ": a half should not explain the whole reference";
      best_single = std::max(best_single, own.score);
      size_t found = 0;
      for (uint8_t b : match->found) found += b;
      EXPECT_EQ(match->found_points.size(), found);
      const Mesh& uploaded = f.mesh;
      float lo[3] = {1e30f, 1e30f, 1e30f}, hi[3] = {-1e30f, -1e30f, -1e30f};
      for (size_t v = 0; v < m.positions.size(); ++v) {
        lo[v % 3] = std::min(lo[v % 3], m.positions[v]);
        hi[v % 3] = std::max(hi[v % 3], m.positions[v]);
      }
      const double diag = std::sqrt(double(hi[0] - lo[0]) * (hi[0] - lo[0]) + double(hi[1] - lo[1]) * (hi[1] - lo[1]) +
                                    double(hi[2] - lo[2]) * (hi[2] - lo[2]));
      size_t near = 0;
      for (const auto& q : match->found_points) near += distance_to_mesh(q, uploaded) < 0.02 * diag;
      EXPECT_GE(double(near), 0.95 * double(match->found_points.size())) << stem << " half " << half;
      if (merged.empty()) merged.assign(match->found.size(), 0);
      for (size_t k = 0; k < merged.size(); ++k) merged[k] |= match->found[k];
    }
    const ReferenceCoverage both = coverage_from_found(pack(), stem, merged);
    EXPECT_GT(both.score, best_single + 0.2) << stem;
    EXPECT_GE(both.score, ScanOptions{}.flag_score) << stem;
  }
  EXPECT_THROW(coverage_from_found(pack(), "no-such-reference", {}), Error);
  EXPECT_THROW(coverage_from_found(pack(), "fandisk", std::vector<uint8_t>(3, 1)), Error);
}

// Enclosed surface: a part buried in a hollow shell (one component with it, through sprues, with
// a drain hole in the shell) is all enclosed, and the scan finds the reference there. Ordinary
// parts have little: gaps narrower than the detector's closing (gear teeth, slots) count, a few
// percent of their surface (measured on these seven: at most 10.5%).
TEST_F(Engine, BuriedPartIsFoundInTheEnclosedSurface) {
  size_t found_enclosed = 0;
  for (const std::string& stem : reference_stems()) {
    const LoadedFile plain = loaded_from_mesh(mesh(stem), stem + ".stl");
    double area = 0.0, enclosed = 0.0;
    for (const ComponentInfo& c : plain.components) {
      area += c.area_mm2;
      enclosed += detail::enclosed_surface(plain.mesh, c).area_mm2;
    }
    EXPECT_LT(enclosed, 0.15 * area) << stem;

    const Variant v = make_variant(mesh(stem), VariantKind::buried, 1);
    const std::vector<LoadedFile> job = job_of(v);
    ASSERT_EQ(job.size(), 1u);
    ASSERT_EQ(job[0].components.size(), 1u) << v.name;
    const double hidden = detail::enclosed_surface(job[0].mesh, job[0].components[0]).area_mm2;
    const double part_area = area * v.expected_scale * v.expected_scale;
    EXPECT_GE(hidden, 0.85 * part_area) << v.name;  // sprue joints take a little of the part's surface
    EXPECT_LT(hidden, 0.8 * job[0].components[0].area_mm2) << v.name << ": the shell's outside is not enclosed";

    const ScanResult r = scan_loaded(job, pack(), two_threads());
    ASSERT_FALSE(r.matches.empty()) << v.name;
    const Match& top = r.matches[0];
    EXPECT_EQ(top.reference, stem) << v.name;
    EXPECT_EQ(r.verdict, Verdict::flagged) << stem << " " << v.name << " score " << top.score;
    found_enclosed += std::any_of(top.parts.begin(), top.parts.end(), [](const MatchPart& p) { return p.enclosed; });
  }
  // Small shells around these parts are often matched whole too; the enclosed surface must carry
  // some of them (measured: 4 of 7 at seed 1).
  EXPECT_GE(found_enclosed, 3u);
}

// A buried part alone is its enclosed surface: the cavity's walls are the inside of the shell (the
// material behind them ends at outside air) and are left out, and the enclosed surface is sampled
// with its component's outward normals, so the part fits the reference whole there. Before (seed
// 2): the cavity walls made the enclosed surface 2.1-2.9x the part's area, runs of it were sampled
// with flipped normals, and 6 of the 7 matches were of the shell with the part seen through it
// (the enclosed surface carried none of them).
TEST_F(Engine, BuriedPartIsTheWholeEnclosedSurface) {
  for (const std::string& stem : reference_stems()) {
    double area = 0.0;
    for (const ComponentInfo& c : loaded_from_mesh(mesh(stem), stem + ".stl").components) area += c.area_mm2;
    const Variant v = make_variant(mesh(stem), VariantKind::buried, 2);
    const std::vector<LoadedFile> job = job_of(v);
    ASSERT_EQ(job.size(), 1u);
    ASSERT_EQ(job[0].components.size(), 1u) << v.name;
    const double part_area = area * v.expected_scale * v.expected_scale;
    const double hidden = detail::enclosed_surface(job[0].mesh, job[0].components[0]).area_mm2;
    EXPECT_GE(hidden, 0.85 * part_area) << stem << " " << v.name;
    EXPECT_LE(hidden, 1.2 * part_area) << stem << " " << v.name << ": the cavity's walls are not the buried part";

    const ScanResult r = scan_loaded(job, pack(), two_threads());
    ASSERT_FALSE(r.matches.empty()) << v.name;
    const Match& top = r.matches[0];
    EXPECT_EQ(top.reference, stem) << v.name;
    double inside = 0.0;
    for (const MatchPart& p : top.parts)
      if (p.enclosed) inside = std::max(inside, p.coverage);
    EXPECT_GE(inside, 0.85) << stem << " " << v.name;
  }
}

// Vertex noise on a finely tessellated export (the suite's 0.1% of the diagonal, on triangles a
// few times smaller than that) turns each triangle's normal anywhere, and stepping along it from
// the surface runs inside the voxelised surface on both sides: such an ordinary part read as
// 6-10% enclosed, over the 5% that screens it as a part of its own. The same noise on a buried
// part leaves it enclosed.
TEST_F(Engine, NoisyFineMeshIsNotEnclosedWhileABuriedOneStays) {
  auto enclosed_share = [](const LoadedFile& f) {
    double area = 0.0, enclosed = 0.0;
    for (const ComponentInfo& c : f.components) {
      area += c.area_mm2;
      enclosed += detail::enclosed_surface(f.mesh, c).area_mm2;
    }
    return enclosed / area;
  };
  for (const std::string& stem : reference_stems()) {
    const Mesh fine = subdivided(subdivided(mesh(stem)));
    const double clean = enclosed_share(loaded_from_mesh(fine, stem + ".stl"));  // for the message
    const Variant noisy = make_variant(fine, VariantKind::noise, 1);
    const double share = enclosed_share(loaded_from_mesh(noisy.files[0], stem + ".noisy.stl"));
    // (Before the neighbourhood's normal: couplingdown 6.3% and fandisk 5.2%; now at most 3.8%.)
    EXPECT_LT(share, 0.05) << stem << ": " << fine.triangle_count() << " triangles, " << clean << " enclosed without the noise";

    const Variant buried = make_variant(mesh(stem), VariantKind::buried, 1);
    const Variant noisy_buried = make_variant(subdivided(buried.files[0]), VariantKind::noise, 1);
    const LoadedFile b = loaded_from_mesh(noisy_buried.files[0], stem + ".buried.stl");
    ASSERT_EQ(b.components.size(), 1u);
    double part_area = 0.0;
    for (const ComponentInfo& c : loaded_from_mesh(mesh(stem), stem).components) part_area += c.area_mm2;
    part_area *= buried.expected_scale * buried.expected_scale;
    const double hidden = detail::enclosed_surface(b.mesh, b.components[0]).area_mm2;
    EXPECT_GE(hidden, 0.85 * part_area) << stem << " buried, subdivided and noisy";
  }
}

// A box from lo to hi (a closed, indexed mesh for CGAL's booleans).
Mesh box_mesh(const std::array<float, 3>& lo, const std::array<float, 3>& hi) {
  Mesh m = soup(cube(1.f));
  for (size_t i = 0; i < m.positions.size(); ++i) m.positions[i] = lo[i % 3] + m.positions[i] * (hi[i % 3] - lo[i % 3]);
  return m;
}

// `extra` added to `m` as further shells (overlapping or apart: not merged).
void append_mesh(Mesh& m, const Mesh& extra) {
  const uint32_t base = uint32_t(m.positions.size() / 3);
  m.positions.insert(m.positions.end(), extra.positions.begin(), extra.positions.end());
  for (uint32_t ix : extra.indices) m.indices.push_back(base + ix);
}

// A copy's fits are its source's moved by the copy's placement: compose(outer, inner) applies
// inner, then outer, for turns, mirror images, scales and moves alike.
TEST(Similarity, ComposeAppliesInnerThenOuterAndInverseUndoes) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  auto random_similarity = [&](bool mirror) {
    detail::Similarity s;
    s.rotation = Eigen::AngleAxisf(3.f * u(rng), Eigen::Vector3f(u(rng), u(rng), u(rng)).normalized()).toRotationMatrix();
    if (mirror) s.rotation.col(0) *= -1.f;
    s.scale = 1.5f + u(rng);
    s.translation = Eigen::Vector3f(u(rng), u(rng), u(rng)) * 100.f;
    return s;
  };
  for (int i = 0; i < 20; ++i) {
    const detail::Similarity outer = random_similarity(i % 3 == 0), inner = random_similarity(i % 2 == 0);
    const detail::Similarity both = detail::compose(outer, inner);
    EXPECT_EQ(both.mirrored(), outer.mirrored() != inner.mirrored());
    for (int k = 0; k < 5; ++k) {
      const Eigen::Vector3f p(10.f * u(rng), 10.f * u(rng), 10.f * u(rng));
      EXPECT_LT((both.apply(p) - outer.apply(inner.apply(p))).norm(), 1e-3f);
      EXPECT_LT((detail::inverse(outer).apply(outer.apply(p)) - p).norm(), 1e-3f);
      EXPECT_LT((detail::compose(outer, detail::inverse(outer)).apply(p) - p).norm(), 1e-3f);
    }
    EXPECT_EQ(detail::inverse(outer).mirrored(), outer.mirrored());
  }
}

// A print farm's plate: copies of one part, each turned and moved (a slicer's instances). Each
// shape is described and verified once (geometry/copies.h) and its fits moved onto the copies;
// the plate gets the part's own verdict, reference and score, and a plate of copies of a part that
// is not enrolled stays clear. (Before: a plate of eight 26k-triangle corpus parts took 20x the
// time of one.)
TEST_F(Engine, PlateOfCopiesScansLikeOneCopy) {
  for (const std::string stem : {"rotor", "anchor", "fandisk"}) {
    const ScanResult single = scan_loaded({loaded_from_mesh(mesh(stem), stem + ".stl")}, pack(), two_threads());
    ASSERT_FALSE(single.matches.empty()) << stem;
    Mesh plate;
    for (uint64_t seed = 1; seed <= 6; ++seed) append_mesh(plate, make_variant(mesh(stem), VariantKind::rigid, seed).files[0]);
    const LoadedFile file = loaded_from_mesh(plate, stem + "_x6.stl");
    ASSERT_EQ(file.components.size(), 6 * loaded_from_mesh(mesh(stem), stem).components.size()) << stem;
    const ScanResult r = scan_loaded({file}, pack(), two_threads());
    ASSERT_FALSE(r.matches.empty()) << stem;
    EXPECT_EQ(r.verdict, Verdict::flagged) << stem;
    EXPECT_EQ(r.matches[0].reference, stem);
    EXPECT_NEAR(r.matches[0].score, single.matches[0].score, 0.02) << stem;
    EXPECT_NEAR(r.matches[0].scale, 1.0, 0.01) << stem;
  }
  const Mesh other = load_file(cgal_mesh("mech-holes-shark")).mesh;
  Mesh plate;
  for (uint64_t seed = 1; seed <= 6; ++seed) append_mesh(plate, make_variant(other, VariantKind::rigid, seed).files[0]);
  const ScanResult r = scan_loaded({loaded_from_mesh(plate, "shark_x6.stl")}, pack(), two_threads());
  EXPECT_EQ(r.verdict, Verdict::clear) << (r.matches.empty() ? "" : r.matches[0].reference + " " + std::to_string(r.matches[0].score));
}

// An indexed mesh written as a binary STL (what an uploader's file holds).
void write_mesh_stl(const std::string& path, const Mesh& m) {
  std::vector<Tri> tris;
  for (size_t t = 0; t < m.indices.size(); t += 3) {
    Tri tri;
    for (int k = 0; k < 9; ++k) tri[k] = m.positions[3 * m.indices[t + k / 3] + k % 3];
    tris.push_back(tri);
  }
  write_all(path, binary_stl(tris));
}

// A pack of one reference: the mesh written as an uploader's STL in `dir` and enrolled as `id`.
Pack enroll_one(const TempDir& dir, const Mesh& m, const std::string& id) {
  write_mesh_stl(dir.file(id + ".stl"), m);
  EnrollOptions eo;
  eo.threads = 2;
  enroll({{dir.file(id + ".stl"), id, "test", ""}}, dir.file(id + ".pack"), eo);
  return Pack::open(dir.file(id + ".pack"));
}

// A part with a half-turn symmetry cut at its symmetry plane: its two halves are exact copies of
// one another, and copies are never glued back (a plate of copies would be glued back to back),
// so it is found as pieces. Each half's best fit is the whole part shrunk onto it (0.62x,
// stretched), a little more than its true pose covers; the true pose is kept beside it, and the
// assembly anchors there. On a plate of three such pairs the job's volume no longer gives the
// scale (three parts' worth), and before the true pose was kept the plate went to review at
// 0.55. The halves' re-verifications are shared (moved from the first of them).
TEST(Assembly, HalvesThatAreCopiesOfEachOtherAreFoundAlsoOnAPlate) {
  using eval::BooleanOp;
  // 180-degree symmetric about the vertical axis through (60, 35): bosses, holes and a slot.
  Mesh full;
  ASSERT_TRUE(eval::apply_booleans(box_mesh({0, 0, 0}, {120, 70, 4}),
                                   {{BooleanOp::unite, box_mesh({20, 10, 0}, {34, 24, 16})},
                                    {BooleanOp::unite, box_mesh({86, 46, 0}, {100, 60, 16})},
                                    {BooleanOp::unite, box_mesh({0, 60, 0}, {40, 70, 10})},
                                    {BooleanOp::unite, box_mesh({80, 0, 0}, {120, 10, 10})},
                                    {BooleanOp::subtract, box_mesh({8, 30, -1}, {14, 36, 6})},
                                    {BooleanOp::subtract, box_mesh({106, 34, -1}, {112, 40, 6})},
                                    {BooleanOp::subtract, box_mesh({45, 20, -1}, {55, 40, 6})},
                                    {BooleanOp::subtract, box_mesh({65, 30, -1}, {75, 50, 6})}},
                                   full));
  Mesh half;
  ASSERT_TRUE(eval::apply_booleans(full, {{BooleanOp::subtract, box_mesh({60, -1, -1}, {121, 71, 20})}}, half));
  // The other half: this one turned half a turn about the symmetry axis, corner for corner.
  const auto placed = [&](bool turned, float dx, float dy) {
    Mesh m = half;
    for (size_t i = 0; i < m.positions.size(); i += 3) {
      if (turned) m.positions[i] = 120.f - m.positions[i], m.positions[i + 1] = 70.f - m.positions[i + 1];
      m.positions[i] += dx, m.positions[i + 1] += dy;
    }
    return m;
  };
  TempDir dir("partscreen_halves");
  const Pack pack = enroll_one(dir, full, "symmetric");
  for (int pairs : {1, 3}) {
    Mesh plate;
    for (int k = 0; k < pairs; ++k) {
      append_mesh(plate, placed(false, -40.f, 100.f * float(k)));
      append_mesh(plate, placed(true, 40.f, 100.f * float(k)));
    }
    const LoadedFile file = loaded_from_mesh(plate, "halves.stl");
    ASSERT_EQ(file.components.size(), size_t(2 * pairs));
    const ScanResult r = scan_loaded({file}, pack, two_threads());
    ASSERT_FALSE(r.matches.empty()) << pairs;
    const Match& m = r.matches[0];
    std::printf("%d pair(s): %s score %.3f coverage %.3f parts %zu\n", pairs, verdict_name(r.verdict), m.score, m.coverage, m.parts.size());
    EXPECT_EQ(r.verdict, Verdict::flagged) << pairs;
    EXPECT_GE(m.coverage, 0.9) << pairs;
    EXPECT_GE(m.parts.size(), 2u) << pairs;
  }
}

// A thin, nearly symmetric part: a 1 mm-walled cover, open on one side, with two cut-outs and a
// boss (empty when the booleans fail).
Mesh thin_cover() {
  using eval::BooleanOp;
  Mesh cover;
  if (!eval::apply_booleans(box_mesh({0, 0, 0}, {74, 38, 6.5f}),
                            {{BooleanOp::subtract, box_mesh({1, 1, 1}, {73, 37, 8})},
                             {BooleanOp::subtract, box_mesh({10, 8, -1}, {16, 14, 2})},
                             {BooleanOp::subtract, box_mesh({50, 20, -1}, {62, 24, 2})},
                             {BooleanOp::unite, box_mesh({30, 15, 0.5f}, {34, 19, 5})}},
                            cover))
    return {};
  return cover;
}

// Fused with a block, a part can hold the similarity ICP short of its pose: the block's faces
// pull on the reference keypoints near them. The affine ICP run for the stretch check then fits
// the part far better (gain 0.5 or more) while staying nearly isotropic, and its nearest
// similarity is refitted. Before, these two fused copies stopped at 0.91 and 0.97 of the
// reference found, with 1.1-1.5% of it "absent" in open space beside the block. On a benchmark
// draw a fused raspberry cover went to review that way (0.47; 0.81 now), and a fused thin cover
// was flagged only on a wrong-handed fit (0.74; 0.97 on the right one now).
TEST(Fitting, FitStoppedShortByAFusedBlockIsRefittedFromTheAffineMap) {
  const Mesh cover = thin_cover();
  ASSERT_GT(cover.triangle_count(), 0u);
  ASSERT_TRUE(have_cgal_data()) << "install libcgal-demo (scripts/setup.sh)";
  const std::vector<std::tuple<std::string, Mesh, uint64_t>> cases = {{"thin cover", cover, 6},
                                                                       {"rotor", load_file(cgal_mesh("rotor")).mesh, 3}};
  for (const auto& [name, part, seed] : cases) {
    TempDir dir("partscreen_unstuck");
    const Pack pack = enroll_one(dir, part, "part");
    const Variant v = make_variant(part, VariantKind::fused, seed);
    const ScanResult r = scan_loaded(job_of(v), pack, two_threads());
    ASSERT_FALSE(r.matches.empty()) << name;
    const Match& m = r.matches[0];
    std::printf("%s %s: %s score %.3f coverage %.3f absent %.3f hidden %.3f scale %.3f\n", name.c_str(), v.name.c_str(),
                verdict_name(r.verdict), m.score, m.coverage, m.absent, m.hidden, m.scale);
    EXPECT_EQ(r.verdict, Verdict::flagged) << name;
    EXPECT_GE(m.coverage, 0.97) << name;
    EXPECT_LE(m.absent, 0.005) << name;
    EXPECT_NEAR(m.scale, 1.0, 0.01) << name;
  }
}

// The same refit for a fit that finds as little as 40% of the reference (the stretch check itself
// needs 55%), on a part that is the sole body of its file and against the reference its votes
// rank first. The thin cover subdivided and noised (seed 3): its true pose, in the right hand,
// stopped at 0.955x with 54% found, and the mirrored pose (87%, 3.5% absent) was taken. The
// right-handed fit is now refitted from its affine map: 1.0x, 94% found, nothing absent. (On a
// benchmark draw, a 3MF round trip of a marking template fitted at 1.25x on its row of holes,
// 55% found, was cleared at 0.33; it is flagged at 1.0 now.)
TEST(Fitting, FitFindingHalfTheReferenceIsRefittedFromTheAffineMapToo) {
  const Mesh cover = thin_cover();
  ASSERT_GT(cover.triangle_count(), 0u);
  TempDir dir("partscreen_unstuck_half");
  const Pack pack = enroll_one(dir, cover, "cover");
  const Variant v = make_variant(cover, VariantKind::subdivide, 3);
  const ScanResult r = scan_loaded(job_of(v), pack, two_threads());
  ASSERT_FALSE(r.matches.empty());
  const Match& m = r.matches[0];
  std::printf("cover %s: %s score %.3f coverage %.3f absent %.3f scale %.3f mirrored %d\n", v.name.c_str(), verdict_name(r.verdict), m.score,
              m.coverage, m.absent, m.scale, int(m.mirrored));
  EXPECT_EQ(r.verdict, Verdict::flagged);
  EXPECT_FALSE(m.mirrored);
  EXPECT_GE(m.coverage, 0.93);
  EXPECT_LE(m.absent, 0.005);
  EXPECT_NEAR(m.scale, 1.0, 0.01);
}

// Vertex noise on fine triangles tilts most facets, and the mesh area grows with it: a benchmark
// bracket frame, subdivided and noised by 0.1% of its diagonal, measured 1.83x its area, was
// described as a part 1.35x its size and missed. The area is now taken projected onto the smoothed
// normals when most facets are tilted. Here the thin cover is remeshed to 0.4 mm edges (140,000
// triangles) and noised by 0.2% of its diagonal: what the benchmark's noise does to triangles half
// that size, at a quarter of the count. Its area grows 1.64x; the projected area is within 1% of
// the cover's. Before, both seeds were missed (cleared at 0).
TEST(Noise, FinelyMeshedNoisyCopyIsDescribedAtItsOwnSize) {
  const Mesh cover = thin_cover();
  ASSERT_GT(cover.triangle_count(), 0u);
  Mesh fine;
  ASSERT_TRUE(eval::remesh_isotropic(cover, 0.4, fine));
  TempDir dir("partscreen_noisy_fine");
  const Pack pack = enroll_one(dir, cover, "cover");
  const double diagonal = std::sqrt(74.0 * 74.0 + 38.0 * 38.0 + 6.5 * 6.5);
  for (uint64_t seed = 1; seed <= 2; ++seed) {
    Mesh noisy = fine;
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> jitter(0.0, 0.002 * diagonal);
    for (float& c : noisy.positions) c = float(c + jitter(rng));
    std::vector<LoadedFile> job;
    job.push_back(loaded_from_mesh(noisy, "noisy.stl"));
    const ScanResult r = scan_loaded(job, pack, two_threads());
    ASSERT_FALSE(r.matches.empty()) << "seed " << seed;
    const Match& m = r.matches[0];
    std::printf("seed %llu: %s score %.3f coverage %.3f scale %.3f walls off %.3f\n", (unsigned long long)seed,
                verdict_name(r.verdict), m.score, m.coverage, m.scale, m.wall_mismatch);
    EXPECT_EQ(r.verdict, Verdict::flagged) << "seed " << seed;
    EXPECT_GE(m.coverage, 0.9) << "seed " << seed;
    EXPECT_NEAR(m.scale, 1.0, 0.01) << "seed " << seed;
  }
}

// A thin, nearly symmetric part (a 1 mm-walled cover, open on one side, with two cut-outs and a
// boss) looks alike from most of its poses: a patch of its plate describes like any other, few
// descriptor pairs are right, and several RANSAC hypotheses (the cover turned over or end for end)
// explain nearly as many of them as the true one. Every rigid and mirrored copy is still flagged.
TEST(ThinParts, CoverIsFoundInEveryPose) {
  const Mesh cover = thin_cover();
  ASSERT_GT(cover.triangle_count(), 0u);
  TempDir dir("partscreen_thin");
  const Pack pack = enroll_one(dir, cover, "cover");
  int flagged = 0, cases = 0;
  for (VariantKind kind : {VariantKind::rigid, VariantKind::mirror})
    for (uint64_t seed = 1; seed <= 8; ++seed) {
      const Variant v = make_variant(cover, kind, seed);
      const ScanResult r = scan_loaded(job_of(v), pack, two_threads());
      ++cases;
      flagged += r.verdict == Verdict::flagged;
      EXPECT_EQ(r.verdict, Verdict::flagged) << v.name << " seed " << seed << " score " << (r.matches.empty() ? 0.0 : r.matches[0].score);
    }
  std::printf("cover: %d of %d flagged\n", flagged, cases);
}

// Slots cut through a plate (from z = -1 to `top`): `rows` rows of `per_row`, the first at
// (x[0], y[0]), rows x[1] apart and slots y[1] apart along each, each size[0] x size[1].
std::vector<eval::BooleanStep> slot_rows(int rows, int per_row, std::array<float, 2> x, std::array<float, 2> y,
                                         std::array<float, 2> size, float top) {
  std::vector<eval::BooleanStep> out;
  for (int row = 0; row < rows; ++row)
    for (int k = 0; k < per_row; ++k) {
      const float sx = x[0] + x[1] * float(row), sy = y[0] + y[1] * float(k);
      out.push_back({eval::BooleanOp::subtract, box_mesh({sx, sy, -1}, {sx + size[0], sy + size[1], top})});
    }
  return out;
}

// A grill (a plate with rows of slots, as fan and filter covers are) fused with dummy material:
// its slots repeat, so most descriptor pairs land a slot or a row off and the RANSAC poses fit a
// shifted or rescaled copy. The principal-axis poses need no pairs, but the block moves the
// part's moments as well as its axes' lengths.
TEST(ThinParts, FusedGrillIsFound) {
  using eval::BooleanOp;
  std::vector<eval::BooleanStep> slots = slot_rows(2, 12, {5, 16}, {8, 11.5f}, {12, 5}, 7);
  slots.push_back({BooleanOp::unite, box_mesh({0, 0, 0}, {38, 4, 9})});  // a lip along one end
  Mesh grill;
  ASSERT_TRUE(eval::apply_booleans(box_mesh({0, 0, 0}, {38, 155, 5.6f}), slots, grill));
  TempDir dir("partscreen_grill");
  const Pack pack = enroll_one(dir, grill, "grill");
  // Measured, seeds 1-6: flagged at 0.73, 0.73, 0.87, 0.91 (seeds 1, 2, 3, 5), review at 0.65
  // (seed 4) and 0.53 (seed 6). Seed 6 was cleared before the axis poses were also tried at the
  // prior scale: its block moves the moments to 1.18x, and ICP from there stopped at 1.15x.
  int flagged = 0;
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    const Variant v = make_variant(grill, VariantKind::fused, seed);
    const ScanResult r = scan_loaded(job_of(v), pack, two_threads());
    const double score = r.matches.empty() ? 0.0 : r.matches[0].score;
    std::printf("fused grill seed %llu (%s): %s %.3f\n", (unsigned long long)seed, v.name.c_str(), verdict_name(r.verdict), score);
    EXPECT_NE(r.verdict, Verdict::clear) << "seed " << seed << " score " << score;
    flagged += r.verdict == Verdict::flagged;
  }
  EXPECT_GE(flagged, 4);
}

// A square fan grill (slots in rows, a hole in each corner): its two in-plane moments are equal,
// so its principal axes in the plane are arbitrary, and the slots repeat, so descriptor pairs
// land a slot off. The RANSAC poses fit it turned a quarter (the outline in place, the slots
// across) and only the plate's normal is defined by its moments: the axis poses turn about that
// normal (kAxisSweepStep), both ways up and both hands. Before, 4 of these 18 copies were missed
// (a rigid one cleared at 0.28, three decimated ones in review at 0.49-0.60), and on a benchmark
// draw a mirrored square fan grill went to review (0.70, 82% found; 0.89 now).
TEST(ThinParts, SquareGrillIsFoundInEveryPose) {
  using eval::BooleanOp;
  std::vector<eval::BooleanStep> cuts = slot_rows(3, 9, {8, 15}, {8.5f, 5}, {13, 2.5f}, 4);
  for (const auto& [x, y] : {std::pair<float, float>{2.f, 2.f}, {54.f, 2.f}, {2.f, 54.f}, {54.f, 54.f}})
    cuts.push_back({BooleanOp::subtract, box_mesh({x, y, -1}, {x + 4.f, y + 4.f, 4})});
  Mesh grill;
  ASSERT_TRUE(eval::apply_booleans(box_mesh({0, 0, 0}, {60, 60, 3.2f}), cuts, grill));
  TempDir dir("partscreen_square_grill");
  const Pack pack = enroll_one(dir, grill, "grill");
  int flagged = 0, cases = 0;
  for (VariantKind kind : {VariantKind::rigid, VariantKind::mirror, VariantKind::decimate})
    for (uint64_t seed = 1; seed <= 6; ++seed) {
      const Variant v = make_variant(grill, kind, seed);
      const ScanResult r = scan_loaded(job_of(v), pack, two_threads());
      const double score = r.matches.empty() ? 0.0 : r.matches[0].score;
      std::printf("square grill %s seed %llu: %s %.3f\n", v.name.c_str(), (unsigned long long)seed, verdict_name(r.verdict), score);
      ++cases;
      flagged += r.verdict == Verdict::flagged;
      EXPECT_EQ(r.verdict, Verdict::flagged) << v.name << " seed " << seed << " score " << score;
    }
  std::printf("square grill: %d of %d flagged\n", flagged, cases);
}

// A sibling design: the same 3 mm panel with its flange and mounting holes, but its opening filled
// in and another, larger one cut at one end (as two skirt panels of one printer differ by the
// connector they take). It shares most of the reference's surface, so coverage alone flagged it;
// the reference surface it lacks where it has open space (the panel across its own opening) now
// counts against the match. Copies that lack surface for the reasons the engine must see through
// keep their flag: fused material hides it, drilled holes lack only their cross-sections.
// Measured: the sibling 0.60-0.63 (coverage 0.79-0.82, absent 0.145-0.150). Once fits near scale
// 1 were refitted at it, its coverage rose from 0.76 and half the absent share alone left it
// flagged at 0.71-0.74; the share beyond 10% (whole regions) now costs 2.5x more.
TEST(SiblingDesigns, SamePanelWithAnotherOpeningIsNotFlagged) {
  using eval::BooleanOp;
  const auto panel = [](std::vector<eval::BooleanStep> openings) {
    std::vector<eval::BooleanStep> steps = {{BooleanOp::unite, box_mesh({0, 67, 0}, {120, 70, 18})},  // flange
                                            {BooleanOp::subtract, box_mesh({6, 6, -1}, {10, 10, 4})},  // mounting holes
                                            {BooleanOp::subtract, box_mesh({110, 6, -1}, {114, 10, 4})}};
    steps.insert(steps.end(), openings.begin(), openings.end());
    Mesh m;
    EXPECT_TRUE(eval::apply_booleans(box_mesh({0, 0, 0}, {120, 70, 3}), steps, m));
    return m;
  };
  const Mesh reference = panel({{BooleanOp::subtract, box_mesh({40, 22, -1}, {90, 47, 4})}});
  const Mesh sibling = panel({{BooleanOp::subtract, box_mesh({8, 12, -1}, {48, 62, 4})}});
  // Dummy material fused onto one end (what the engine must see through): a block over the
  // panel's last 25 mm, standing proud of it on both sides.
  Mesh fused;
  ASSERT_TRUE(eval::apply_booleans(reference, {{BooleanOp::unite, box_mesh({95, -5, -8}, {130, 50, 12})}}, fused));
  TempDir dir("partscreen_sibling");
  const Pack pack = enroll_one(dir, reference, "panel");

  for (uint64_t seed = 1; seed <= 3; ++seed) {
    const Variant v = make_variant(sibling, VariantKind::rigid, seed);
    const ScanResult r = scan_loaded(job_of(v), pack, two_threads());
    ASSERT_FALSE(r.matches.empty()) << "seed " << seed;
    const Match& m = r.matches[0];
    std::printf("sibling seed %llu: score %.3f coverage %.3f absent %.3f hidden %.3f\n", (unsigned long long)seed, m.score,
                m.coverage, m.absent, m.hidden);
    EXPECT_GE(m.coverage, r.flag_score) << "seed " << seed << ": coverage alone no longer flags it; the case tests nothing";
    EXPECT_GE(m.absent, 0.05) << "seed " << seed << ": the panel across the sibling's opening is open space";
    EXPECT_NE(r.verdict, Verdict::flagged) << "seed " << seed << " score " << m.score;
  }
  // The sibling with a second shell inside its material (as many printed parts' files have: bodies
  // overlapping without being merged), one face where the reference's opening wall is: an
  // enclosed surface that adds a sliver of coverage under the sibling's placement. It is one
  // object with the sibling, so the missing surface still counts (before, any second part
  // exempted the match: flagged at 0.77).
  {
    Mesh inner = sibling;
    append_mesh(inner, box_mesh({55, 15, 0.5f}, {85, 22, 2.5f}));
    const ScanResult r = scan_loaded(job_of(make_variant(inner, VariantKind::rigid, 1)), pack, two_threads());
    ASSERT_FALSE(r.matches.empty());
    const Match& m = r.matches[0];
    std::printf("sibling with an inner shell: score %.3f coverage %.3f absent %.3f hidden %.3f parts %zu\n", m.score, m.coverage,
                m.absent, m.hidden, m.parts.size());
    EXPECT_GE(m.parts.size(), 2u) << "the inner shell no longer adds to the match; the case tests nothing";
    EXPECT_GE(m.absent, 0.05);
    EXPECT_NE(r.verdict, Verdict::flagged) << "score " << m.score;
  }
  for (VariantKind kind : {VariantKind::rigid, VariantKind::holes})
    for (uint64_t seed = 1; seed <= 2; ++seed) {
      Variant v = make_variant(reference, kind, seed);
      if (kind == VariantKind::rigid && seed == 2) {
        v = make_variant(fused, VariantKind::rigid, seed);
        v.name = "fused block";
      }
      const ScanResult r = scan_loaded(job_of(v), pack, two_threads());
      ASSERT_FALSE(r.matches.empty()) << v.name;
      const Match& m = r.matches[0];
      std::printf("%s seed %llu: score %.3f coverage %.3f absent %.3f hidden %.3f\n", v.name.c_str(), (unsigned long long)seed,
                  m.score, m.coverage, m.absent, m.hidden);
      EXPECT_EQ(r.verdict, Verdict::flagged) << v.name << " seed " << seed << " score " << m.score;
      EXPECT_LT(m.absent, 0.05) << v.name << " seed " << seed;
    }
}

// The same panel with a plate half again as thick (3 -> 4.5 mm), and the panel stretched 1.4x
// across its thickness: the coverage tolerance (1.2% of the panel's size, about 1.7 mm) holds
// both faces of the thicker plate, so coverage alone flags them; their walls are another
// thickness than the reference's at any one scale, so they go to review. Copies keep the walls
// they were drawn with, whatever their pose, scale, unit or mesh, and stay flagged.
TEST(SiblingDesigns, ThickerPlateGoesToReviewWhileCopiesAreFlagged) {
  using eval::BooleanOp;
  const auto panel = [](float plate) {
    Mesh m;
    EXPECT_TRUE(eval::apply_booleans(box_mesh({0, 0, 0}, {120, 70, plate}),
                                     {{BooleanOp::unite, box_mesh({0, 67, 0}, {120, 70, 18})},
                                      {BooleanOp::subtract, box_mesh({6, 6, -1}, {10, 10, 8})},
                                      {BooleanOp::subtract, box_mesh({110, 6, -1}, {114, 10, 8})},
                                      {BooleanOp::subtract, box_mesh({40, 22, -1}, {90, 47, 8})}},
                                     m));
    return m;
  };
  const Mesh reference = panel(3.f);
  TempDir dir("partscreen_walls");
  const Pack pack = enroll_one(dir, reference, "panel");
  Mesh stretched = reference;
  for (size_t i = 2; i < stretched.positions.size(); i += 3) stretched.positions[i] *= 1.4f;
  const std::vector<std::pair<std::string, Mesh>> others = {{"4.5 mm plate", panel(4.5f)}, {"stretched 1.4x across", stretched}};
  for (const auto& [name, other] : others)
    for (uint64_t seed = 1; seed <= 2; ++seed) {
      const ScanResult r = scan_loaded(job_of(make_variant(other, VariantKind::scale, seed)), pack, two_threads());
      ASSERT_FALSE(r.matches.empty()) << name;
      const Match& m = r.matches[0];
      std::printf("%s seed %llu: %s score %.3f coverage %.3f walls off %.3f scale %.3f\n", name.c_str(), (unsigned long long)seed,
                  verdict_name(r.verdict), m.score, m.coverage, m.wall_mismatch, m.scale);
      EXPECT_GE(m.coverage, r.flag_score) << name << " seed " << seed << ": coverage alone no longer flags it; the case tests nothing";
      EXPECT_GE(m.wall_mismatch, 0.3) << name << " seed " << seed;
      EXPECT_EQ(r.verdict, Verdict::review) << name << " seed " << seed << " score " << m.score;
    }
  for (VariantKind kind : {VariantKind::rigid, VariantKind::mirror, VariantKind::scale, VariantKind::unit_up,
                           VariantKind::subdivide, VariantKind::noise})
    for (uint64_t seed = 1; seed <= 2; ++seed) {
      const Variant v = make_variant(reference, kind, seed);
      const ScanResult r = scan_loaded(job_of(v), pack, two_threads());
      ASSERT_FALSE(r.matches.empty()) << v.name;
      const Match& m = r.matches[0];
      std::printf("%s seed %llu: %s score %.3f walls off %.3f\n", v.name.c_str(), (unsigned long long)seed, verdict_name(r.verdict),
                  m.score, m.wall_mismatch);
      EXPECT_LT(m.wall_mismatch, 0.15) << v.name << " seed " << seed;
      EXPECT_EQ(r.verdict, Verdict::flagged) << v.name << " seed " << seed << " score " << m.score;
    }
}

// Walls another thickness below the review cap still count, in proportion: the same panel with
// one end of its plate thickened (3 -> 4.5 mm over its first 20 or 25 mm) has 22-24% of its walls
// off and loses the share beyond a tenth from its score; the engine before took it at its
// coverage (0.98-0.99). Copies, whose walls are all as drawn, lose nothing.
TEST(SiblingDesigns, PartlyThickenedPlateLosesWhatItsWallsAreOff) {
  using eval::BooleanOp;
  const auto panel = [](float pad_end) {
    std::vector<eval::BooleanStep> steps{{BooleanOp::unite, box_mesh({0, 67, 0}, {120, 70, 18})}};
    if (pad_end > 0.f) steps.push_back({BooleanOp::unite, box_mesh({0, 0, 0}, {pad_end, 68, 4.5f})});
    steps.push_back({BooleanOp::subtract, box_mesh({6, 6, -1}, {10, 10, 8})});
    steps.push_back({BooleanOp::subtract, box_mesh({110, 6, -1}, {114, 10, 8})});
    steps.push_back({BooleanOp::subtract, box_mesh({40, 22, -1}, {90, 47, 8})});
    Mesh m;
    EXPECT_TRUE(eval::apply_booleans(box_mesh({0, 0, 0}, {120, 70, 3}), steps, m));
    return m;
  };
  const Mesh reference = panel(0.f);
  TempDir dir("partscreen_some_walls");
  const Pack pack = enroll_one(dir, reference, "panel");
  for (float pad : {20.f, 25.f})
    for (uint64_t seed = 1; seed <= 2; ++seed) {
      const ScanResult r = scan_loaded(job_of(make_variant(panel(pad), VariantKind::rigid, seed)), pack, two_threads());
      ASSERT_FALSE(r.matches.empty()) << pad;
      const Match& m = r.matches[0];
      std::printf("pad %.0f mm seed %llu: %s score %.3f coverage %.3f walls off %.3f\n", pad, (unsigned long long)seed,
                  verdict_name(r.verdict), m.score, m.coverage, m.wall_mismatch);
      EXPECT_GT(m.wall_mismatch, 0.12) << pad << " seed " << seed;
      EXPECT_LT(m.wall_mismatch, 0.3) << pad << " seed " << seed << ": capped at review instead; the case tests nothing";
      EXPECT_LE(m.score, m.coverage - (m.wall_mismatch - 0.1) + 1e-3) << pad << " seed " << seed;
    }
  for (VariantKind kind : {VariantKind::rigid, VariantKind::scale, VariantKind::noise})
    for (uint64_t seed = 1; seed <= 2; ++seed) {
      const Variant v = make_variant(reference, kind, seed);
      const ScanResult r = scan_loaded(job_of(v), pack, two_threads());
      ASSERT_FALSE(r.matches.empty()) << v.name;
      const Match& m = r.matches[0];
      std::printf("%s seed %llu: %s score %.3f coverage %.3f walls off %.3f\n", v.name.c_str(), (unsigned long long)seed,
                  verdict_name(r.verdict), m.score, m.coverage, m.wall_mismatch);
      EXPECT_LE(m.wall_mismatch, 0.1) << v.name << " seed " << seed;
      EXPECT_GE(m.score, m.coverage - 0.5 * m.absent - 1e-3) << v.name << " seed " << seed;
      EXPECT_EQ(r.verdict, Verdict::flagged) << v.name << " seed " << seed;
    }
}

// A sibling that lacks one whole region of the reference (a wide opening where the reference is
// solid: 13.6% of its surface, one connected region) is not flagged, while copies drilled with
// fifteen holes, which lack half as much in several smaller regions, are. The region is what
// costs (kAbsentRegionShare in core/src/match/scan.cpp). Measured: sibling 0.65 (coverage 0.86),
// drilled copies 0.86 (coverage 0.90, absent 0.06-0.07). The rule before (the total absent share
// beyond 10%) put the sibling on the edge, at 0.69-0.70: the two rules part only for a region of
// 12-13.5%, and a generated case there was not stable across seeds.
TEST(SiblingDesigns, PanelWithoutARegionIsNotFlaggedWhileDrilledCopiesAre) {
  using eval::BooleanOp;
  const auto panel = [](std::vector<eval::BooleanStep> openings) {
    std::vector<eval::BooleanStep> steps = {{BooleanOp::unite, box_mesh({0, 97, 0}, {160, 100, 18})},  // flange
                                            {BooleanOp::unite, box_mesh({0, 0, 0}, {3, 97, 10})}};     // side rib
    steps.insert(steps.end(), openings.begin(), openings.end());
    Mesh m;
    EXPECT_TRUE(eval::apply_booleans(box_mesh({0, 0, 0}, {160, 100, 3}), steps, m));
    return m;
  };
  const Mesh reference = panel({});
  std::vector<eval::BooleanStep> holes;  // fifteen 16 mm holes, 10 mm apart
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 3; ++j) {
      const float x = 14.f + 26.f * float(i), y = 8.f + 26.f * float(j);
      holes.push_back({BooleanOp::subtract, box_mesh({x, y, -1}, {x + 16, y + 16, 4})});
    }
  const Mesh drilled = panel(holes);
  const Mesh sibling = panel({{BooleanOp::subtract, box_mesh({50, 20, -1}, {104, 74, 4})}});
  TempDir dir("partscreen_region");
  const Pack pack = enroll_one(dir, reference, "panel");
  for (uint64_t seed = 1; seed <= 2; ++seed) {
    const ScanResult d = scan_loaded(job_of(make_variant(drilled, VariantKind::rigid, seed)), pack, two_threads());
    const ScanResult s = scan_loaded(job_of(make_variant(sibling, VariantKind::rigid, seed)), pack, two_threads());
    ASSERT_FALSE(d.matches.empty());
    ASSERT_FALSE(s.matches.empty());
    const Match& dm = d.matches[0];
    const Match& sm = s.matches[0];
    std::printf("seed %llu: drilled score %.3f coverage %.3f absent %.3f; sibling score %.3f coverage %.3f absent %.3f\n",
                (unsigned long long)seed, dm.score, dm.coverage, dm.absent, sm.score, sm.coverage, sm.absent);
    EXPECT_GE(sm.coverage, s.flag_score) << "seed " << seed << ": coverage alone no longer flags the sibling; the case tests nothing";
    EXPECT_GE(sm.absent, 0.1) << "seed " << seed << ": the opening is open space";
    EXPECT_GE(dm.absent, 0.04) << "seed " << seed << ": the holes are open space";
    EXPECT_EQ(d.verdict, Verdict::flagged) << "seed " << seed << " score " << dm.score;
    EXPECT_NE(s.verdict, Verdict::flagged) << "seed " << seed << " score " << sm.score;
  }
}

// A sibling that fills in: the same bracket with its bore left solid. Nothing of the reference is
// absent (the bore's walls are inside the sibling's material), so it looks like a fused copy,
// but it adds no material beyond the reference's bounding box: the surface deep in its material
// then costs the score (Match::filled_in), and it goes to a reviewer instead of being flagged.
// Dummy material fused on sticks out of the box and keeps its flag, as do drilled copies.
// Measured: the filled bracket scores 0.63 (coverage 0.87, hidden 0.13), flagged at 0.87 before.
TEST(SiblingDesigns, SameBracketWithItsBoreFilledIsNotFlagged) {
  using eval::BooleanOp;
  const auto bracket = [](bool bore) {
    std::vector<eval::BooleanStep> steps = {{BooleanOp::unite, box_mesh({0, 40, 0}, {60, 44, 35})}};  // flange
    if (bore) steps.push_back({BooleanOp::subtract, box_mesh({14, 12, -1}, {30, 28, 21})});
    Mesh m;
    EXPECT_TRUE(eval::apply_booleans(box_mesh({0, 0, 0}, {60, 40, 20}), steps, m));
    return m;
  };
  const Mesh reference = bracket(true);
  Mesh fused;
  ASSERT_TRUE(eval::apply_booleans(reference, {{BooleanOp::unite, box_mesh({40, -10, 5}, {75, 30, 30})}}, fused));
  TempDir dir("partscreen_filled_bore");
  const Pack pack = enroll_one(dir, reference, "bracket");
  for (uint64_t seed = 1; seed <= 2; ++seed) {
    const ScanResult r = scan_loaded(job_of(make_variant(bracket(false), VariantKind::rigid, seed)), pack, two_threads());
    ASSERT_FALSE(r.matches.empty()) << "seed " << seed;
    const Match& m = r.matches[0];
    std::printf("filled bore seed %llu: score %.3f coverage %.3f absent %.3f hidden %.3f filled in %d\n", (unsigned long long)seed,
                m.score, m.coverage, m.absent, m.hidden, int(m.filled_in));
    EXPECT_GE(m.coverage, r.flag_score) << "seed " << seed << ": coverage alone no longer flags it; the case tests nothing";
    EXPECT_TRUE(m.filled_in) << "seed " << seed;
    EXPECT_NE(r.verdict, Verdict::flagged) << "seed " << seed << " score " << m.score;
    EXPECT_NE(r.verdict, Verdict::clear) << "seed " << seed << ": it still shares most of the reference";
  }
  for (const auto& [name, mesh, kind] : std::vector<std::tuple<std::string, Mesh, VariantKind>>{
           {"rigid", reference, VariantKind::rigid}, {"holes", reference, VariantKind::holes}, {"fused block", fused, VariantKind::rigid}}) {
    const ScanResult r = scan_loaded(job_of(make_variant(mesh, kind, 1)), pack, two_threads());
    ASSERT_FALSE(r.matches.empty()) << name;
    const Match& m = r.matches[0];
    std::printf("%s: score %.3f coverage %.3f absent %.3f hidden %.3f filled in %d\n", name.c_str(), m.score, m.coverage, m.absent,
                m.hidden, int(m.filled_in));
    EXPECT_EQ(r.verdict, Verdict::flagged) << name << " score " << m.score;
  }
}

// A flat cover (a 3 mm plate with two rims and two cut-outs), and plain slabs cut like a printed
// part's support ribs.
Mesh flat_cover() {
  using eval::BooleanOp;
  Mesh cover;
  EXPECT_TRUE(eval::apply_booleans(box_mesh({0, 0, 0}, {135, 73, 3}),
                                   {{BooleanOp::unite, box_mesh({0, 0, 0}, {135, 2, 7})},
                                    {BooleanOp::unite, box_mesh({0, 71, 0}, {135, 73, 7})},
                                    {BooleanOp::subtract, box_mesh({20, 20, -1}, {30, 30, 4})},
                                    {BooleanOp::subtract, box_mesh({100, 40, -1}, {115, 50, 4})}},
                                   cover));
  return cover;
}
Mesh plain_slabs() {  // five slabs 0.2 x 9.3 x 8, 1.4 apart
  Mesh slabs;
  for (int i = 0; i < 5; ++i)
    append_mesh(slabs, box_mesh({9.7f + 1.4f * float(i), 16.f, -8.f}, {9.9f + 1.4f * float(i), 25.3f, 0.f}));
  return slabs;
}

// Scales allowed: 0.5-2x and the inch/mm mistakes. A 0.2 mm slab is the cover's plate at 1/14,
// which is neither (it was allowed as a unit mistake and a 2x rescale on top of it, and support
// ribs of benign parts matched flat covers that way: one slab scored 0.66-0.67, and the union of
// two, each fitted as one face of the plate, flagged the cover at 0.72-0.73 until a piece had to
// add 40% new surface to join an assembly). The cover in inches, or rescaled, is still found.
TEST(Assemblies, ThinSlabIsNotTheCoverAtAFourteenth) {
  const Mesh cover = flat_cover();
  TempDir dir("partscreen_thin_slab");
  const Pack pack = enroll_one(dir, cover, "cover");
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    const ScanResult r = scan_loaded(job_of(make_variant(plain_slabs(), VariantKind::rigid, seed)), pack, two_threads());
    EXPECT_EQ(r.verdict, Verdict::clear) << "seed " << seed << " score " << (r.matches.empty() ? 0.0 : r.matches[0].score);
  }
  for (VariantKind kind : {VariantKind::unit_down, VariantKind::unit_up, VariantKind::scale}) {
    const Variant v = make_variant(cover, kind, 2);
    const ScanResult r = scan_loaded(job_of(v), pack, two_threads());
    ASSERT_FALSE(r.matches.empty()) << v.name;
    EXPECT_EQ(r.verdict, Verdict::flagged) << v.name;
    EXPECT_NEAR(r.matches[0].scale / v.expected_scale, 1.0, 0.05) << v.name;
  }
}

// The affine check that tells stretched look-alikes from scaled copies (stretched_fit) misreads
// a cut piece of a flat part: fits it refused on pieces of generated panels read 1.07-1.44 over
// the surface they explain, where whole stretched copies read 1.09-1.42. It used to drop such
// fits outright: with the cover cut in two (seed 3), both halves' right fits were dropped and the
// job went to review at 0.58. A stretched fit is now kept as a piece that counts only beside
// other pieces fitted on their own (flagged at 0.93). Nor does it agree with the job's scale: cut
// in three (seed 5), each big piece fitted best as the whole cover shrunk to 0.85x and 0.61x
// (both stretched), the first was taken to agree with the scale the pieces' area gives (0.94),
// no piece was fitted at that scale, and the job was cleared (now flagged at 0.83).
TEST(Assemblies, FlatCoverCutInPiecesIsFound) {
  const Mesh cover = flat_cover();
  TempDir dir("partscreen_cover_pieces");
  const Pack pack = enroll_one(dir, cover, "cover");
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    const Variant v = make_variant(cover, VariantKind::pieces, seed);
    const ScanResult r = scan_loaded(job_of(v), pack, two_threads());
    const double score = r.matches.empty() ? 0.0 : r.matches[0].score;
    std::printf("cover seed %llu (%s): %s %.3f\n", (unsigned long long)seed, v.name.c_str(), verdict_name(r.verdict), score);
    EXPECT_EQ(r.verdict, Verdict::flagged) << v.name << " seed " << seed << " score " << score;
  }
}

// Two copies of `part` side by side along x, a fifth of its length apart, in one mesh (a part
// printed as a pair: chain links, clips).
Mesh pair_of(const Mesh& part) {
  float lo = part.positions[0], hi = part.positions[0];
  for (size_t i = 0; i < part.positions.size(); i += 3) lo = std::min(lo, part.positions[i]), hi = std::max(hi, part.positions[i]);
  Mesh second = part;
  for (size_t i = 0; i < second.positions.size(); i += 3) second.positions[i] += 1.2f * (hi - lo);
  Mesh m = part;
  append_mesh(m, second);
  return m;
}

// A reference of two bodies and a look-alike of it: the same pair stretched 1.2x along one axis
// (on a benchmark draw, chain links of another length, two to a file, flagged at 0.91-0.94 as
// the enrolled pair). Each body covers half the reference, too little for the stretch check
// (stretched_fit) to be trusted on it, and fitted one by one at its own compromise scale the two
// bodies added up to the reference (all eight below were flagged, at 0.72-0.90). The file fitted
// as a whole is found stretched, and an assembly of its bodies is that same fit: not counted. The
// pair turned and resized evenly is still flagged. (Left out: the rotor pair stretched along the
// line of its bodies. Its whole-file fit covers 0.76 and is not found stretched over the surface
// it explains, so it is flagged at 0.72 on that fit alone.)
TEST(Assemblies, StretchedPairIsNotAddedUpFromItsBodies) {
  ASSERT_TRUE(have_cgal_data()) << "install libcgal-demo (scripts/setup.sh)";
  for (const auto& [stem, axes] : {std::pair<std::string, std::vector<int>>{"rotor", {1, 2}}, {"handle", {0, 1, 2}}, {"anchor", {0, 1, 2}}}) {
    const Mesh pair = pair_of(load_file(cgal_mesh(stem)).mesh);
    TempDir dir("partscreen_stretched_pair");
    const Pack pack = enroll_one(dir, pair, stem + "_pair");
    for (int axis : axes) {
      Mesh stretched = pair;
      for (size_t i = axis; i < stretched.positions.size(); i += 3) stretched.positions[i] *= 1.2f;
      const ScanResult r = scan_loaded(job_of(make_variant(stretched, VariantKind::rigid, 1)), pack, two_threads());
      const double score = r.matches.empty() ? 0.0 : r.matches[0].score;
      std::printf("%s pair stretched 1.2x along axis %d: %s %.3f\n", stem.c_str(), axis, verdict_name(r.verdict), score);
      EXPECT_NE(r.verdict, Verdict::flagged) << stem << " stretched along axis " << axis << ": score " << score;
    }
    for (VariantKind kind : {VariantKind::rigid, VariantKind::scale, VariantKind::mirror}) {
      const Variant v = make_variant(pair, kind, 2);
      const ScanResult r = scan_loaded(job_of(v), pack, two_threads());
      ASSERT_FALSE(r.matches.empty()) << stem << " " << v.name;
      EXPECT_EQ(r.verdict, Verdict::flagged) << stem << " " << v.name;
      EXPECT_NEAR(r.matches[0].scale / v.expected_scale, 1.0, 0.03) << stem << " " << v.name;
    }
  }
}

// Signed volume of a triangle soup (the divergence theorem): a closed, outward surface's volume.
double signed_volume(const Mesh& m) {
  double v = 0.0;
  for (size_t t = 0; t < m.triangle_count(); ++t) {
    Eigen::Vector3d p[3];
    for (int k = 0; k < 3; ++k) {
      const size_t i = m.indices[3 * t + k];
      p[k] = Eigen::Vector3d(m.positions[3 * i], m.positions[3 * i + 1], m.positions[3 * i + 2]);
    }
    v += p[0].dot(p[1].cross(p[2])) / 6.0;
  }
  return v;
}

// A part cut with planes (the `pieces` variant: exact, capped, each piece turned and moved apart,
// over two files) is glued back at its caps. Glued whole (every piece above 2% of the part's
// area in one cluster: slivers of a cut through a thin edge have no cap worth the name), it has
// the part's area and volume (the glued caps left out, it is closed again). One cut always
// glues whole; two cuts leave a T (one piece's cap against two pieces' caps side by side),
// glued once the two are glued to each other, which fails when one of them has no usable cap
// (the anchor's thin flukes): 12 of these 15 jobs glue whole.
TEST_F(Engine, CutPiecesAreGluedBackAtTheirCaps) {
  size_t whole_jobs = 0, jobs = 0;
  for (const std::string stem : {"pinion", "rotor", "couplingdown", "anchor", "handle"}) {
    const ComponentInfo whole = loaded_from_mesh(mesh(stem), stem + ".stl").components.at(0);
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      SCOPED_TRACE(stem + " seed " + std::to_string(seed));
      const std::vector<LoadedFile> job = job_of(make_variant(mesh(stem), VariantKind::pieces, seed));
      std::vector<detail::PieceInput> pieces;
      for (const LoadedFile& f : job)
        for (const ComponentInfo& c : f.components) pieces.push_back({&f.mesh, c});
      ASSERT_GE(pieces.size(), 2u);
      const std::vector<detail::Reassembly> glued = detail::reassemble_pieces(pieces);
      ++jobs;
      ASSERT_EQ(glued.size(), 1u) << "pieces glued in more than one cluster";
      size_t expected = 0;
      for (size_t k = 0; k < pieces.size(); ++k) {
        if (pieces[k].component.area_mm2 < 0.02 * whole.area_mm2) continue;
        ++expected;
        if (std::find(glued[0].pieces.begin(), glued[0].pieces.end(), k) == glued[0].pieces.end()) expected = SIZE_MAX / 2;
      }
      std::printf("%s seed %llu: %zu pieces, %zu glued, area %.4f of %.4f, volume %.4f of %.4f\n", stem.c_str(),
                  (unsigned long long)seed, pieces.size(), glued[0].pieces.size(), glued[0].area_mm2, whole.area_mm2,
                  signed_volume(glued[0].mesh), whole.volume_mm3);
      if (expected > pieces.size()) continue;  // not whole
      ++whole_jobs;
      EXPECT_NEAR(glued[0].area_mm2, whole.area_mm2, 0.01 * whole.area_mm2);
      EXPECT_NEAR(signed_volume(glued[0].mesh), whole.volume_mm3, 0.01 * whole.volume_mm3);
    }
  }
  EXPECT_GE(whole_jobs, 12u) << "of " << jobs;
  // Different parts side by side share no cap: nothing is glued.
  const std::vector<LoadedFile> plate{loaded_from_mesh(mesh("pinion"), "a.stl"), loaded_from_mesh(mesh("rotor"), "b.stl"),
                                      loaded_from_mesh(mesh("anchor"), "c.stl")};
  std::vector<detail::PieceInput> parts;
  for (const LoadedFile& f : plate) parts.push_back({&f.mesh, f.components.at(0)});
  EXPECT_TRUE(detail::reassemble_pieces(parts).empty());
  // Copies of one part (a print farm's plate) have each other's flat faces, but are not glued:
  // back to back they would make shapes nobody uploaded.
  std::vector<LoadedFile> copies;
  for (int k = 0; k < 6; ++k) {
    Mesh m = mesh("pinion");
    for (size_t i = 0; i < m.positions.size(); i += 3) m.positions[i] += float(10 * k);
    copies.push_back(loaded_from_mesh(m, "copy" + std::to_string(k) + ".stl"));
  }
  std::vector<detail::PieceInput> plate_of_copies;
  for (const LoadedFile& f : copies) plate_of_copies.push_back({&f.mesh, f.components.at(0)});
  EXPECT_TRUE(detail::reassemble_pieces(plate_of_copies).empty());
}

// A cut part is found, and when the glued whole carries the match, the match says so: its pieces
// are listed as reassembled, each with the share of the reference it explains in place (together
// about all of it).
TEST_F(Engine, CutPartIsFoundWholeAndSaysSo) {
  size_t reassembled = 0;
  for (const std::string stem : {"pinion", "couplingdown", "handle"}) {
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      SCOPED_TRACE(stem + " seed " + std::to_string(seed));
      const ScanResult r = scan_loaded(job_of(make_variant(mesh(stem), VariantKind::pieces, seed)), pack(), two_threads());
      ASSERT_FALSE(r.matches.empty());
      const Match& m = r.matches[0];
      EXPECT_EQ(m.reference, stem);
      EXPECT_EQ(r.verdict, Verdict::flagged);
      if (!std::any_of(m.parts.begin(), m.parts.end(), [](const MatchPart& p) { return p.reassembled; })) continue;
      ++reassembled;
      ASSERT_GE(m.parts.size(), 2u);
      double shares = 0.0;
      for (const MatchPart& p : m.parts) {
        EXPECT_TRUE(p.reassembled) << p.file << " component " << p.component;
        EXPECT_GT(p.coverage, 0.0) << p.file << " component " << p.component;
        EXPECT_LT(p.coverage, m.coverage) << "a piece explains only its share";
        shares += p.coverage;
      }
      EXPECT_GE(shares, 0.9 * m.coverage);
    }
  }
  EXPECT_GE(reassembled, 3u);
}

// Parts that were never enrolled are cleared. (assimp's Spider and Wuson models are left to
// SlowEngine.DistractorsAreNotFlagged: they take seconds to a minute and land in the review band, see there.)
TEST_F(Engine, DistractorsAreClear) {
  for (const std::string& d : {cgal_mesh("mech-holes-shark"), cgal_mesh("turbine"), cgal_mesh("oblong"), cgal_mesh("cylinder"),
                               std::string(PARTSCREEN_TEST_MODELS) + "/STL/sphereWithHole.stl"}) {
    ScanResult r = scan_files({d}, pack(), two_threads());
    EXPECT_EQ(r.verdict, Verdict::clear) << d << (r.matches.empty() ? "" : ": " + r.matches[0].reference);
  }
}

TEST_F(Engine, EmptyJobIsRefused) {
  try {
    scan_files({}, pack(), two_threads());
    FAIL() << "an empty job was scanned";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
  }
  try {
    scan_loaded({}, pack(), two_threads());
    FAIL() << "an empty loaded job was scanned";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
  }
  // A job whose only file cannot be read is an error, not a clear.
  const ScanResult r = scan_files({"/no/such/upload.stl"}, pack(), two_threads());
  EXPECT_EQ(r.verdict, Verdict::error);
}

// The naive baseline (every reference verified, no index) names the same reference.
TEST_F(Engine, NaiveBaselineFindsTheSameReference) {
  ScanOptions naive = two_threads();
  naive.use_index = false;
  for (const std::string stem : {"pinion", "fandisk", "handle"}) {
    const auto job = job_of(make_variant(mesh(stem), VariantKind::rigid, 1, plate()));
    ScanResult indexed = scan_loaded(job, pack(), two_threads());
    ScanResult baseline = scan_loaded(job, pack(), naive);
    ASSERT_FALSE(indexed.matches.empty());
    ASSERT_FALSE(baseline.matches.empty()) << stem;
    EXPECT_EQ(baseline.matches[0].reference, indexed.matches[0].reference);
    EXPECT_EQ(baseline.matches[0].reference, stem);
  }
}

// Pieces of a cut part are at the scale it was drawn at, but ICP on a piece drifts in scale (the
// reference surface the piece lacks pulls toward whatever surface is near): the free fits below
// stopped at 0.87-0.94 and left 10-28% of the reference unfound. A fit near a prior scale (1, or
// an inch/mm mistake) is refitted at it. Measured: handle seed 1 0.878 -> 0.973, handle seed 6
// 0.721 -> 0.812, rotor seed 6 0.854 -> 0.904, each now at 0.99.
TEST_F(Engine, PiecesAreFittedAtTheScaleTheyWereDrawnAt) {
  for (const auto& [stem, seed] : std::vector<std::pair<std::string, uint64_t>>{{"handle", 1}, {"handle", 6}, {"rotor", 6}}) {
    const ScanResult r = scan_loaded(job_of(make_variant(mesh(stem), VariantKind::pieces, seed, plate())), pack(), two_threads());
    ASSERT_FALSE(r.matches.empty()) << stem << " seed " << seed;
    const Match& top = r.matches[0];
    EXPECT_EQ(top.reference, stem) << "seed " << seed;
    EXPECT_NEAR(top.scale, 1.0, 0.02) << stem << " seed " << seed;
    EXPECT_GE(top.score, 0.8) << stem << " seed " << seed;
    EXPECT_EQ(r.verdict, Verdict::flagged) << stem << " seed " << seed;
  }
}

// A thick part sliced into four capped pieces: the cut faces are a large share of every piece
// (each fits best as the whole reference shrunk to its size) and of the job's area, so the area
// misjudges the job's scale. The pieces' volumes add up to the reference's, which fixes it.
// Measured: the handle (seed 3) was named at scale 1.08 when the job's scale came from the area.
std::vector<LoadedFile> sliced_job(const Mesh& part, int slices, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0.0, 1.0);
  Eigen::Vector3d dir(g(rng), g(rng), g(rng));
  dir.normalize();
  double lo = 1e300, hi = -1e300;
  for (size_t v = 0; v < part.vertex_count(); ++v) {
    const double t = dir.dot(Eigen::Vector3d(part.positions[3 * v], part.positions[3 * v + 1], part.positions[3 * v + 2]));
    lo = std::min(lo, t), hi = std::max(hi, t);
  }
  std::vector<Mesh> pieces{part};
  for (int k = 1; k < slices; ++k) {
    const Eigen::Vector3d at = dir * (lo + (hi - lo) * k / slices);
    std::vector<Mesh> next;
    for (const Mesh& m : pieces)
      for (Mesh& c : eval::cut_by_plane(m, at, dir)) next.push_back(std::move(c));
    pieces.swap(next);
  }
  std::vector<Mesh> files(2);
  for (size_t i = 0; i < pieces.size(); ++i) {
    const Eigen::Matrix3d R = Eigen::Quaterniond(g(rng), g(rng), g(rng), g(rng)).normalized().toRotationMatrix();
    const Eigen::Vector3d shift(60.0 * double(i), 0.0, 0.0);
    Mesh& out = files[i % 2];
    const uint32_t base = uint32_t(out.vertex_count());
    for (size_t v = 0; v < pieces[i].vertex_count(); ++v) {
      const Eigen::Vector3d p = R * Eigen::Vector3d(pieces[i].positions[3 * v], pieces[i].positions[3 * v + 1], pieces[i].positions[3 * v + 2]) + shift;
      for (int d = 0; d < 3; ++d) out.positions.push_back(float(p[d]));
    }
    for (uint32_t idx : pieces[i].indices) out.indices.push_back(base + idx);
  }
  std::vector<LoadedFile> job;
  for (size_t f = 0; f < files.size(); ++f) job.push_back(loaded_from_mesh(files[f], "slices.file" + std::to_string(f) + ".stl"));
  return job;
}

TEST_F(Engine, ThickPartInSlicesIsAssembledAtItsVolumesScale) {
  for (const auto& [stem, seed] : std::vector<std::pair<std::string, uint64_t>>{{"rotor", 1}, {"couplingdown", 2}, {"handle", 3}, {"spool", 4}}) {
    const ScanResult r = scan_loaded(sliced_job(mesh(stem), 4, seed), pack(), two_threads());
    ASSERT_FALSE(r.matches.empty()) << stem;
    const Match& top = r.matches[0];
    EXPECT_EQ(top.reference, stem);
    EXPECT_NEAR(top.scale, 1.0, 0.03) << stem;
    EXPECT_EQ(r.verdict, Verdict::flagged) << stem << " score " << top.score << " coverage " << top.coverage << " explained " << top.explained;
  }
}

#endif  // !PARTSCREEN_SLOW_TESTS

#ifdef PARTSCREEN_SLOW_TESTS
// ---------------------------------------------------------------- slow (label "slow")
// Built and registered only with -DPARTSCREEN_SLOW_TESTS=ON; run with `ctest -L slow`.
class SlowEngine : public Engine {};

// Pieces over seeds 1-5: the right reference tops at least 80% of the 35 jobs (measured 35/35),
// and at least 90% are flagged (measured 33/35: handle seeds 2 and 4 in review at 0.680 and 0.681;
// 31/35 before assembly fitted pieces at the anchor's scale and away from each other).
TEST_F(SlowEngine, PiecesOverSeeds) {
  int right = 0, flagged = 0, total = 0;
  for (const std::string& stem : reference_stems())
    for (uint64_t seed = 1; seed <= 5; ++seed) {
      ScanResult r = scan_loaded(job_of(make_variant(mesh(stem), VariantKind::pieces, seed, plate())), pack(), two_threads());
      ++total;
      right += !r.matches.empty() && r.matches[0].reference == stem;
      flagged += r.verdict == Verdict::flagged;
    }
  EXPECT_GE(right, total * 8 / 10) << right << " of " << total;
  EXPECT_GE(flagged, total * 9 / 10) << flagged << " of " << total;
}

// assimp's sample creatures are not enrolled. They are not flagged, but the engine puts them in
// front of a reviewer as "handle" (measured 0.539-0.589: a false review, reported upstream), and
// Wuson (3,732 triangles, 51 components) takes ~100 s to scan.
TEST_F(SlowEngine, DistractorsAreNotFlagged) {
  for (const std::string& d : {std::string(PARTSCREEN_TEST_MODELS) + "/STL/Spider_binary.stl",
                               std::string(PARTSCREEN_TEST_MODELS) + "/OBJ/spider.obj",
                               std::string(PARTSCREEN_TEST_MODELS) + "/STL/Wuson.stl"}) {
    ScanResult r = scan_files({d}, pack(), two_threads());
    EXPECT_NE(r.verdict, Verdict::flagged) << d;
    EXPECT_NE(r.verdict, Verdict::error) << d;
  }
}
#endif

}  // namespace
}  // namespace partscreen::test
