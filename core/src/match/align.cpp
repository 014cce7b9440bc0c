// SPDX-License-Identifier: GPL-3.0-or-later
// Umeyama, "Least-squares estimation of transformation parameters between two point patterns",
// IEEE PAMI 13(4), 1991; the sign matrix S chooses a proper rotation or a reflection.
#include "match/align.h"

#include <Eigen/SVD>

namespace partscreen::detail {

bool fit_similarity(const std::vector<Eigen::Vector3f>& src, const std::vector<Eigen::Vector3f>& dst,
                    const std::vector<float>& weights, Handedness hand, Similarity& out, float fixed_scale) {
  const size_t n = src.size();
  if (n < 3 || dst.size() != n) return false;
  double wsum = 0.0;
  Eigen::Vector3d ms = Eigen::Vector3d::Zero(), md = Eigen::Vector3d::Zero();
  for (size_t i = 0; i < n; ++i) {
    double w = weights.empty() ? 1.0 : weights[i];
    wsum += w;
    ms += w * src[i].cast<double>();
    md += w * dst[i].cast<double>();
  }
  if (!(wsum > 0)) return false;
  ms /= wsum;
  md /= wsum;
  Eigen::Matrix3d cov = Eigen::Matrix3d::Zero();
  double var_s = 0.0;
  for (size_t i = 0; i < n; ++i) {
    double w = weights.empty() ? 1.0 : weights[i];
    Eigen::Vector3d a = src[i].cast<double>() - ms, b = dst[i].cast<double>() - md;
    cov += w * b * a.transpose();
    var_s += w * a.squaredNorm();
  }
  cov /= wsum;
  var_s /= wsum;
  if (!(var_s > 1e-18)) return false;
  Eigen::JacobiSVD<Eigen::Matrix3d> svd(cov, Eigen::ComputeFullU | Eigen::ComputeFullV);
  const Eigen::Vector3d sv = svd.singularValues();
  if (!(sv(1) > 1e-12 * (sv(0) + 1e-30))) return false;  // collinear
  const double d = (svd.matrixU() * svd.matrixV().transpose()).determinant() > 0 ? 1.0 : -1.0;
  auto solve = [&](double sign, Similarity& s, double& residual) {
    Eigen::Vector3d S(1.0, 1.0, sign);
    Eigen::Matrix3d R = svd.matrixU() * S.asDiagonal() * svd.matrixV().transpose();
    double c = fixed_scale > 0.f ? double(fixed_scale) : (sv.array() * S.array()).sum() / var_s;
    if (!(c > 0)) return false;
    Eigen::Vector3d t = md - c * R * ms;
    s.rotation = R.cast<float>();
    s.scale = float(c);
    s.translation = t.cast<float>();
    residual = 0.0;
    for (size_t i = 0; i < n; ++i) {
      double w = weights.empty() ? 1.0 : weights[i];
      residual += w * (c * R * src[i].cast<double>() + t - dst[i].cast<double>()).squaredNorm();
    }
    return true;
  };
  // The sign that gives a proper rotation is d (det(U V^T)); -d gives a reflection.
  Similarity proper, mirror;
  double rp = 1e300, rm = 1e300;
  bool okp = hand != Handedness::mirrored && solve(d, proper, rp);
  bool okm = hand != Handedness::proper && solve(-d, mirror, rm);
  if (!okp && !okm) return false;
  out = (okp && (!okm || rp <= rm)) ? proper : mirror;
  return true;
}

}  // namespace partscreen::detail
