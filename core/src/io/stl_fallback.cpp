// SPDX-License-Identifier: GPL-3.0-or-later
// TEMPORARY stand-in for the STL reader (io/stl.h) until the real one is merged: binary parsed
// here, ASCII through Assimp, whole file in memory. Enabled by PARTSCREEN_STL_FALLBACK.
#include <assimp/Importer.hpp>
#include <assimp/postprocess.h>
#include <assimp/scene.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "io/stl.h"
#include "partscreen/error.h"

namespace partscreen::detail {

bool is_binary_stl(const unsigned char* head, size_t head_bytes, uint64_t file_bytes) {
  if (head_bytes < 84 || file_bytes < 84) return false;
  uint32_t count;
  std::memcpy(&count, head + 80, 4);
  return 84 + 50 * uint64_t(count) == file_bytes;
}

Mesh read_stl_bytes(const std::string& name, const unsigned char* data, size_t size, const LoadOptions& options,
                    CleanStats* stats) {
  Mesh mesh;
  if (is_binary_stl(data, size, size)) {
    uint32_t count;
    std::memcpy(&count, data + 80, 4);
    if (count > options.max_triangles) throw Error(ErrorCode::limit_exceeded, name, "too many triangles");
    mesh.positions.resize(size_t(count) * 9);
    for (uint32_t t = 0; t < count; ++t) std::memcpy(&mesh.positions[9 * size_t(t)], data + 84 + 50 * size_t(t) + 12, 36);
  } else {
    Assimp::Importer importer;
    const aiScene* scene = importer.ReadFileFromMemory(data, size, aiProcess_Triangulate, "stl");
    if (!scene) throw Error(ErrorCode::malformed, name, std::string("STL: ") + importer.GetErrorString());
    for (unsigned m = 0; m < scene->mNumMeshes; ++m) {
      const aiMesh* am = scene->mMeshes[m];
      for (unsigned f = 0; f < am->mNumFaces; ++f) {
        if (am->mFaces[f].mNumIndices != 3) continue;
        for (int k = 0; k < 3; ++k) {
          unsigned i = am->mFaces[f].mIndices[k];
          if (i >= am->mNumVertices) throw Error(ErrorCode::malformed, name, "STL: bad index");
          mesh.positions.insert(mesh.positions.end(), {am->mVertices[i].x, am->mVertices[i].y, am->mVertices[i].z});
        }
      }
    }
  }
  mesh.indices.resize(mesh.vertex_count());
  for (size_t i = 0; i < mesh.indices.size(); ++i) mesh.indices[i] = uint32_t(i);
  CleanStats s = clean_mesh(mesh);
  if (stats) *stats = s;
  return mesh;
}

Mesh read_stl_file(const std::string& path, const LoadOptions& options, CleanStats* stats) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw Error(ErrorCode::io, path, "cannot open");
  std::vector<unsigned char> bytes;
  unsigned char buf[1 << 16];
  size_t r;
  while ((r = std::fread(buf, 1, sizeof buf, f)) > 0) {
    bytes.insert(bytes.end(), buf, buf + r);
    if (bytes.size() > options.max_file_bytes) {
      std::fclose(f);
      throw Error(ErrorCode::limit_exceeded, path, "file over the byte limit");
    }
  }
  std::fclose(f);
  return read_stl_bytes(path, bytes.data(), bytes.size(), options, stats);
}

}  // namespace partscreen::detail
