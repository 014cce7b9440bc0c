// SPDX-License-Identifier: GPL-3.0-or-later
// PointGrid, the neighbour search under every fit and coverage check: each way of querying it
// must visit exactly the points a brute-force scan finds, on a real mesh's surface samples (the
// grid's dense layout) and on a few points spread far apart (its hash-table layout).
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "features/features.h"
#include "partscreen/io.h"

using namespace partscreen;
using namespace partscreen::detail;

namespace {

std::vector<Vec3> surface_points() {
  const LoadedFile f = load_file(std::string(PARTSCREEN_TEST_MODELS) + "/STL/Spider_binary.stl");
  return sample_mesh(f.mesh, 0, uint32_t(f.mesh.triangle_count()), 0.5f, 7).points;
}

std::vector<Vec3> spread_points() {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> far(-1e5f, 1e5f);
  std::vector<Vec3> out;
  for (int i = 0; i < 40; ++i) out.emplace_back(far(rng), far(rng), far(rng));
  for (int i = 0; i < 20; ++i) out.push_back(out[size_t(i)] + Vec3(0.3f * float(i % 3), 0.2f, -0.1f));  // close pairs
  return out;
}

// Every query flavour against brute force, at query points on and off the points, radii from a
// fraction of a cell to many cells (the all-points fallback).
void expect_queries_exact(const std::vector<Vec3>& pts, float cell, std::vector<float> radii) {
  ASSERT_GT(pts.size(), 10u);
  const PointGrid grid(pts, cell);
  std::vector<float> tag(pts.size());
  for (size_t i = 0; i < pts.size(); ++i) tag[i] = float(i);
  const std::vector<float> tag_by_slot = grid.in_slot_order(tag);
  std::mt19937 rng(11);
  std::normal_distribution<float> jitter(0.f, cell);
  size_t checked = 0, found_some = 0;
  for (size_t k = 0; k < pts.size(); k += 1 + pts.size() / 150) {
    for (float r : radii) {
      const Vec3 q = pts[k] + Vec3(jitter(rng), jitter(rng), jitter(rng));
      std::set<int> truth;
      for (size_t i = 0; i < pts.size(); ++i)
        if ((pts[i] - q).squaredNorm() <= r * r) truth.insert(int(i));
      std::multiset<int> seen, seen_slots;
      grid.for_each_within(q, r, [&](int i) { seen.insert(i); });
      grid.for_each_slot_within(q, r, [&](uint32_t s) {
        EXPECT_EQ(tag_by_slot[s], float(grid.index_at(s)));
        seen_slots.insert(grid.index_at(s));
      });
      EXPECT_EQ(std::set<int>(seen.begin(), seen.end()), truth);
      EXPECT_EQ(seen.size(), truth.size()) << "a point visited twice";
      EXPECT_EQ(seen_slots, seen);
      // any_within: true exactly when some point within r passes, and it stops at the first.
      const bool odd = std::any_of(truth.begin(), truth.end(), [](int i) { return i % 2 == 1; });
      size_t calls = 0;
      EXPECT_EQ(grid.any_within(q, r, [&](int i) { ++calls; return i % 2 == 1; }), odd);
      if (odd) {
        EXPECT_LE(calls, truth.size());
      }
      size_t after_true = 0;
      bool found = false;
      grid.any_slot_within(q, r, [&](uint32_t s) {
        if (found) ++after_true;
        found = grid.index_at(s) % 2 == 1;
        return found;
      });
      EXPECT_EQ(found, odd);
      EXPECT_EQ(after_true, 0u) << "any_slot_within went on after the predicate held";
      ++checked;
      found_some += !truth.empty();
    }
  }
  EXPECT_GT(checked, 50u);
  EXPECT_GT(3 * found_some, checked) << "queries that find nothing test little";
}

}  // namespace

TEST(PointGrid, DenseLayoutQueriesFindExactlyThePointsWithinReach) {
  expect_queries_exact(surface_points(), 2.f, {0.3f, 1.f, 2.f, 4.5f, 40.f, 1e6f});
}

TEST(PointGrid, SparseLayoutQueriesFindExactlyThePointsWithinReach) {
  expect_queries_exact(spread_points(), 1.f, {0.25f, 0.5f, 2.f, 1e4f});
}
