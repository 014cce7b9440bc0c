// SPDX-License-Identifier: GPL-3.0-or-later
// Enrolment: reference files -> features -> pack file, and manifest reading.
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <unistd.h>

#include <cmath>

#include "features/features.h"
#include "features/params.h"
#include "pack/pack_data.h"
#include "partscreen/error.h"

namespace partscreen {
namespace {

struct Enrolled {
  ReferenceInfo info;
  float radius = 0.f;
  detail::Features features;
};

// A mesh handed over in memory gets the same clean-up, split and limits as a file.
LoadedFile loaded_from_mesh_internal(Mesh mesh, const std::string& name, const LoadOptions& load) {
  LoadedFile f;
  f.path = name;
  if (mesh.triangle_count() > load.max_triangles)
    throw Error(ErrorCode::limit_exceeded, name, std::to_string(mesh.triangle_count()) + " triangles, over the limit");
  for (float c : mesh.positions)
    if (!std::isfinite(c) || std::fabs(c) > load.max_coordinate_mm)
      throw Error(ErrorCode::invalid_coordinates, name, "a coordinate is not finite or beyond the coordinate limit");
  for (uint32_t i : mesh.indices)
    if (i >= mesh.vertex_count()) throw Error(ErrorCode::malformed, name, "a triangle refers to a missing vertex");
  f.clean = clean_mesh(mesh);
  f.components = split_components(mesh);
  f.mesh = std::move(mesh);
  if (f.components.empty()) throw Error(ErrorCode::empty, name, "no triangles");
  return f;
}

Enrolled describe_loaded(const ReferenceInput& in, const LoadedFile& file) {
  Enrolled e;
  e.info.id = in.id.empty() ? std::filesystem::path(in.path).stem().string() : in.id;
  e.info.category = in.category;
  e.info.label = in.label.empty() ? e.info.id : in.label;
  double area = 0.0;
  for (const auto& c : file.components) area += c.area_mm2;
  if (!(area > 0.0)) throw Error(ErrorCode::empty, in.path, "the reference has no surface area");
  detail::Cloud dense = detail::surface_cloud(file.mesh, file.components, area);
  e.info.area_mm2 = area;
  e.info.size_mm = detail::size_of_area(area);
  e.info.component_count = uint32_t(file.components.size());
  e.radius = detail::kRadiusFraction * float(e.info.size_mm);
  // The same ladder an upload is described with, so a whole-part upload's rung 0 is built exactly
  // like the reference's descriptors (neighbour clouds are averaged rung from rung).
  std::vector<float> radii;
  for (int j = detail::kRungMin; j <= 0; ++j) radii.push_back(e.radius * detail::rung_factor(j));
  e.features = std::move(detail::compute_features(dense, radii).back());
  if (e.features.size() < 16)
    throw Error(ErrorCode::empty, in.path, "too little surface detail to enrol (" + std::to_string(e.features.size()) + " keypoints)");
  e.info.keypoint_count = uint32_t(e.features.size());
  return e;
}

Enrolled describe_reference(const ReferenceInput& in, const LoadOptions& load) {
  return describe_loaded(in, load_file(in.path, load));
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') { cur += '"'; ++i; }
      else if (c == '"') quoted = false;
      else cur += c;
    } else if (c == '"') quoted = true;
    else if (c == ',') { out.push_back(cur); cur.clear(); }
    else if (c != '\r') cur += c;
  }
  out.push_back(cur);
  for (auto& s : out) {
    size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
    s = a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
  }
  return out;
}

}  // namespace

std::vector<ReferenceInput> read_manifest(const std::string& csv_path) {
  return read_manifest(csv_path, std::filesystem::path(csv_path).parent_path().string());
}

std::vector<ReferenceInput> read_manifest(const std::string& csv_path, const std::string& base_dir) {
  std::ifstream in(csv_path);
  if (!in) throw Error(ErrorCode::io, csv_path, "cannot open manifest");
  std::string line;
  if (!std::getline(in, line)) throw Error(ErrorCode::empty, csv_path, "empty manifest (expected a header row path,id,category,label)");
  auto header = split_csv_line(line);
  int col_path = -1, col_id = -1, col_cat = -1, col_label = -1;
  for (int i = 0; i < int(header.size()); ++i) {
    if (header[i] == "path") col_path = i;
    else if (header[i] == "id") col_id = i;
    else if (header[i] == "category") col_cat = i;
    else if (header[i] == "label") col_label = i;
  }
  if (col_path < 0) throw Error(ErrorCode::malformed, csv_path, "manifest header has no 'path' column (expected path,id,category,label)");
  const auto base = std::filesystem::path(base_dir);
  std::vector<ReferenceInput> out;
  for (int row = 2; std::getline(in, line); ++row) {
    if (line.size() > 65536) throw Error(ErrorCode::limit_exceeded, csv_path, "line " + std::to_string(row) + " is longer than 64 KiB");
    if (line.find_first_not_of(" \t\r") == std::string::npos || line[0] == '#') continue;
    auto f = split_csv_line(line);
    auto get = [&](int c) { return c >= 0 && c < int(f.size()) ? f[c] : std::string(); };
    ReferenceInput r;
    r.path = get(col_path);
    if (r.path.empty()) throw Error(ErrorCode::malformed, csv_path, "line " + std::to_string(row) + " has no path");
    if (std::filesystem::path(r.path).is_relative()) r.path = (base / r.path).string();
    r.id = get(col_id);
    r.category = get(col_cat);
    r.label = get(col_label);
    out.push_back(std::move(r));
    if (out.size() > 1000000) throw Error(ErrorCode::limit_exceeded, csv_path, "more than 1,000,000 references");
  }
  return out;
}

namespace {

EnrollReport write_enrolled(std::vector<Enrolled>& enrolled, const std::string& out_path, const EnrollOptions& options,
                            std::chrono::steady_clock::time_point t0) {
  // Ids must be unique: a reviewer reads them.
  {
    std::vector<std::string> ids;
    for (auto& e : enrolled) ids.push_back(e.info.id);
    std::sort(ids.begin(), ids.end());
    for (size_t i = 1; i < ids.size(); ++i)
      if (ids[i] == ids[i - 1])
        throw Error(ErrorCode::invalid_argument, out_path, "reference id '" + ids[i] + "' is used twice: give each an id in the manifest");
  }
  std::vector<ReferenceInfo> infos;
  std::vector<detail::ReferenceRecord> records;
  std::vector<detail::KeypointRecord> kps;
  std::vector<uint8_t> desc;
  for (uint32_t r = 0; r < enrolled.size(); ++r) {
    const Enrolled& e = enrolled[r];
    detail::ReferenceRecord rec{};
    rec.keypoint_begin = uint32_t(kps.size());
    rec.keypoint_count = uint32_t(e.features.size());
    rec.area_mm2 = float(e.info.area_mm2);
    rec.size_mm = float(e.info.size_mm);
    rec.radius_mm = e.radius;
    rec.component_count = e.info.component_count;
    records.push_back(rec);
    for (size_t k = 0; k < e.features.size(); ++k) {
      detail::KeypointRecord kp{};
      for (int d = 0; d < 3; ++d) {
        kp.position[d] = e.features.keypoints.points[k][d];
        kp.normal[d] = e.features.keypoints.normals[k][d];
        kp.surface_normal[d] = e.features.keypoints.anchor_normals[k][d];
      }
      kp.weight = e.features.keypoints.weights[k];
      kp.salience = e.features.salience[k];
      kp.reference = r;
      kps.push_back(kp);
    }
    desc.insert(desc.end(), e.features.descriptors.begin(), e.features.descriptors.end());
    infos.push_back(e.info);
  }
  detail::VocabularyBuild vocab = detail::build_vocabulary(desc.data(), kps.size());
  std::vector<uint8_t> bytes =
      detail::write_pack_bytes(options.pack_name, infos, records, kps, desc, vocab, options.metadata, options.signing_key);
  detail::write_file_atomic(out_path, bytes, "pack");
  EnrollReport report;
  report.references = std::move(infos);
  report.pack_bytes = bytes.size();
  report.total_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

}  // namespace

namespace {

// Describes references 0..count-1 in parallel with `describe_one(i)`; the first failure (in input
// order) is rethrown after all have run, so the error names the first bad reference.
template <class Describe>
EnrollReport enroll_each(size_t count, const std::string& out_path, const EnrollOptions& options, Describe&& describe_one) {
  const auto t0 = std::chrono::steady_clock::now();
  if (count == 0) throw Error(ErrorCode::invalid_argument, out_path, "no references to enrol");
  std::vector<Enrolled> enrolled(count);
  std::vector<std::exception_ptr> errors(count);
  tbb::task_arena arena(options.threads ? int(options.threads) : tbb::task_arena::automatic);
  arena.execute([&] {
    tbb::parallel_for(size_t(0), count, [&](size_t i) {
      try {
        enrolled[i] = describe_one(i);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    });
  });
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  return write_enrolled(enrolled, out_path, options, t0);
}

}  // namespace

EnrollReport enroll(const std::vector<ReferenceInput>& refs, const std::string& out_path, const EnrollOptions& options) {
  return enroll_each(refs.size(), out_path, options, [&](size_t i) { return describe_reference(refs[i], options.load); });
}

EnrollReport enroll_meshes(const std::vector<ReferenceMesh>& refs, const std::string& out_path, const EnrollOptions& options) {
  return enroll_each(refs.size(), out_path, options, [&](size_t i) {
    if (refs[i].input.id.empty()) throw Error(ErrorCode::invalid_argument, refs[i].input.path, "a reference mesh needs an id");
    return describe_loaded(refs[i].input, loaded_from_mesh_internal(refs[i].mesh, refs[i].input.path, options.load));
  });
}

EnrollReport merge_packs(const std::vector<Pack>& inputs, const std::string& out_path, const EnrollOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  if (inputs.empty()) throw Error(ErrorCode::invalid_argument, out_path, "no packs to merge");
  std::set<std::string> revoked;
  for (const Pack& p : inputs) revoked.insert(p.metadata().revoked.begin(), p.metadata().revoked.end());
  for (const std::string& r : options.metadata.revoked) revoked.insert(r);
  // Last input wins for an id; order: first appearance.
  struct Pick { const Pack* pack; size_t index; };
  std::vector<std::string> order;
  std::map<std::string, Pick> picks;
  for (const Pack& p : inputs)
    for (size_t i = 0; i < p.reference_count(); ++i) {
      const std::string& id = p.reference(i).id;
      if (revoked.count(id)) continue;
      if (!picks.count(id)) order.push_back(id);
      picks[id] = Pick{&p, i};
    }
  if (order.empty()) throw Error(ErrorCode::invalid_argument, out_path, "nothing left to merge: every reference is revoked");
  std::vector<ReferenceInfo> infos;
  std::vector<detail::ReferenceRecord> records;
  std::vector<detail::KeypointRecord> kps;
  std::vector<uint8_t> desc;
  for (const std::string& id : order) {
    const Pick& pick = picks[id];
    const PackData& pd = pick.pack->data();
    detail::ReferenceRecord rec = pd.reference_records[pick.index];
    const uint32_t begin = rec.keypoint_begin;
    rec.keypoint_begin = uint32_t(kps.size());
    for (uint32_t k = begin; k < begin + rec.keypoint_count; ++k) {
      detail::KeypointRecord kp = pd.keypoints[k];
      kp.reference = uint32_t(records.size());
      kps.push_back(kp);
    }
    desc.insert(desc.end(), pd.descriptors + size_t(begin) * detail::kDescriptorBytes,
                pd.descriptors + size_t(begin + rec.keypoint_count) * detail::kDescriptorBytes);
    records.push_back(rec);
    ReferenceInfo info = pd.references[pick.index];
    info.revoked = false;
    infos.push_back(std::move(info));
  }
  detail::VocabularyBuild vocab = detail::build_vocabulary(desc.data(), kps.size());
  PackMetadata md = options.metadata;
  md.revoked.assign(revoked.begin(), revoked.end());
  if (md.categories.empty()) {
    std::set<std::string> cats;
    for (const Pack& p : inputs) cats.insert(p.metadata().categories.begin(), p.metadata().categories.end());
    md.categories.assign(cats.begin(), cats.end());
  }
  std::vector<uint8_t> bytes = detail::write_pack_bytes(options.pack_name, infos, records, kps, desc, vocab, md, options.signing_key);
  detail::write_file_atomic(out_path, bytes, "pack");
  EnrollReport report;
  report.references = std::move(infos);
  report.pack_bytes = bytes.size();
  report.total_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

PackDiff diff_packs(const Pack& a, const Pack& b) {
  PackDiff d;
  std::map<std::string, size_t> in_a, in_b;
  for (size_t i = 0; i < a.reference_count(); ++i) in_a[a.reference(i).id] = i;
  for (size_t i = 0; i < b.reference_count(); ++i) in_b[b.reference(i).id] = i;
  for (auto& [id, i] : in_a)
    if (!in_b.count(id)) d.removed.push_back(id);
  for (auto& [id, j] : in_b) {
    auto it = in_a.find(id);
    if (it == in_a.end()) d.added.push_back(id);
    else if (a.reference_content_hex(it->second) == b.reference_content_hex(j)) d.unchanged.push_back(id);
    else d.changed.push_back(id);
  }
  const std::set<std::string> old_revoked(a.metadata().revoked.begin(), a.metadata().revoked.end());
  for (const std::string& r : b.metadata().revoked)
    if (!old_revoked.count(r)) d.newly_revoked.push_back(r);
  d.same_content = a.content_hex() == b.content_hex();
  return d;
}

}  // namespace partscreen
