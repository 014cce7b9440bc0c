// TEMPORARY development loader (binary/ASCII STL via Assimp); replaced by the io stage at merge.
#include <assimp/Importer.hpp>
#include <assimp/postprocess.h>
#include <assimp/scene.h>
#include <chrono>
#include "partscreen/error.h"
#include "partscreen/io.h"
namespace partscreen {
const char* format_name(FileFormat) { return "dev"; }
LoadedFile load_file(const std::string& path, const LoadOptions&) {
  auto t0 = std::chrono::steady_clock::now();
  Assimp::Importer imp;
  const aiScene* s = imp.ReadFile(path, aiProcess_Triangulate | aiProcess_PreTransformVertices);
  if (!s) throw Error(ErrorCode::malformed, path, imp.GetErrorString());
  LoadedFile f; f.path = path;
  for (unsigned m = 0; m < s->mNumMeshes; ++m) {
    const aiMesh* am = s->mMeshes[m];
    uint32_t base = uint32_t(f.mesh.positions.size() / 3);
    for (unsigned v = 0; v < am->mNumVertices; ++v) { f.mesh.positions.push_back(am->mVertices[v].x); f.mesh.positions.push_back(am->mVertices[v].y); f.mesh.positions.push_back(am->mVertices[v].z); }
    for (unsigned t = 0; t < am->mNumFaces; ++t) if (am->mFaces[t].mNumIndices == 3) for (int k = 0; k < 3; ++k) f.mesh.indices.push_back(base + am->mFaces[t].mIndices[k]);
  }
  f.clean = clean_mesh(f.mesh);
  f.components = split_components(f.mesh);
  if (f.mesh.indices.empty()) throw Error(ErrorCode::empty, path, "no triangles");
  f.load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return f;
}
}
