// SPDX-License-Identifier: GPL-3.0-or-later
// The evaluation's summary tables and its two documents: report.json for programs, report.html
// for people (self-contained: inline SVG drawn here and PNG pictures of parts, no script, no
// network, so it can be archived with a certification file and opened anywhere).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>
#include <sodium.h>

#include "eval/eval_json.h"
#include "partscreen/error.h"
#include "partscreen/eval.h"
#include "partscreen/io.h"
#include "partscreen/report.h"

namespace fs = std::filesystem;

namespace partscreen {
namespace {

// Nearest-rank percentile of a copy.
double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(p * double(v.size() - 1) + 0.5))];
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}
std::string percent(double v) { return fmt("%.1f%%", 100.0 * v); }

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

void write_atomic(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(ErrorCode::io, tmp, "cannot write");
    out << text;
    out.flush();
    if (!out) throw Error(ErrorCode::io, tmp, "write failed");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw Error(ErrorCode::io, path, "cannot rename into place: " + ec.message());
}

std::vector<double> group_scores(const EvalReport& r, const std::string& group) {
  std::vector<double> out;
  for (const EvalCase& c : r.cases)
    if (c.group == group && c.verdict != "skipped") out.push_back(c.score);
  return out;
}

// ---- SVG ----

constexpr int kW = 560, kH = 320, kL = 56, kR = 16, kT = 36, kB = 44;
double sx(double x) { return kL + x * (kW - kL - kR); }
double sy(double y) { return kH - kB - y * (kH - kT - kB); }

std::string axes(const std::string& xlabel, const std::string& ylabel, bool y_percent) {
  std::ostringstream s;
  s << "<rect x='" << kL << "' y='" << kT << "' width='" << (kW - kL - kR) << "' height='" << (kH - kT - kB)
    << "' fill='#fafafa' stroke='#999'/>";
  for (int i = 0; i <= 5; ++i) {
    const double v = i / 5.0;
    s << "<line x1='" << sx(v) << "' y1='" << sy(0) << "' x2='" << sx(v) << "' y2='" << sy(1) << "' stroke='#e4e4e4'/>";
    s << "<line x1='" << sx(0) << "' y1='" << sy(v) << "' x2='" << sx(1) << "' y2='" << sy(v) << "' stroke='#e4e4e4'/>";
    s << "<text x='" << sx(v) << "' y='" << (sy(0) + 16) << "' text-anchor='middle'>" << fmt("%.1f", v) << "</text>";
    s << "<text x='" << (kL - 6) << "' y='" << (sy(v) + 4) << "' text-anchor='end'>"
      << (y_percent ? fmt("%.0f%%", 100 * v) : fmt("%.1f", v)) << "</text>";
  }
  s << "<text x='" << sx(0.5) << "' y='" << (kH - 8) << "' text-anchor='middle'>" << esc(xlabel) << "</text>";
  s << "<text x='14' y='" << sy(0.5) << "' text-anchor='middle' transform='rotate(-90 14 " << sy(0.5) << ")'>" << esc(ylabel)
    << "</text>";
  return s.str();
}

std::string vline(double x, const std::string& colour, const std::string& label) {
  std::ostringstream s;
  s << "<line x1='" << sx(x) << "' y1='" << sy(0) << "' x2='" << sx(x) << "' y2='" << sy(1) << "' stroke='" << colour
    << "' stroke-dasharray='5,3'/><text x='" << (sx(x) + 3) << "' y='" << (sy(1) + 12) << "' fill='" << colour << "'>" << esc(label)
    << "</text>";
  return s.str();
}

std::string svg_open(const std::string& title) {
  return "<svg xmlns='http://www.w3.org/2000/svg' width='" + std::to_string(kW) + "' height='" + std::to_string(kH) +
         "' viewBox='0 0 " + std::to_string(kW) + " " + std::to_string(kH) + "' role='img' aria-label='" + esc(title) +
         "' font-family='sans-serif' font-size='11'>";
}

// In the top margin, left to right, so it never hides data.
std::string legend(const std::vector<std::pair<std::string, std::string>>& items) {
  std::ostringstream s;
  double x = kL;
  for (const auto& [label, colour] : items) {
    s << "<rect x='" << x << "' y='8' width='12' height='10' fill='" << colour << "'/>";
    s << "<text x='" << (x + 16) << "' y='17'>" << esc(label) << "</text>";
    x += 28 + 6.2 * double(label.size());
  }
  return s.str();
}

// Share of each group's cases per score bin (bins of 0.05): the two groups' shapes compare
// whatever their sizes.
std::string histogram_svg(const std::vector<double>& refs, const std::vector<double>& dist, double flag, double review) {
  constexpr int kBins = 20;
  auto bins = [&](const std::vector<double>& v) {
    std::vector<double> b(kBins, 0.0);
    for (double x : v) b[std::min(kBins - 1, std::max(0, int(x * kBins)))] += 1.0;
    for (double& x : b) x /= std::max<size_t>(1, v.size());
    return b;
  };
  const auto br = bins(refs), bd = bins(dist);
  std::ostringstream s;
  s << svg_open("score distributions") << axes("best match score", "share of cases", true);
  const double w = (sx(1) - sx(0)) / kBins;
  for (int i = 0; i < kBins; ++i) {
    s << "<rect x='" << (sx(double(i) / kBins) + 1) << "' y='" << sy(bd[i]) << "' width='" << (w / 2 - 1) << "' height='"
      << (sy(0) - sy(bd[i])) << "' fill='#d9822b'><title>distractors " << fmt("%.2f", double(i) / kBins) << "-"
      << fmt("%.2f", double(i + 1) / kBins) << ": " << percent(bd[i]) << "</title></rect>";
    s << "<rect x='" << (sx(double(i) / kBins) + w / 2) << "' y='" << sy(br[i]) << "' width='" << (w / 2 - 1) << "' height='"
      << (sy(0) - sy(br[i])) << "' fill='#2b6cb0'><title>references' cases " << fmt("%.2f", double(i) / kBins) << "-"
      << fmt("%.2f", double(i + 1) / kBins) << ": " << percent(br[i]) << "</title></rect>";
  }
  s << vline(review, "#b7791f", "review") << vline(flag, "#c53030", "flag");
  s << legend({{"references' cases (" + std::to_string(refs.size()) + ")", "#2b6cb0"},
               {"distractors (" + std::to_string(dist.size()) + ")", "#d9822b"}});
  s << "</svg>";
  return s.str();
}

// Detection and false-positive rate against the score threshold, and the ROC they make.
struct Curve {
  std::vector<double> t, tpr, fpr;
};
Curve curve(const std::vector<double>& refs, const std::vector<double>& dist) {
  Curve c;
  for (int i = 0; i <= 200; ++i) {
    const double t = i / 200.0;
    auto rate = [&](const std::vector<double>& v) {
      size_t n = 0;
      for (double x : v) n += x >= t && x > 0.0;
      return v.empty() ? 0.0 : double(n) / double(v.size());
    };
    c.t.push_back(t);
    c.tpr.push_back(rate(refs));
    c.fpr.push_back(rate(dist));
  }
  return c;
}

std::string polyline(const std::vector<double>& x, const std::vector<double>& y, const std::string& colour) {
  std::ostringstream s;
  s << "<polyline fill='none' stroke='" << colour << "' stroke-width='2' points='";
  for (size_t i = 0; i < x.size(); ++i) s << fmt("%.1f", sx(x[i])) << "," << fmt("%.1f", sy(y[i])) << " ";
  s << "'/>";
  return s.str();
}

std::string threshold_svg(const Curve& c, double flag, double review) {
  std::ostringstream s;
  s << svg_open("rates against the score threshold") << axes("score threshold", "share at or above it", true);
  s << polyline(c.t, c.tpr, "#2b6cb0") << polyline(c.t, c.fpr, "#d9822b");
  s << vline(review, "#b7791f", "review") << vline(flag, "#c53030", "flag");
  s << legend({{"detection (references' cases)", "#2b6cb0"}, {"false positives (distractors)", "#d9822b"}});
  s << "</svg>";
  return s.str();
}

std::string roc_svg(const Curve& c, double flag, double review, size_t n_dist) {
  std::ostringstream s;
  s << svg_open("ROC curve") << axes("false-positive rate (distractors)", "detection rate", true);
  std::vector<double> x = c.fpr, y = c.tpr;
  x.insert(x.begin(), 1.0);
  y.insert(y.begin(), 1.0);
  s << "<line x1='" << sx(0) << "' y1='" << sy(0) << "' x2='" << sx(1) << "' y2='" << sy(1) << "' stroke='#ccc'/>";
  s << polyline(x, y, "#2b6cb0");
  for (auto [t, colour, label] : {std::tuple<double, const char*, const char*>{flag, "#c53030", "flag"}, {review, "#b7791f", "review"}}) {
    const size_t i = std::min(c.t.size() - 1, size_t(std::lround(t * 200.0)));
    s << "<circle cx='" << sx(c.fpr[i]) << "' cy='" << sy(c.tpr[i]) << "' r='5' fill='" << colour << "'><title>" << label << " threshold "
      << fmt("%.2f", t) << ": detection " << percent(c.tpr[i]) << ", false positives " << percent(c.fpr[i]) << "</title></circle>";
    s << "<text x='" << (sx(c.fpr[i]) + 10) << "' y='" << (sy(c.tpr[i]) + (label[0] == 'f' ? 30 : 16)) << "' fill='" << colour << "'>"
      << label << " (" << fmt("%.2f", t) << ")</text>";
  }
  s << "<text x='" << sx(0.35) << "' y='" << sy(0.12) << "'>" << n_dist << " distractors: the smallest non-zero rate is "
    << percent(n_dist ? 1.0 / double(n_dist) : 0.0) << "</text>";
  s << "</svg>";
  return s.str();
}

std::string bar(double v, const std::string& colour) {
  return "<span class='bar'><span style='width:" + fmt("%.1f", 100.0 * std::clamp(v, 0.0, 1.0)) + "%;background:" + colour +
         "'></span></span>";
}

}  // namespace

EvalSummary summarize_eval(const EvalReport& r) {
  EvalSummary s;
  std::map<std::string, EvalKindRow> kinds;
  std::map<std::string, EvalReferenceRow> refs;
  std::vector<std::string> ref_order;
  std::map<std::string, std::vector<double>> kind_scores;
  std::vector<double> latency, dist_scores;
  for (const EvalCase& c : r.cases) {
    if (c.verdict != "skipped") latency.push_back(c.scan_ms);
    if (c.group == "reference") {
      EvalKindRow& k = kinds[c.kind];
      k.kind = c.kind;
      if (!refs.count(c.reference)) {
        ref_order.push_back(c.reference);
        refs[c.reference].reference = c.reference;
        refs[c.reference].min_score = 1.0;
      }
      EvalReferenceRow& rr = refs[c.reference];
      if (c.verdict == "skipped") {
        ++k.skipped;
        ++s.skipped;
        continue;
      }
      ++s.cases;
      ++k.cases;
      ++rr.cases;
      kind_scores[c.kind].push_back(c.score);
      rr.min_score = std::min(rr.min_score, c.score);
      const bool flagged = c.detected(), review = c.verdict == "review", right = flagged && c.right_reference();
      s.flagged += flagged;
      s.review += review;
      s.right += right;
      k.flagged += flagged;
      k.review += review;
      k.right += right;
      rr.flagged += flagged;
      rr.review += review;
      rr.right += right;
    } else if (c.group == "distractor") {
      if (c.verdict == "skipped") continue;
      ++s.distractors;
      dist_scores.push_back(c.score);
      s.distractor_flagged += c.verdict == "flagged";
      s.distractor_review += c.verdict == "review";
      if (c.verdict != "clear") s.false_positives.push_back({c.files.empty() ? c.name : c.files[0], c.verdict, c.top_reference, c.score});
    } else if (c.group == "relative") {
      if (c.verdict == "skipped") continue;
      ++s.relatives;
      s.relatives_not_clear += c.verdict != "clear";
    }
  }
  s.detection = s.cases ? double(s.flagged) / double(s.cases) : 0.0;
  s.right_rate = s.flagged ? double(s.right) / double(s.flagged) : 0.0;
  s.max_distractor_score = dist_scores.empty() ? 0.0 : *std::max_element(dist_scores.begin(), dist_scores.end());
  s.p95_distractor_score = pct(dist_scores, 0.95);
  for (const std::string& k : r.kinds)
    if (kinds.count(k)) {
      kinds[k].median_score = pct(kind_scores[k], 0.5);
      s.by_kind.push_back(kinds[k]);
    }
  for (const std::string& id : ref_order) s.by_reference.push_back(refs[id]);
  std::stable_sort(s.false_positives.begin(), s.false_positives.end(),
                   [](const EvalFalsePositive& a, const EvalFalsePositive& b) { return a.score > b.score; });
  // Thresholds for chosen false-positive rates: the lowest threshold (in steps of 0.001) at which
  // no more than floor(rate x N) distractors reach it. With N < 1/rate that allows none, and the
  // data cannot tell the rate apart from 1/N: it is marked not estimable.
  std::vector<double> desc = dist_scores;
  std::sort(desc.rbegin(), desc.rend());
  std::vector<double> ref_scores = group_scores(r, "reference");
  const double n = double(desc.size());
  for (double target : {0.01, 0.001}) {
    EvalThreshold t;
    t.target_fpr = target;
    t.estimable = n * target >= 1.0;
    const size_t allowed = size_t(std::floor(n * target));
    double th = allowed < desc.size() ? std::floor(desc[allowed] * 1000.0 + 1.0) / 1000.0 : 0.001;
    t.threshold = std::max(0.001, th);
    size_t fp = 0, det = 0;
    for (double x : desc) fp += x >= t.threshold;
    for (double x : ref_scores) det += x >= t.threshold;
    t.observed_fpr = n > 0 ? double(fp) / n : 0.0;
    t.detection = ref_scores.empty() ? 0.0 : double(det) / double(ref_scores.size());
    s.thresholds.push_back(t);
  }
  s.fpr_upper_95 = n > 0 ? 3.0 / n : 1.0;
  s.latency_p50 = pct(latency, 0.5);
  s.latency_p90 = pct(latency, 0.9);
  s.latency_p95 = pct(latency, 0.95);
  s.latency_p99 = pct(latency, 0.99);
  s.latency_max = latency.empty() ? 0.0 : *std::max_element(latency.begin(), latency.end());
  return s;
}

std::string eval_report_json(const EvalReport& r) {
  using J = nlohmann::ordered_json;
  const EvalSummary& s = r.summary;
  J j;
  j["partscreen"] = r.tool_version;
  j["mode"] = r.mode;
  j["complete"] = r.complete;
  j["resumed_cases"] = r.resumed;
  j["pack"] = {{"name", r.pack_name}, {"checksum", r.pack_checksum}, {"path", r.pack_path}, {"references", r.pack_references}};
  j["seed"] = r.seed;
  j["kinds"] = r.kinds;
  j["cases_per_kind"] = r.cases_per_kind;
  j["thresholds"] = {{"flag", r.flag_score}, {"review", r.review_score}};
  j["slicers"] = r.slicer_versions;
  J sum;
  sum["cases"] = s.cases;
  sum["skipped"] = s.skipped;
  sum["flagged"] = s.flagged;
  sum["review"] = s.review;
  sum["right_reference"] = s.right;
  sum["detection_rate"] = s.detection;
  sum["right_reference_rate"] = s.right_rate;
  sum["distractors"] = s.distractors;
  sum["distractors_flagged"] = s.distractor_flagged;
  sum["distractors_review"] = s.distractor_review;
  sum["max_distractor_score"] = s.max_distractor_score;
  sum["p95_distractor_score"] = s.p95_distractor_score;
  sum["false_positive_rate_upper_95"] = s.fpr_upper_95;
  sum["relatives"] = s.relatives;
  sum["relatives_not_clear"] = s.relatives_not_clear;
  J kinds = J::array();
  for (const EvalKindRow& k : s.by_kind)
    kinds.push_back({{"kind", k.kind}, {"cases", k.cases}, {"flagged", k.flagged}, {"review", k.review}, {"right_reference", k.right},
                     {"skipped", k.skipped}, {"detection_rate", k.cases ? double(k.flagged) / double(k.cases) : 0.0},
                     {"median_score", k.median_score}});
  sum["by_kind"] = kinds;
  J refs = J::array();
  for (const EvalReferenceRow& x : s.by_reference)
    refs.push_back({{"reference", x.reference}, {"cases", x.cases}, {"flagged", x.flagged}, {"review", x.review},
                    {"right_reference", x.right}, {"detection_rate", x.cases ? double(x.flagged) / double(x.cases) : 0.0},
                    {"min_score", x.min_score}});
  sum["by_reference"] = refs;
  J fps = J::array();
  for (const EvalFalsePositive& f : s.false_positives)
    fps.push_back({{"file", f.file}, {"verdict", f.verdict}, {"reference", f.reference}, {"score", f.score}});
  sum["false_positives"] = fps;
  J th = J::array();
  for (const EvalThreshold& t : s.thresholds)
    th.push_back({{"target_false_positive_rate", t.target_fpr}, {"estimable", t.estimable}, {"threshold", t.threshold},
                  {"observed_false_positive_rate", t.observed_fpr}, {"detection_rate", t.detection}});
  sum["thresholds_for_false_positive_rates"] = th;
  sum["latency_ms"] = {{"p50", s.latency_p50}, {"p90", s.latency_p90}, {"p95", s.latency_p95}, {"p99", s.latency_p99}, {"max", s.latency_max}};
  j["summary"] = sum;
  J cases = J::array();
  for (const EvalCase& c : r.cases) cases.push_back(eval::case_to_json(c));
  j["cases"] = cases;
  return j.dump(2, ' ', false, J::error_handler_t::replace) + "\n";
}

namespace {

constexpr size_t kPicturedFalsePositives = 12;

// An <img> of the file's mesh (mesh_thumbnail_png) inline, or a note when it cannot be read.
std::string thumbnail_img(const std::string& path) {
  std::string png;
  try {
    png = mesh_thumbnail_png(load_file(path).mesh, 150);
  } catch (const Error&) {
  }
  if (png.empty()) return "<span title='" + esc(path) + "'>(no picture)</span> ";
  std::string b64(sodium_base64_encoded_len(png.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(b64.data(), b64.size(), reinterpret_cast<const unsigned char*>(png.data()), png.size(), sodium_base64_VARIANT_ORIGINAL);
  b64.resize(std::strlen(b64.c_str()));
  return "<img width='150' height='150' style='border:1px solid #ddd;margin-right:4px' alt='" + esc(fs::path(path).filename().string()) +
         "' title='" + esc(fs::path(path).filename().string()) + "' src='data:image/png;base64," + b64 + "'>";
}

}  // namespace

std::string eval_report_html(const EvalReport& r) {
  const EvalSummary& s = r.summary;
  const bool collision = r.mode == "collision";
  const std::vector<double> refs = group_scores(r, "reference"), dist = group_scores(r, "distractor");
  const Curve cv = curve(refs, dist);
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>partscreen "
    << (collision ? "collision check" : "reference-part evaluation") << "</title><style>"
    << "body{font-family:sans-serif;max-width:1180px;margin:24px auto;padding:0 16px;color:#222;font-size:14px}"
    << "h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}"
    << "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}"
    << "th{background:#f2f2f2}td.l,th.l{text-align:left}.meta td{text-align:left}"
    << ".cards{display:flex;flex-wrap:wrap;gap:12px;margin:12px 0}.card{border:1px solid #ddd;border-radius:6px;padding:10px 14px;min-width:150px}"
    << ".card b{display:block;font-size:22px}.bar{display:inline-block;width:120px;height:10px;background:#eee;vertical-align:middle}"
    << ".bar span{display:block;height:10px}.warn{background:#fff4e5;border:1px solid #f0b429;padding:8px;border-radius:4px}"
    << ".figs{display:flex;flex-wrap:wrap;gap:16px}.fig{flex:0 0 auto}.fig p{margin:2px 0 8px;color:#555;max-width:560px}"
    << ".bad{color:#c53030}.ok{color:#2f855a}</style></head><body>\n";
  h << "<h1>partscreen " << (collision ? "collision check" : "reference-part evaluation") << "</h1>\n";
  h << "<table class='meta'><tr><th class='l'>partscreen</th><td>" << esc(r.tool_version) << "</td></tr>"
    << "<tr><th class='l'>pack</th><td>" << esc(r.pack_name) << ", " << r.pack_references << " reference"
    << (r.pack_references == 1 ? "" : "s") << ", BLAKE2b " << esc(r.pack_checksum.substr(0, 16)) << "&hellip;</td></tr>"
    << "<tr><th class='l'>thresholds</th><td>flag at " << fmt("%.2f", r.flag_score) << ", review at " << fmt("%.2f", r.review_score)
    << "</td></tr>";
  if (!collision) {
    h << "<tr><th class='l'>seed</th><td>" << r.seed << " (" << r.cases_per_kind << " case" << (r.cases_per_kind == 1 ? "" : "s")
      << " per reference and kind)</td></tr><tr><th class='l'>kinds</th><td>";
    for (size_t i = 0; i < r.kinds.size(); ++i) h << (i ? ", " : "") << esc(r.kinds[i]);
    h << "</td></tr>";
  }
  for (const std::string& v : r.slicer_versions) h << "<tr><th class='l'>slicer</th><td>" << esc(v) << "</td></tr>";
  h << "</table>\n";
  if (!r.complete)
    h << "<p class='warn'>This run was stopped before every case ran: the figures cover the finished cases only. Run the same "
         "command again to finish it.</p>\n";

  // Summary cards.
  h << "<h2 id='summary'>Summary</h2><div class='cards'>";
  if (!collision) {
    h << "<div class='card'>detection (flagged)<b>" << percent(s.detection) << "</b>" << s.flagged << " of " << s.cases << " cases"
      << (s.skipped ? ", " + std::to_string(s.skipped) + " skipped" : "") << "</div>";
    h << "<div class='card'>right reference<b>" << percent(s.right_rate) << "</b>of flagged cases</div>";
    h << "<div class='card'>sent to review<b>" << percent(s.cases ? double(s.review) / double(s.cases) : 0.0) << "</b>" << s.review
      << (s.review == 1 ? " case" : " cases") << "</div>";
  }
  const double fpr = s.distractors ? double(s.distractor_flagged) / double(s.distractors) : 0.0;
  h << "<div class='card'>distractors flagged<b class='" << (s.distractor_flagged ? "bad" : "ok") << "'>" << s.distractor_flagged
    << " / " << s.distractors << "</b>" << percent(fpr) << (s.distractor_flagged ? "" : ", under " + percent(s.fpr_upper_95) + " (95%)")
    << "</div>";
  h << "<div class='card'>distractors to review<b>" << s.distractor_review << "</b>highest score " << fmt("%.3f", s.max_distractor_score)
    << "</div>";
  h << "<div class='card'>scan latency<b>" << fmt("%.0f ms", s.latency_p50) << "</b>median; p95 " << fmt("%.0f ms", s.latency_p95)
    << "</div>";
  if (s.relatives)
    h << "<div class='card'>design relatives<b>" << s.relatives_not_clear << " / " << s.relatives << "</b>not clear (reported apart)</div>";
  h << "</div>\n";

  if (!collision) {
    h << "<h2 id='kinds'>Detection per transformation</h2><table><tr><th class='l'>transformation</th><th>cases</th><th>flagged</th><th></th>"
         "<th>review</th><th>right reference</th><th>median score</th><th>skipped</th></tr>";
    for (const EvalKindRow& k : s.by_kind) {
      const double d = k.cases ? double(k.flagged) / double(k.cases) : 0.0;
      h << "<tr><td class='l'>" << esc(k.kind) << "</td><td>" << k.cases << "</td><td>" << percent(d) << "</td><td>"
        << bar(d, d >= 0.95 ? "#2f855a" : d >= 0.7 ? "#d69e2e" : "#c53030") << "</td><td>"
        << percent(k.cases ? double(k.review) / double(k.cases) : 0.0) << "</td><td>"
        << percent(k.flagged ? double(k.right) / double(k.flagged) : 0.0) << "</td><td>" << fmt("%.2f", k.median_score) << "</td><td>"
        << k.skipped << "</td></tr>";
    }
    h << "</table>\n<h2 id='references'>Detection per reference</h2><table><tr><th class='l'>reference</th><th>cases</th><th>flagged</th><th></th>"
         "<th>review</th><th>right reference</th><th>lowest score</th></tr>";
    for (const EvalReferenceRow& x : s.by_reference) {
      const double d = x.cases ? double(x.flagged) / double(x.cases) : 0.0;
      h << "<tr><td class='l'>" << esc(x.reference) << "</td><td>" << x.cases << "</td><td>" << percent(d) << "</td><td>"
        << bar(d, d >= 0.95 ? "#2f855a" : d >= 0.7 ? "#d69e2e" : "#c53030") << "</td><td>" << x.review << "</td><td>" << x.right
        << "</td><td>" << fmt("%.2f", x.min_score) << "</td></tr>";
    }
    h << "</table>\n";
  }

  h << "<h2 id='false-positives'>False positives</h2>";
  if (s.false_positives.empty())
    h << "<p>No distractor was flagged or sent to review (" << s.distractors << " scanned).</p>";
  else {
    // The highest-scoring ones pictured beside the reference they collided with: whether a
    // benign part really looks like the reference is quicker seen than read.
    std::map<std::string, std::string> ref_paths;
    for (const EvalReference& x : r.references) ref_paths[x.id] = x.path;
    const bool pictures = !ref_paths.empty();
    h << "<table><tr><th class='l'>distractor</th><th class='l'>verdict</th><th class='l'>collided with</th><th>score</th>"
      << (pictures ? "<th class='l'>distractor, reference</th>" : "") << "</tr>";
    size_t pictured = 0;
    for (const EvalFalsePositive& f : s.false_positives) {
      h << "<tr><td class='l'>" << esc(fs::path(f.file).filename().string()) << "</td><td class='l " << (f.verdict == "flagged" ? "bad" : "")
        << "'>" << esc(f.verdict) << "</td><td class='l'>" << esc(f.reference) << "</td><td>" << fmt("%.3f", f.score) << "</td>";
      if (pictures) {
        h << "<td class='l' style='white-space:nowrap'>";
        auto it = ref_paths.find(f.reference);
        if (pictured < kPicturedFalsePositives && it != ref_paths.end()) {
          h << thumbnail_img(f.file) << thumbnail_img(it->second);
          ++pictured;
        }
        h << "</td>";
      }
      h << "</tr>";
    }
    h << "</table>";
  }
  // How close the clear ones came (the others are listed above).
  std::vector<const EvalCase*> closest;
  for (const EvalCase& c : r.cases)
    if (c.group == "distractor" && c.verdict == "clear") closest.push_back(&c);
  std::stable_sort(closest.begin(), closest.end(), [](const EvalCase* a, const EvalCase* b) { return a->score > b->score; });
  if (closest.size() > 10) closest.resize(10);
  if (!closest.empty()) {
    h << "<p>Closest clear distractors (top scores):</p><table><tr><th class='l'>distractor</th><th class='l'>verdict</th><th class='l'>"
         "nearest reference</th><th>score</th><th>coverage</th></tr>";
    for (const EvalCase* c : closest)
      h << "<tr><td class='l'>" << esc(c->name) << "</td><td class='l'>" << esc(c->verdict) << "</td><td class='l'>"
        << esc(c->top_reference.empty() ? "-" : c->top_reference) << "</td><td>" << fmt("%.3f", c->score) << "</td><td>"
        << percent(c->coverage) << "</td></tr>";
    h << "</table>";
  }
  if (s.relatives) {
    h << "<p>Design relatives of the references (mirror twins, resized copies: files whose name differs from a reference's only by side, "
         "size or revision) are not counted as false positives:</p><table><tr><th class='l'>file</th><th class='l'>verdict</th>"
         "<th class='l'>reference</th><th>score</th></tr>";
    for (const EvalCase& c : r.cases)
      if (c.group == "relative")
        h << "<tr><td class='l'>" << esc(c.name) << "</td><td class='l'>" << esc(c.verdict) << "</td><td class='l'>" << esc(c.top_reference)
          << "</td><td>" << fmt("%.3f", c.score) << "</td></tr>";
    h << "</table>";
  }

  h << "\n<h2 id='scores'>Scores and thresholds</h2><div class='figs'>";
  h << "<div class='fig'>" << histogram_svg(refs, dist, r.flag_score, r.review_score)
    << "<p>Best match score of every case: the references' transformed copies (blue) and the distractors (orange). A score under "
       "the report floor counts as 0.</p></div>";
  if (!collision) {
    h << "<div class='fig'>" << threshold_svg(cv, r.flag_score, r.review_score)
      << "<p>Share of the references' cases (detection) and of the distractors (false positives) whose best score reaches each "
         "threshold.</p></div>";
    h << "<div class='fig'>" << roc_svg(cv, r.flag_score, r.review_score, dist.size())
      << "<p>ROC curve: each point is a score threshold; the dots are the pack's flag and review thresholds.</p></div>";
  }
  h << "</div>";
  h << "<table><tr><th>target false-positive rate</th><th>threshold</th><th>observed false positives</th>"
    << (collision ? "" : "<th>detection at it</th>") << "<th class='l'>note</th></tr>";
  for (const EvalThreshold& t : s.thresholds) {
    h << "<tr><td>" << fmt(t.target_fpr >= 0.01 ? "%.0f%%" : "%.1f%%", 100 * t.target_fpr) << "</td><td>" << fmt("%.3f", t.threshold)
      << "</td><td>" << percent(t.observed_fpr) << "</td>";
    if (!collision) h << "<td>" << percent(t.detection) << "</td>";
    h << "<td class='l'>";
    if (t.estimable) h << "from " << s.distractors << " distractors";
    else
      h << "too few distractors to tell: " << s.distractors << " &lt; " << fmt("%.0f", 1.0 / t.target_fpr)
        << "; the threshold only clears every distractor seen (rate under " << percent(s.fpr_upper_95) << " at 95% confidence)";
    h << "</td></tr>";
  }
  h << "</table>\n";

  h << "<h2 id='latency'>Latency</h2><table><tr><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>max</th></tr><tr>";
  for (double v : {s.latency_p50, s.latency_p90, s.latency_p95, s.latency_p99, s.latency_max}) h << "<td>" << fmt("%.0f ms", v) << "</td>";
  h << "</tr></table><p>Wall time of one scan (reading the files included), every case and distractor.</p>\n";

  if (!collision) {
    h << "<h2 id='misses'>Cases not detected</h2>";
    size_t shown = 0;
    std::ostringstream rows;
    for (const EvalCase& c : r.cases) {
      if (c.group != "reference" || (c.detected() && c.right_reference() && c.verdict != "skipped")) continue;
      ++shown;
      rows << "<tr><td class='l'>" << esc(c.reference) << "</td><td class='l'>" << esc(c.name) << "</td><td class='l'>" << esc(c.verdict)
           << "</td><td class='l'>" << esc(c.top_reference) << "</td><td>" << fmt("%.3f", c.score) << "</td><td class='l'>" << esc(c.note)
           << "</td></tr>";
    }
    if (!shown) h << "<p>Every case was flagged with the right reference.</p>";
    else
      h << "<table><tr><th class='l'>reference</th><th class='l'>case</th><th class='l'>verdict</th><th class='l'>top reference</th>"
           "<th>score</th><th class='l'>note</th></tr>"
        << rows.str() << "</table>";
  }
  h << "\n<p style='color:#777;margin-top:24px'>report.json beside this page holds every case (files, seed, verdict, score, timing).</p>"
    << "</body></html>\n";
  return h.str();
}

void write_eval_report(const EvalReport& report, const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(ErrorCode::io, dir, "cannot create: " + ec.message());
  write_atomic(dir + "/report.json", eval_report_json(report));
  write_atomic(dir + "/report.html", eval_report_html(report));
}

}  // namespace partscreen
