// SPDX-License-Identifier: GPL-3.0-or-later
// 3MF reader (3MF Core Specification 1.3, with the Production extension's p:path components).
// A 3MF is a zip: sizes are checked from the central directory before anything is inflated, and
// again while inflating, since a hostile archive can lie in its directory. Only the model parts
// are inflated. Objects are instanced through build items and components with 4x3 affine
// matrices (row-vector convention: p' = p * M), which can nest: depth is capped and cycles are
// refused, and the emitted triangle count is checked as it grows (instancing multiplies it).
#include <zip.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <pugixml.hpp>

#include "io/readers.h"
#include "partscreen/error.h"

namespace partscreen::detail {
namespace {

constexpr int kMaxComponentDepth = 32;
constexpr const char* kDefaultModelPath = "3D/3dmodel.model";

using Affine = std::array<double, 12>;  // m00 m01 m02 m10 m11 m12 m20 m21 m22 m30 m31 m32
constexpr Affine kIdentity{1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0};

// a then b (p * a * b).
Affine compose(const Affine& a, const Affine& b) {
  Affine r{};
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j) {
      double s = i == 3 ? b[9 + j] : 0.0;
      for (int k = 0; k < 3; ++k) s += a[3 * i + k] * b[3 * k + j];
      r[3 * i + j] = s;
    }
  return r;
}

const char* local_name(const char* name) {
  const char* colon = std::strrchr(name, ':');
  return colon ? colon + 1 : name;
}

bool is(const pugi::xml_node& n, const char* name) { return std::strcmp(local_name(n.name()), name) == 0; }

pugi::xml_node child(const pugi::xml_node& n, const char* name) {
  for (pugi::xml_node c = n.first_child(); c; c = c.next_sibling())
    if (c.type() == pugi::node_element && is(c, name)) return c;
  return {};
}

// Attribute by local name (3MF writers use p:path, and some prefix core attributes too).
pugi::xml_attribute attr(const pugi::xml_node& n, const char* name) {
  for (pugi::xml_attribute a = n.first_attribute(); a; a = a.next_attribute())
    if (std::strcmp(local_name(a.name()), name) == 0) return a;
  return {};
}

std::string normalise_part(std::string p) {
  while (!p.empty() && p[0] == '/') p.erase(0, 1);
  return p;
}

class Reader {
public:
  Reader(const std::string& name, const unsigned char* data, size_t size, const LoadOptions& options)
      : name_(name), options_(options) {
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t* src = zip_source_buffer_create(data, size, 0, &err);
    if (!src) fail_zip("cannot open zip buffer", &err);
    archive_ = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &err);
    if (!archive_) {
      zip_source_free(src);
      fail_zip("not a readable zip archive", &err);
    }
    zip_error_fini(&err);
    compressed_total_ = size;
  }
  ~Reader() {
    if (archive_) zip_discard(archive_);
  }

  RawMesh read() {
    check_directory();
    std::string root = find_root_model();
    pugi::xml_node model = document(root);
    RawMesh out;
    out.unit_scale_to_mm = unit_scale(model);
    scale_ = out.unit_scale_to_mm;
    pugi::xml_node build = child(model, "build");
    if (!build) malformed("model has no <build> element");
    for (pugi::xml_node item = build.first_child(); item; item = item.next_sibling()) {
      if (item.type() != pugi::node_element || !is(item, "item")) continue;
      Affine m = parse_transform(item);
      std::string part = root;
      if (pugi::xml_attribute p = attr(item, "path")) part = normalise_part(p.as_string());
      emit(part, object_id(item), m, 0, out.mesh);
    }
    return out;
  }

private:
  [[noreturn]] void malformed(const std::string& why) const { throw Error(ErrorCode::malformed, name_, "3MF: " + why); }
  [[noreturn]] void limit(const std::string& why) const { throw Error(ErrorCode::limit_exceeded, name_, "3MF: " + why); }
  [[noreturn]] void fail_zip(const char* what, zip_error_t* err) {
    std::string msg = std::string(what) + ": " + zip_error_strerror(err);
    zip_error_fini(err);
    malformed(msg);
  }

  // Every entry, before inflating any: total declared size and per-entry ratio.
  void check_directory() {
    zip_int64_t n = zip_get_num_entries(archive_, 0);
    if (n <= 0) malformed("empty zip archive");
    uint64_t total = 0;
    for (zip_int64_t i = 0; i < n; ++i) {
      zip_stat_t st;
      zip_stat_init(&st);
      if (zip_stat_index(archive_, zip_uint64_t(i), 0, &st) != 0) malformed("unreadable zip directory entry");
      if (!(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_COMP_SIZE)) malformed("zip entry without sizes");
      if (st.name) entries_[st.name] = zip_uint64_t(i);
      total += st.size;
      if (total > options_.max_unzipped_bytes)
        limit("archive declares " + std::to_string(total) + "+ bytes uncompressed, over the limit of " +
              std::to_string(options_.max_unzipped_bytes));
      double ratio = double(st.size) / double(std::max<zip_uint64_t>(st.comp_size, 1));
      if (st.size > 4096 && ratio > options_.max_zip_ratio)
        limit(std::string("entry '") + (st.name ? st.name : "?") + "' has compression ratio " +
              std::to_string(int64_t(ratio)) + ", over the limit of " + std::to_string(int64_t(options_.max_zip_ratio)));
    }
  }

  // Inflates one entry, counting real bytes against the declared size, the ratio and the budget.
  std::string inflate(const std::string& part) {
    auto it = entries_.find(part);
    if (it == entries_.end()) {
      // Zip names are case-sensitive but some writers disagree with their own relationships.
      for (auto& e : entries_)
        if (strcasecmp(e.first.c_str(), part.c_str()) == 0) { it = entries_.find(e.first); break; }
      if (it == entries_.end()) malformed("missing part '" + part + "'");
    }
    zip_stat_t st;
    zip_stat_init(&st);
    zip_stat_index(archive_, it->second, 0, &st);
    const uint64_t ratio_cap = uint64_t(options_.max_zip_ratio * double(std::max<zip_uint64_t>(st.comp_size, 1)));
    const uint64_t entry_cap = std::max<uint64_t>(std::max<uint64_t>(st.size, 4096), 0);
    std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> zf(zip_fopen_index(archive_, it->second, 0), &zip_fclose);
    if (!zf) malformed("cannot open part '" + part + "': " + zip_strerror(archive_));
    std::string out;
    out.reserve(std::min<uint64_t>(st.size, 64ull << 20));
    char buf[1 << 16];
    for (;;) {
      zip_int64_t r = zip_fread(zf.get(), buf, sizeof buf);
      if (r < 0) malformed("cannot inflate part '" + part + "': " + zip_file_strerror(zf.get()));
      if (r == 0) break;
      out.append(buf, size_t(r));
      inflated_ += uint64_t(r);
      if (out.size() > entry_cap) malformed("part '" + part + "' inflates beyond its declared size");
      if (out.size() > 4096 && out.size() > ratio_cap)
        limit("part '" + part + "' inflates beyond the compression ratio limit of " +
              std::to_string(int64_t(options_.max_zip_ratio)));
      if (inflated_ > options_.max_unzipped_bytes)
        limit("inflated data exceeds the limit of " + std::to_string(options_.max_unzipped_bytes) + " bytes");
    }
    return out;
  }

  // The start part named by _rels/.rels (type .../3dmodel), else the conventional path.
  std::string find_root_model() {
    if (entries_.count("_rels/.rels")) {
      std::string rels = inflate("_rels/.rels");
      pugi::xml_document doc;
      if (doc.load_buffer(rels.data(), rels.size())) {
        for (pugi::xml_node r = doc.document_element().first_child(); r; r = r.next_sibling()) {
          std::string type = attr(r, "Type").as_string();
          if (type.size() >= 8 && type.compare(type.size() - 8, 8, "3dmodel") == 0) {
            std::string target = normalise_part(attr(r, "Target").as_string());
            if (!target.empty() && entries_.count(target)) return target;
          }
        }
      }
    }
    if (entries_.count(kDefaultModelPath)) return kDefaultModelPath;
    for (auto& e : entries_)
      if (strcasecmp(e.first.c_str(), kDefaultModelPath) == 0) return e.first;
    malformed("zip archive has no 3D model part (3D/3dmodel.model): not a 3MF file");
  }

  pugi::xml_node document(const std::string& part) {
    auto it = docs_.find(part);
    if (it != docs_.end()) return it->second->document_element();
    std::string xml = inflate(part);
    auto doc = std::make_unique<pugi::xml_document>();
    pugi::xml_parse_result res = doc->load_buffer(xml.data(), xml.size());
    if (!res)
      malformed("XML error in '" + part + "' at byte " + std::to_string(res.offset) + ": " + res.description());
    pugi::xml_node model = doc->document_element();
    if (!is(model, "model")) malformed("part '" + part + "' has no <model> root element");
    pugi::xml_node resources = child(model, "resources");
    if (!resources) malformed("part '" + part + "' has no <resources>");
    for (pugi::xml_node o = resources.first_child(); o; o = o.next_sibling())
      if (o.type() == pugi::node_element && is(o, "object")) objects_[{part, object_id(o, "id")}] = o;
    docs_[part] = std::move(doc);
    return docs_[part]->document_element();
  }

  double unit_scale(const pugi::xml_node& model) {
    std::string unit = attr(model, "unit").as_string("millimeter");
    if (unit == "micron") return 0.001;
    if (unit == "millimeter") return 1.0;
    if (unit == "centimeter") return 10.0;
    if (unit == "inch") return 25.4;
    if (unit == "foot") return 304.8;
    if (unit == "meter") return 1000.0;
    malformed("unknown unit '" + unit + "'");
  }

  long object_id(const pugi::xml_node& n, const char* key = "objectid") {
    pugi::xml_attribute a = attr(n, key);
    if (!a) malformed(std::string("<") + n.name() + "> without " + key);
    const char* s = a.value();
    char* end = nullptr;
    errno = 0;
    long v = std::strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno) malformed(std::string("bad ") + key + " '" + s + "'");
    return v;
  }

  Affine parse_transform(const pugi::xml_node& n) {
    pugi::xml_attribute a = attr(n, "transform");
    if (!a) return kIdentity;
    Affine m{};
    const char* s = a.value();
    for (int i = 0; i < 12; ++i) {
      char* end = nullptr;
      m[i] = std::strtod(s, &end);
      if (end == s || !std::isfinite(m[i])) malformed(std::string("bad transform '") + a.value() + "'");
      s = end;
    }
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') ++s;
    if (*s) malformed(std::string("transform has more than 12 numbers: '") + a.value() + "'");
    return m;
  }

  static double number(const pugi::xml_attribute& a, bool& ok) {
    const char* s = a.value();
    char* end = nullptr;
    double v = std::strtod(s, &end);
    if (end == s || *end != '\0') ok = false;
    return v;
  }

  void emit(const std::string& part, long id, const Affine& m, int depth, Mesh& out) {
    if (depth > kMaxComponentDepth)
      malformed("components nested deeper than " + std::to_string(kMaxComponentDepth) + " levels");
    // Instancing multiplies work, not only triangles: components of objects that hold nothing
    // (an empty mesh, an extension's shape) nest to 10^10 visits in a few kilobytes and never
    // reach the triangle limit. An instance is at least one component of the loaded mesh, so more
    // instances than max_components could never load anyway.
    if (++instances_ > options_.max_components)
      limit("more than " + std::to_string(options_.max_components) + " object instances (after instancing)");
    document(part);
    auto it = objects_.find({part, id});
    if (it == objects_.end()) malformed("reference to missing object " + std::to_string(id) + " in '" + part + "'");
    auto key = std::make_pair(part, id);
    if (active_.count(key)) malformed("object " + std::to_string(id) + " contains itself through its components");
    pugi::xml_node object = it->second;
    if (pugi::xml_node mesh = child(object, "mesh")) {
      emit_mesh(key, mesh, m, out);
    } else if (pugi::xml_node comps = child(object, "components")) {
      active_.insert(key);
      for (pugi::xml_node c = comps.first_child(); c; c = c.next_sibling()) {
        if (c.type() != pugi::node_element || !is(c, "component")) continue;
        std::string sub = part;
        if (pugi::xml_attribute p = attr(c, "path")) sub = normalise_part(p.as_string());
        emit(sub, object_id(c), compose(parse_transform(c), m), depth + 1, out);
      }
      active_.erase(key);
    }
    // Objects with neither (e.g. boolean-shape extension) contribute nothing.
  }

  // An object's mesh, parsed once however often it is instanced: the vertices its triangles use
  // and its triangles over them. Parsing per instance let vertices that no triangle uses
  // multiply: 600 of them in an object instanced 99,000 times (1.7 KB zipped) took 15 s and
  // 1.47 GB before the load found no triangle.
  struct ObjectMesh {
    std::vector<double> xyz;
    std::vector<uint32_t> triangles;
  };

  const ObjectMesh& object_mesh(const std::pair<std::string, long>& key, const pugi::xml_node& mesh) {
    auto cached = meshes_.find(key);
    if (cached != meshes_.end()) return cached->second;
    pugi::xml_node vertices = child(mesh, "vertices");
    pugi::xml_node triangles = child(mesh, "triangles");
    if (!vertices || !triangles) malformed("<mesh> without <vertices> or <triangles>");
    std::vector<double> all;
    for (pugi::xml_node v = vertices.first_child(); v; v = v.next_sibling()) {
      if (v.type() != pugi::node_element || !is(v, "vertex")) continue;
      bool ok = true;
      const double x = number(attr(v, "x"), ok), y = number(attr(v, "y"), ok), z = number(attr(v, "z"), ok);
      if (!ok) malformed("vertex with a missing or non-numeric coordinate");
      all.push_back(x);
      all.push_back(y);
      all.push_back(z);
      if (++parsed_vertices_ > 3 * options_.max_triangles + 3 || parsed_vertices_ > UINT32_MAX / 2)
        limit("too many vertices");
    }
    const uint64_t nv = all.size() / 3;
    ObjectMesh om;
    std::vector<uint8_t> used(nv, 0);
    for (pugi::xml_node t = triangles.first_child(); t; t = t.next_sibling()) {
      if (t.type() != pugi::node_element || !is(t, "triangle")) continue;
      const char* keys[3] = {"v1", "v2", "v3"};
      for (int k = 0; k < 3; ++k) {
        pugi::xml_attribute a = attr(t, keys[k]);
        const char* str = a.value();
        char* end = nullptr;
        const long v = std::strtol(str, &end, 10);
        if (!a || end == str || *end != '\0' || v < 0 || uint64_t(v) >= nv)
          malformed(std::string("triangle vertex index '") + str + "' out of range (object has " +
                    std::to_string(nv) + " vertices)");
        used[size_t(v)] = 1;
        om.triangles.push_back(uint32_t(v));
      }
      if (om.triangles.size() / 3 > options_.max_triangles)
        limit("more than " + std::to_string(options_.max_triangles) + " triangles (after instancing)");
    }
    // Writers leave few or no vertices unused: compact only when there are some.
    if (std::find(used.begin(), used.end(), 0) == used.end()) {
      om.xyz = std::move(all);
    } else {
      std::vector<uint32_t> remap(nv, 0);
      for (size_t v = 0; v < nv; ++v)
        if (used[v]) {
          remap[v] = uint32_t(om.xyz.size() / 3);
          om.xyz.insert(om.xyz.end(), {all[3 * v], all[3 * v + 1], all[3 * v + 2]});
        }
      for (uint32_t& i : om.triangles) i = remap[i];
    }
    return meshes_.emplace(key, std::move(om)).first->second;
  }

  void emit_mesh(const std::pair<std::string, long>& key, const pugi::xml_node& mesh, const Affine& m, Mesh& out) {
    const ObjectMesh& om = object_mesh(key, mesh);
    if (om.triangles.empty()) return;
    if (out.triangle_count() + om.triangles.size() / 3 > options_.max_triangles)
      limit("more than " + std::to_string(options_.max_triangles) + " triangles (after instancing)");
    if (out.vertex_count() + om.xyz.size() / 3 > UINT32_MAX / 2) limit("too many vertices (after instancing)");
    const uint32_t base = uint32_t(out.vertex_count());
    const double s = scale_;
    for (size_t i = 0; i < om.xyz.size(); i += 3) {
      const double x = om.xyz[i], y = om.xyz[i + 1], z = om.xyz[i + 2];
      out.positions.push_back(float((x * m[0] + y * m[3] + z * m[6] + m[9]) * s));
      out.positions.push_back(float((x * m[1] + y * m[4] + z * m[7] + m[10]) * s));
      out.positions.push_back(float((x * m[2] + y * m[5] + z * m[8] + m[11]) * s));
    }
    // A mirroring transform turns the winding inside out: swap to keep outward orientation.
    const double det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
                       m[2] * (m[3] * m[7] - m[4] * m[6]);
    const bool mirror = det < 0;
    for (size_t i = 0; i < om.triangles.size(); i += 3) {
      out.indices.push_back(base + om.triangles[i]);
      out.indices.push_back(base + om.triangles[i + (mirror ? 2 : 1)]);
      out.indices.push_back(base + om.triangles[i + (mirror ? 1 : 2)]);
    }
  }

  std::string name_;
  const LoadOptions& options_;
  zip_t* archive_ = nullptr;
  uint64_t compressed_total_ = 0;
  uint64_t inflated_ = 0;
  uint64_t instances_ = 0;  // objects emitted, through build items and components
  uint64_t parsed_vertices_ = 0;
  double scale_ = 1.0;
  std::map<std::string, zip_uint64_t> entries_;
  std::map<std::string, std::unique_ptr<pugi::xml_document>> docs_;
  std::map<std::pair<std::string, long>, pugi::xml_node> objects_;
  std::set<std::pair<std::string, long>> active_;
  std::map<std::pair<std::string, long>, ObjectMesh> meshes_;
};

}  // namespace

RawMesh read_3mf(const std::string& name, const unsigned char* data, size_t size, const LoadOptions& options) {
  Reader reader(name, data, size, options);
  return reader.read();
}

}  // namespace partscreen::detail
