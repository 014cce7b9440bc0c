// SPDX-License-Identifier: GPL-3.0-or-later
// OBJ, PLY, OFF, AMF, glTF/GLB and COLLADA through Assimp, imported from memory.
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
    throw Error(ErrorCode::malformed, name, std::string(format_name(format)) + ": " + why);
  }
  if (!scene->mRootNode) throw Error(ErrorCode::malformed, name, std::string(format_name(format)) + ": no scene root");
  Walker w{scene, name, options, float(raw.unit_scale_to_mm), {}, 0};
  w.walk(scene->mRootNode, aiMatrix4x4(), 0);
  raw.mesh = std::move(w.out);
  return raw;
}

}  // namespace partscreen::detail
