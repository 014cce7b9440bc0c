// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Test helpers: benign shapes generated in code, written as STL bytes.
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "partscreen/mesh.h"

namespace partscreen::test {

using Tri = std::array<float, 9>;

// Axis-aligned cube of side s at origin o, 12 triangles, counter-clockwise seen from outside.
inline std::vector<Tri> cube(float s, float ox = 0, float oy = 0, float oz = 0) {
  static const int quads[6][4] = {{0, 2, 3, 1}, {4, 5, 7, 6}, {0, 1, 5, 4}, {2, 6, 7, 3}, {0, 4, 6, 2}, {1, 3, 7, 5}};
  auto corner = [&](int c, float* p) {
    p[0] = ox + s * float(c & 1);
    p[1] = oy + s * float((c >> 1) & 1);
    p[2] = oz + s * float((c >> 2) & 1);
  };
  std::vector<Tri> out;
  for (auto& q : quads) {
    Tri a, b;
    corner(q[0], &a[0]); corner(q[1], &a[3]); corner(q[2], &a[6]);
    corner(q[0], &b[0]); corner(q[2], &b[3]); corner(q[3], &b[6]);
    out.push_back(a);
    out.push_back(b);
  }
  return out;
}

// Closed torus (major radius R, minor r), nu * nv * 2 triangles.
inline std::vector<Tri> torus(int nu, int nv, float R, float r, float ox = 0) {
  auto P = [&](int i, int j, float* p) {
    double u = 2 * M_PI * (i % nu) / nu, v = 2 * M_PI * (j % nv) / nv;
    p[0] = ox + float((R + r * std::cos(v)) * std::cos(u));
    p[1] = float((R + r * std::cos(v)) * std::sin(u));
    p[2] = float(r * std::sin(v));
  };
  std::vector<Tri> out;
  for (int i = 0; i < nu; ++i)
    for (int j = 0; j < nv; ++j) {
      Tri a, b;
      P(i, j, &a[0]); P(i + 1, j, &a[3]); P(i + 1, j + 1, &a[6]);
      P(i, j, &b[0]); P(i + 1, j + 1, &b[3]); P(i, j + 1, &b[6]);
      out.push_back(a);
      out.push_back(b);
    }
  return out;
}

inline std::vector<Tri> concat(std::vector<Tri> a, const std::vector<Tri>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

inline std::string binary_stl(const std::vector<Tri>& tris, const std::string& header = "partscreen test mesh") {
  std::string out(80, '\0');
  std::memcpy(&out[0], header.data(), std::min<size_t>(80, header.size()));
  uint32_t n = uint32_t(tris.size());
  out.append(reinterpret_cast<const char*>(&n), 4);
  for (const Tri& t : tris) {
    float rec[12] = {0, 0, 0};
    std::memcpy(rec + 3, t.data(), 36);
    out.append(reinterpret_cast<const char*>(rec), 48);
    out.append(2, '\0');
  }
  return out;
}

inline std::string ascii_stl(const std::vector<Tri>& tris, const std::string& name = "part") {
  std::string out = "solid " + name + "\n";
  char buf[128];
  for (const Tri& t : tris) {
    out += "  facet normal 0 0 0\n    outer loop\n";
    for (int k = 0; k < 3; ++k) {
      std::snprintf(buf, sizeof buf, "      vertex %.9g %.9g %.9g\n", t[3 * k], t[3 * k + 1], t[3 * k + 2]);
      out += buf;
    }
    out += "    endloop\n  endfacet\n";
  }
  return out + "endsolid " + name + "\n";
}

// Unwelded soup: 3 vertices per triangle (what clean_mesh() starts from).
inline Mesh soup(const std::vector<Tri>& tris) {
  Mesh m;
  for (const Tri& t : tris) {
    for (int k = 0; k < 9; ++k) m.positions.push_back(t[k]);
    for (int k = 0; k < 3; ++k) m.indices.push_back(uint32_t(m.indices.size()));
  }
  return m;
}

inline std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

inline void write_all(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), std::streamsize(bytes.size()));
}

inline const unsigned char* u8(const std::string& s) { return reinterpret_cast<const unsigned char*>(s.data()); }

}  // namespace partscreen::test
