// SPDX-License-Identifier: GPL-3.0-or-later
// PLY, OFF, AMF, glTF/GLB and COLLADA through Assimp, imported from memory (OBJ has its own reader, obj.cpp).
// Assimp is not hardened against hostile files (its own test suite ships files made to exhaust
// memory), so: the byte cap is enforced before it runs; file access is confined to a private
// IOSystem (in-memory uploads may open nothing, files from disk only plain-named siblings such
// as a glTF .bin, each under the byte cap); and the node hierarchy is walked here instead of
// with aiProcess_PreTransformVertices, so instancing is counted against max_triangles before
// any vertex is copied rather than after Assimp has already multiplied the geometry.
#include <assimp/IOSystem.hpp>
#include <assimp/Importer.hpp>
#include <assimp/MemoryIOWrapper.h>
#include <assimp/ProgressHandler.hpp>
#include <assimp/postprocess.h>
#include <assimp/scene.h>

#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <new>
#include <string>

#include "io/readers.h"
#include "partscreen/error.h"

namespace partscreen::detail {
namespace {

constexpr int kMaxNodeDepth = 256;

class ConfinedIOSystem : public Assimp::IOSystem {
public:
  ConfinedIOSystem(std::string dir, uint64_t max_bytes) : dir_(std::move(dir)), max_bytes_(max_bytes) {}

  bool Exists(const char* file) const override {
    std::string path;
    if (!resolve(file, path)) return false;
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
  }
  char getOsSeparator() const override { return '/'; }

  Assimp::IOStream* Open(const char* file, const char* mode) override {
    std::string path;
    if (!resolve(file, path) || (mode && std::strchr(mode, 'w'))) return nullptr;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return nullptr;
    if (uint64_t(st.st_size) > max_bytes_ - std::min(max_bytes_, used_)) return nullptr;
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return nullptr;
    size_t n = size_t(st.st_size);
    auto* buf = new uint8_t[n ? n : 1];
    size_t got = std::fread(buf, 1, n, f);
    std::fclose(f);
    if (got != n) {
      delete[] buf;
      return nullptr;
    }
    used_ += n;
    return new Assimp::MemoryIOStream(buf, n, true);
  }
  void Close(Assimp::IOStream* stream) override { delete stream; }

private:
  // Only a plain file name (optionally "./name") inside the folder of the file being read.
  bool resolve(const char* file, std::string& out) const {
    if (dir_.empty() || !file) return false;
    std::string f = file;
    while (f.compare(0, 2, "./") == 0 || f.compare(0, 2, ".\\") == 0) f.erase(0, 2);
    if (f.empty() || f.find('/') != std::string::npos || f.find('\\') != std::string::npos || f == "." ||
        f == "..")
      return false;
    out = dir_ + "/" + f;
    return true;
  }

  std::string dir_;
  uint64_t max_bytes_;
  uint64_t used_ = 0;
};

class DeadlineProgress : public Assimp::ProgressHandler {
public:
  explicit DeadlineProgress(double seconds)
      : deadline_(std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                         std::chrono::duration<double>(seconds))) {}
  bool Update(float) override { return std::chrono::steady_clock::now() < deadline_; }

private:
  std::chrono::steady_clock::time_point deadline_;
};

const char* hint_for(FileFormat f) {
  switch (f) {
    case FileFormat::obj: return "obj";
    case FileFormat::ply: return "ply";
    case FileFormat::off: return "off";
    case FileFormat::amf: return "amf";
    case FileFormat::gltf: return "gltf";
    case FileFormat::glb: return "glb";
    case FileFormat::dae: return "dae";
    default: return "";
  }
}

// AMF declares its unit on the root element (default millimetre); Assimp ignores it.
double amf_unit_scale(const std::string& name, const unsigned char* data, size_t size) {
  std::string head(reinterpret_cast<const char*>(data), std::min<size_t>(size, 4096));
  size_t root = head.find("<amf");
  if (root == std::string::npos) return 1.0;
  size_t end = head.find('>', root);
  size_t u = head.find("unit=", root);
  if (u == std::string::npos || (end != std::string::npos && u > end)) return 1.0;
  u += 5;
  if (u >= head.size()) return 1.0;
  char q = head[u];
  size_t close = head.find(q, u + 1);
  if (close == std::string::npos) return 1.0;
  std::string unit = head.substr(u + 1, close - u - 1);
  if (unit == "millimeter") return 1.0;
  if (unit == "inch") return 25.4;
  if (unit == "feet" || unit == "foot") return 304.8;
  if (unit == "meter") return 1000.0;
  if (unit == "micron") return 0.001;
  throw Error(ErrorCode::malformed, name, "AMF: unknown unit '" + unit + "'");
}

// Some Assimp readers reserve memory from counts declared in the header before reading any data
// (assimp-testmodels' invalid/OutOfMemory.off makes the OFF reader take 16 GB and 30 s). Counts
// are checked here against what the file's size can possibly hold, and against max_triangles.
void check_declared_counts(const std::string& name, const unsigned char* data, size_t size, FileFormat format,
                           const LoadOptions& options) {
  auto too_many = [&](const char* what, uint64_t n) {
    throw Error(ErrorCode::malformed, name,
                std::string(format_name(format)) + ": header declares " + std::to_string(n) + " " + what +
                    ", more than a file of " + std::to_string(size) + " bytes can hold");
  };
  auto over_cap = [&](uint64_t faces) {
    if (faces > options.max_triangles)
      throw Error(ErrorCode::limit_exceeded, name,
                  std::string(format_name(format)) + ": header declares " + std::to_string(faces) +
                      " faces, over the limit of " + std::to_string(options.max_triangles) + " triangles");
  };
  std::string head(reinterpret_cast<const char*>(data), std::min<size_t>(size, 8192));
  if (format == FileFormat::off) {
    // "[ST][C][N][4][n]OFF" then vertex, face and edge counts (possibly on the next line).
    size_t p = head.find("OFF");
    if (p == std::string::npos) return;
    unsigned long long nv = 0, nf = 0;
    if (std::sscanf(head.c_str() + p + 3, "%llu %llu", &nv, &nf) != 2) return;
    over_cap(nf);
    // At least "0 0 0\n" per vertex and "3 0 0 0\n" per face.
    if (nv > size / 6 || nf > size / 8 || 6 * nv + 8 * nf > size) too_many("vertices and faces", nv + nf);
  } else if (format == FileFormat::ply) {
    size_t end = head.find("end_header");
    if (end == std::string::npos) return;
    const bool ascii = head.find("format ascii") != std::string::npos;
    uint64_t min_bytes = 0;
    uint64_t count = 0, per = 0;
    auto flush = [&] { min_bytes += count * std::max<uint64_t>(per, 1); };
    size_t pos = 0;
    while (pos < end) {
      size_t nl = head.find('\n', pos);
      if (nl == std::string::npos) break;
      std::string line = head.substr(pos, nl - pos);
      pos = nl + 1;
      char kind[32] = {0}, elem[64] = {0};
      unsigned long long n = 0;
      if (std::sscanf(line.c_str(), "element %63s %llu", elem, &n) == 2) {
        flush();
        count = n;
        per = 0;
        if (std::strcmp(elem, "face") == 0) over_cap(n);
      } else if (std::sscanf(line.c_str(), "property %31s", kind) == 1) {
        if (ascii) {
          per += 2;  // a digit and a separator
        } else {
          std::string k = kind;
          if (k == "list") per += 1;  // at least the count
          else if (k == "char" || k == "uchar" || k == "int8" || k == "uint8") per += 1;
          else if (k == "short" || k == "ushort" || k == "int16" || k == "uint16") per += 2;
          else if (k == "double" || k == "float64") per += 8;
          else per += 4;
        }
      }
      if (count > size) too_many("elements", count);
    }
    flush();
    if (min_bytes > size) too_many("elements", min_bytes);
  }
}

struct Walker {
  const aiScene* scene;
  const std::string& name;
  const LoadOptions& options;
  float scale;
  Mesh out;
  uint64_t planned = 0;

  void walk(const aiNode* node, const aiMatrix4x4& parent, int depth) {
    if (depth > kMaxNodeDepth) throw Error(ErrorCode::malformed, name, "node hierarchy deeper than 256 levels");
    aiMatrix4x4 m = parent * node->mTransformation;
    for (unsigned i = 0; i < node->mNumMeshes; ++i) {
      unsigned mi = node->mMeshes[i];
      if (mi >= scene->mNumMeshes) throw Error(ErrorCode::malformed, name, "node references a missing mesh");
      emit(scene->mMeshes[mi], m);
    }
    for (unsigned c = 0; c < node->mNumChildren; ++c) walk(node->mChildren[c], m, depth + 1);
  }

  void emit(const aiMesh* mesh, const aiMatrix4x4& m) {
    if (!(mesh->mPrimitiveTypes & aiPrimitiveType_TRIANGLE)) return;  // points and lines only
    planned += mesh->mNumFaces;
    if (planned > options.max_triangles)
      throw Error(ErrorCode::limit_exceeded, name,
                  "more than " + std::to_string(options.max_triangles) + " triangles (after instancing)");
    if (out.vertex_count() + mesh->mNumVertices > 3 * options.max_triangles + 3)
      throw Error(ErrorCode::limit_exceeded, name, "too many vertices (after instancing)");
    const uint32_t base = uint32_t(out.vertex_count());
    // A mirroring node transform flips the winding: swap to keep outward orientation.
    const bool mirror = m.Determinant() < 0;
    out.positions.reserve(out.positions.size() + 3 * size_t(mesh->mNumVertices));
    for (unsigned v = 0; v < mesh->mNumVertices; ++v) {
      aiVector3D p = m * mesh->mVertices[v];
      out.positions.push_back(p.x * scale);
      out.positions.push_back(p.y * scale);
      out.positions.push_back(p.z * scale);
    }
    for (unsigned f = 0; f < mesh->mNumFaces; ++f) {
      const aiFace& face = mesh->mFaces[f];
      if (face.mNumIndices != 3) continue;
      for (int k = 0; k < 3; ++k)
        if (face.mIndices[k] >= mesh->mNumVertices)
          throw Error(ErrorCode::malformed, name, "face references vertex " + std::to_string(face.mIndices[k]) +
                                                      " of " + std::to_string(mesh->mNumVertices));
      out.indices.push_back(base + face.mIndices[0]);
      out.indices.push_back(base + (mirror ? face.mIndices[2] : face.mIndices[1]));
      out.indices.push_back(base + (mirror ? face.mIndices[1] : face.mIndices[2]));
    }
  }
};

}  // namespace

RawMesh read_with_assimp(const std::string& name, const unsigned char* data, size_t size, FileFormat format,
                         const LoadOptions& options, const std::string& sibling_dir) {
  if (size > options.max_file_bytes)
    throw Error(ErrorCode::limit_exceeded, name, "file over the byte limit");
  check_declared_counts(name, data, size, format, options);
  RawMesh raw;
  // glTF and COLLADA are metres by specification (Assimp applies COLLADA's <unit> to reach
  // metres); AMF says its unit; OBJ, PLY and OFF have none and are taken as millimetres.
  if (format == FileFormat::gltf || format == FileFormat::glb || format == FileFormat::dae)
    raw.unit_scale_to_mm = 1000.0;
  else if (format == FileFormat::amf)
    raw.unit_scale_to_mm = amf_unit_scale(name, data, size);

  Assimp::Importer importer;
  importer.SetIOHandler(new ConfinedIOSystem(sibling_dir, options.max_file_bytes));
  importer.SetProgressHandler(new DeadlineProgress(options.max_seconds));
  // Keep only triangles: points and lines are dropped by SortByPType.
  importer.SetPropertyInteger(AI_CONFIG_PP_SBP_REMOVE, aiPrimitiveType_POINT | aiPrimitiveType_LINE);
  const unsigned flags = aiProcess_Triangulate | aiProcess_SortByPType | aiProcess_ValidateDataStructure;
  const aiScene* scene = nullptr;
  try {
    scene = importer.ReadFileFromMemory(data, size, flags, hint_for(format));
  } catch (const std::bad_alloc&) {
    throw Error(ErrorCode::limit_exceeded, name,
                std::string(format_name(format)) + ": the file's declared sizes need more memory than available");
  } catch (const std::exception& e) {
    throw Error(ErrorCode::malformed, name, std::string(format_name(format)) + ": " + e.what());
  }
  if (!scene) {
    std::string why = importer.GetErrorString();
    if (why.empty()) why = "the importer rejected the file";
    // Vertices without faces (point clouds, or every face dropped as invalid): nothing to read.
    if (why.find("no faces") != std::string::npos || why.find("no meshes") != std::string::npos ||
        why.find("No meshes") != std::string::npos)
      throw Error(ErrorCode::empty, name, std::string(format_name(format)) + ": no triangles (" + why + ")");
    throw Error(ErrorCode::malformed, name, std::string(format_name(format)) + ": " + why);
  }
  if (!scene->mRootNode) throw Error(ErrorCode::malformed, name, std::string(format_name(format)) + ": no scene root");
  Walker w{scene, name, options, float(raw.unit_scale_to_mm), {}, 0};
  w.walk(scene->mRootNode, aiMatrix4x4(), 0);
  raw.mesh = std::move(w.out);
  return raw;
}

}  // namespace partscreen::detail
