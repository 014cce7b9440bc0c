// SPDX-License-Identifier: GPL-3.0-or-later
// TEMPORARY stand-in for the io stage (load_file, load_bytes, detect_format, format_name) so the
// CLI can be built and tested before the real readers land. Reads through Assimp, then runs the
// shared clean_mesh/split_components. Built only with -DPARTSCREEN_LOAD_FALLBACK=ON; delete this
// file and its sources.cmake entry when the io stage is merged.
#include <assimp/Importer.hpp>
#include <assimp/postprocess.h>
#include <assimp/scene.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>

#include "partscreen/error.h"
#include "partscreen/io.h"

namespace partscreen {
namespace {

std::string extension(const std::string& path) {
  const auto dot = path.find_last_of('.');
  const auto slash = path.find_last_of("/\\");
  if (dot == std::string::npos || (slash != std::string::npos && slash > dot)) return "";
  std::string ext = path.substr(dot + 1);
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

bool starts(const unsigned char* h, size_t n, const char* s) {
  size_t k = std::strlen(s);
  return n >= k && std::memcmp(h, s, k) == 0;
}

LoadedFile from_bytes(const std::string& name, const unsigned char* data, size_t size, const LoadOptions& options,
                      std::chrono::steady_clock::time_point t0) {
  LoadedFile out;
  out.path = name;
  out.file_bytes = size;
  if (size == 0) throw Error(ErrorCode::empty, name, "the file is empty (0 bytes)");
  if (size > options.max_file_bytes)
    throw Error(ErrorCode::limit_exceeded, name,
                "file is " + std::to_string(size) + " bytes, over the limit of " +
                    std::to_string(options.max_file_bytes));
  out.format = detect_format(name, data, size, size);
  switch (out.format) {
    case FileFormat::unknown:
      throw Error(ErrorCode::unsupported_format, name, "not a recognised mesh, CAD or G-code file");
    case FileFormat::step: case FileFormat::iges: case FileFormat::gcode: case FileFormat::bgcode:
      throw Error(ErrorCode::unsupported_format, name,
                  std::string(format_name(out.format)) + " is not supported by this build");
    default: break;
  }
  Assimp::Importer importer;
  std::string hint = extension(name);
  const aiScene* scene = importer.ReadFileFromMemory(
      data, size, aiProcess_Triangulate | aiProcess_PreTransformVertices, hint.c_str());
  if (!scene) throw Error(ErrorCode::malformed, name, importer.GetErrorString());
  uint64_t triangles = 0;
  for (unsigned m = 0; m < scene->mNumMeshes; ++m) triangles += scene->mMeshes[m]->mNumFaces;
  if (triangles > options.max_triangles)
    throw Error(ErrorCode::limit_exceeded, name,
                std::to_string(triangles) + " triangles, over the limit of " + std::to_string(options.max_triangles));
  for (unsigned m = 0; m < scene->mNumMeshes; ++m) {
    const aiMesh* mesh = scene->mMeshes[m];
    const uint32_t base = uint32_t(out.mesh.vertex_count());
    for (unsigned v = 0; v < mesh->mNumVertices; ++v) {
      for (float c : {mesh->mVertices[v].x, mesh->mVertices[v].y, mesh->mVertices[v].z}) {
        if (!std::isfinite(c) || std::fabs(c) > options.max_coordinate_mm)
          throw Error(ErrorCode::invalid_coordinates, name, "a coordinate is NaN, infinite or beyond the cap");
        out.mesh.positions.push_back(c);
      }
    }
    for (unsigned f = 0; f < mesh->mNumFaces; ++f) {
      const aiFace& face = mesh->mFaces[f];
      if (face.mNumIndices != 3) continue;  // points and lines carry no surface
      for (int k = 0; k < 3; ++k) out.mesh.indices.push_back(base + face.mIndices[k]);
    }
  }
  out.clean = clean_mesh(out.mesh);
  if (out.mesh.triangle_count() == 0) throw Error(ErrorCode::empty, name, "no triangles after cleaning");
  out.components = split_components(out.mesh);
  if (out.components.size() > options.max_components)
    throw Error(ErrorCode::limit_exceeded, name,
                std::to_string(out.components.size()) + " components, over the limit of " +
                    std::to_string(options.max_components));
  out.load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace

const char* format_name(FileFormat format) {
  switch (format) {
    case FileFormat::unknown: return "unknown";
    case FileFormat::stl_binary: return "stl_binary";
    case FileFormat::stl_ascii: return "stl_ascii";
    case FileFormat::obj: return "obj";
    case FileFormat::ply: return "ply";
    case FileFormat::off: return "off";
    case FileFormat::threemf: return "3mf";
    case FileFormat::amf: return "amf";
    case FileFormat::gltf: return "gltf";
    case FileFormat::glb: return "glb";
    case FileFormat::dae: return "dae";
    case FileFormat::step: return "step";
    case FileFormat::iges: return "iges";
    case FileFormat::gcode: return "gcode";
    case FileFormat::bgcode: return "bgcode";
  }
  return "unknown";
}

FileFormat detect_format(const std::string& path, const unsigned char* head, size_t n, uint64_t file_bytes) {
  if (n >= 84) {
    uint32_t count;
    std::memcpy(&count, head + 80, 4);
    if (84 + 50ull * count == file_bytes) return FileFormat::stl_binary;
  }
  const std::string ext = extension(path);
  if (starts(head, n, "solid")) return FileFormat::stl_ascii;
  if (starts(head, n, "ply")) return FileFormat::ply;
  if (starts(head, n, "OFF") || starts(head, n, "COFF") || starts(head, n, "NOFF")) return FileFormat::off;
  if (starts(head, n, "glTF")) return FileFormat::glb;
  if (starts(head, n, "GCDE")) return FileFormat::bgcode;
  if (starts(head, n, "ISO-10303-21")) return FileFormat::step;
  if (starts(head, n, "PK\x03\x04")) return ext == "amf" ? FileFormat::amf : FileFormat::threemf;
  if (ext == "obj") return FileFormat::obj;
  if (ext == "gltf") return FileFormat::gltf;
  if (ext == "amf") return FileFormat::amf;
  if (ext == "dae") return FileFormat::dae;
  if (ext == "gcode") return FileFormat::gcode;
  if (ext == "igs" || ext == "iges") return FileFormat::iges;
  return FileFormat::unknown;
}

LoadedFile load_bytes(const std::string& name, const void* data, size_t size, const LoadOptions& options) {
  return from_bytes(name, static_cast<const unsigned char*>(data), size, options, std::chrono::steady_clock::now());
}

LoadedFile load_file(const std::string& path, const LoadOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw Error(ErrorCode::io, path, std::string("cannot open: ") + std::strerror(errno));
  const std::streamoff size = in.tellg();
  if (size < 0) throw Error(ErrorCode::io, path, "cannot read (is it a folder?)");
  if (uint64_t(size) > options.max_file_bytes)
    throw Error(ErrorCode::limit_exceeded, path,
                "file is " + std::to_string(size) + " bytes, over the limit of " +
                    std::to_string(options.max_file_bytes));
  std::vector<unsigned char> bytes(static_cast<size_t>(size));
  in.seekg(0);
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size))
    throw Error(ErrorCode::io, path, "read failed");
  return from_bytes(path, bytes.data(), bytes.size(), options, t0);
}

}  // namespace partscreen
