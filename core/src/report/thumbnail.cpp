// SPDX-License-Identifier: GPL-3.0-or-later
// A small shaded picture of a mesh, for reports a person reads (false positives next to the
// reference they collided with). A z-buffer raster in the mesh's principal-axes frame, so two
// similar parts come out in similar poses whatever their placement in their files.
#include <zlib.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "partscreen/report.h"

namespace partscreen {
namespace {

void put_u32(std::string& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(char((v >> s) & 0xff));
}

void put_chunk(std::string& out, const char type[4], const std::string& data) {
  put_u32(out, uint32_t(data.size()));
  const std::string body = std::string(type, 4) + data;
  out += body;
  put_u32(out, uint32_t(crc32(0L, reinterpret_cast<const Bytef*>(body.data()), uInt(body.size()))));
}

// An 8-bit greyscale PNG of `pixels` (row-major, width x height).
std::string grey_png(const std::vector<uint8_t>& pixels, int width, int height) {
  std::string raw;
  raw.reserve(size_t(height) * size_t(width + 1));
  for (int y = 0; y < height; ++y) {
    raw.push_back('\0');  // filter: none
    raw.append(reinterpret_cast<const char*>(&pixels[size_t(y) * size_t(width)]), size_t(width));
  }
  uLongf packed_size = compressBound(uLong(raw.size()));
  std::string packed(packed_size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(packed.data()), &packed_size, reinterpret_cast<const Bytef*>(raw.data()), uLong(raw.size()), 9) != Z_OK)
    return {};
  packed.resize(packed_size);
  std::string png("\x89PNG\r\n\x1a\n", 8), header;
  put_u32(header, uint32_t(width));
  put_u32(header, uint32_t(height));
  header += std::string("\x08\x00\x00\x00\x00", 5);  // 8 bits, greyscale, deflate, no filter set, no interlace
  put_chunk(png, "IHDR", header);
  put_chunk(png, "IDAT", packed);
  put_chunk(png, "IEND", "");
  return png;
}

}  // namespace

std::string mesh_thumbnail_png(const Mesh& mesh, int size) {
  size = std::clamp(size, 16, 1024);
  const size_t nv = mesh.vertex_count();
  if (nv == 0 || mesh.indices.size() < 3) return {};
  // Principal axes, each signed so that the vertices' third moment along it is positive (a
  // placement-independent choice), the third completing a right-handed frame: a mirror image
  // is drawn mirrored.
  Eigen::Vector3d mean = Eigen::Vector3d::Zero();
  for (size_t i = 0; i < nv; ++i) mean += Eigen::Vector3d(mesh.positions[3 * i], mesh.positions[3 * i + 1], mesh.positions[3 * i + 2]);
  mean /= double(nv);
  Eigen::Matrix3d cov = Eigen::Matrix3d::Zero();
  for (size_t i = 0; i < nv; ++i) {
    const Eigen::Vector3d d = Eigen::Vector3d(mesh.positions[3 * i], mesh.positions[3 * i + 1], mesh.positions[3 * i + 2]) - mean;
    cov += d * d.transpose();
  }
  Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> eig(cov);
  Eigen::Matrix3d axes;  // rows: largest spread first
  for (int k = 0; k < 2; ++k) {
    Eigen::Vector3d e = eig.eigenvectors().col(2 - k);
    double skew = 0.0;
    for (size_t i = 0; i < nv; ++i)
      skew += std::pow(e.dot(Eigen::Vector3d(mesh.positions[3 * i], mesh.positions[3 * i + 1], mesh.positions[3 * i + 2]) - mean), 3);
    axes.row(k) = (skew < 0.0 ? -e : e).transpose();
  }
  axes.row(2) = axes.row(0).cross(axes.row(1));
  // Seen from above and to the side, as a part lies on a bed: its longest extent across the picture.
  const Eigen::Matrix3d view = (Eigen::AngleAxisd(-0.95, Eigen::Vector3d::UnitX()) * Eigen::AngleAxisd(0.45, Eigen::Vector3d::UnitZ())).toRotationMatrix() * axes;
  std::vector<Eigen::Vector3f> p(nv);  // (floats: a picture needs no more, and a 20M-triangle mesh's copy stays small)
  Eigen::Vector3d lo = Eigen::Vector3d::Constant(std::numeric_limits<double>::max()), hi = -lo;
  for (size_t i = 0; i < nv; ++i) {
    const Eigen::Vector3d q = view * (Eigen::Vector3d(mesh.positions[3 * i], mesh.positions[3 * i + 1], mesh.positions[3 * i + 2]) - mean);
    p[i] = q.cast<float>();
    lo = lo.cwiseMin(q);
    hi = hi.cwiseMax(q);
  }
  const double span = std::max(hi.x() - lo.x(), hi.y() - lo.y());
  if (!(span > 0.0) || !std::isfinite(span)) return {};
  const double margin = 0.04 * size, scale = (size - 2 * margin) / span;
  const double ox = margin + 0.5 * ((size - 2 * margin) - scale * (hi.x() - lo.x())), oy = margin + 0.5 * ((size - 2 * margin) - scale * (hi.y() - lo.y()));
  for (Eigen::Vector3f& q : p) q = Eigen::Vector3f(float(ox + scale * (q.x() - lo.x())), float(size - (oy + scale * (q.y() - lo.y()))), q.z());
  std::vector<uint8_t> image(size_t(size) * size_t(size), 255);
  std::vector<float> depth(image.size(), -std::numeric_limits<float>::max());
  const Eigen::Vector3d light = Eigen::Vector3d(0.3, -0.45, 1.0).normalized();
  // A bound on the pixels tested (about 0.2 s): a hostile mesh of huge overlapping triangles
  // gets a partial picture, not a hang.
  int64_t budget = 50'000'000;
  for (size_t t = 0; t + 2 < mesh.indices.size() && budget > 0; t += 3) {
    const uint32_t ia = mesh.indices[t], ib = mesh.indices[t + 1], ic = mesh.indices[t + 2];
    if (ia >= nv || ib >= nv || ic >= nv) continue;
    const Eigen::Vector3d a = p[ia].cast<double>(), b = p[ib].cast<double>(), c = p[ic].cast<double>();
    if (!a.allFinite() || !b.allFinite() || !c.allFinite()) continue;
    const double area = (b.x() - a.x()) * (c.y() - a.y()) - (c.x() - a.x()) * (b.y() - a.y());
    if (std::fabs(area) < 1e-12) continue;
    // Both sides lit alike: open meshes and inside-out files still read as solid.
    Eigen::Vector3d n = (b - a).cross(c - a);
    n.y() = -n.y();  // (picture rows run down)
    const double lit = 0.22 + 0.78 * std::fabs(n.normalized().dot(light));
    const uint8_t shade = uint8_t(std::clamp(25.0 + 205.0 * lit, 0.0, 235.0));
    const int x0 = std::max(0, int(std::floor(std::min({a.x(), b.x(), c.x()})))), x1 = std::min(size - 1, int(std::ceil(std::max({a.x(), b.x(), c.x()}))));
    const int y0 = std::max(0, int(std::floor(std::min({a.y(), b.y(), c.y()})))), y1 = std::min(size - 1, int(std::ceil(std::max({a.y(), b.y(), c.y()}))));
    budget -= int64_t(std::max(0, x1 - x0 + 1)) * int64_t(std::max(0, y1 - y0 + 1));
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) {
        const double px = x + 0.5, py = y + 0.5;
        const double w0 = ((b.x() - px) * (c.y() - py) - (c.x() - px) * (b.y() - py)) / area;
        const double w1 = ((c.x() - px) * (a.y() - py) - (a.x() - px) * (c.y() - py)) / area;
        const double w2 = 1.0 - w0 - w1;
        if (w0 < 0.0 || w1 < 0.0 || w2 < 0.0) continue;
        const float z = float(w0 * a.z() + w1 * b.z() + w2 * c.z());
        const size_t at = size_t(y) * size_t(size) + size_t(x);
        if (z <= depth[at]) continue;
        depth[at] = z;
        image[at] = shade;
      }
  }
  return grey_png(image, size, size);
}

}  // namespace partscreen
