// SPDX-License-Identifier: GPL-3.0-or-later
// The scan contract's JSON (README "scan --json"). Outside test harnesses parse this: members are
// only ever added, never renamed or removed.
#include <cmath>

#include <nlohmann/json.hpp>

#include "partscreen/report.h"
#include "partscreen/version.h"

namespace partscreen {
namespace {
using json = nlohmann::ordered_json;
double r4(double v) { return std::isfinite(v) ? std::round(v * 1e4) / 1e4 : 0.0; }
double r3(double v) { return std::isfinite(v) ? std::round(v * 1e3) / 1e3 : 0.0; }
}  // namespace

std::string scan_result_json(const ScanResult& r) {
  json matches = json::array();
  for (const Match& m : r.matches) {
    json parts = json::array();
    for (const MatchPart& p : m.parts)
      parts.push_back(json{{"file", p.file}, {"component", p.component}, {"coverage", r4(p.coverage)}, {"enclosed", p.enclosed}, {"reassembled", p.reassembled}});
    json transform = json::array();
    for (int row = 0; row < 4; ++row)
      transform.push_back(json::array({r4(m.transform[row * 4]), r4(m.transform[row * 4 + 1]), r4(m.transform[row * 4 + 2]),
                                       r4(m.transform[row * 4 + 3])}));
    matches.push_back(json{{"reference", m.reference},
                           {"category", m.category},
                           {"label", m.label},
                           {"score", r4(m.score)},
                           {"coverage", r4(m.coverage)},
                           {"explained", r4(m.explained)},
                           {"absent", r4(m.absent)},
                           {"hidden", r4(m.hidden)},
                           {"filled_in", m.filled_in},
                           {"wall_mismatch", r4(m.wall_mismatch)},
                           {"scale", r4(m.scale)},
                           {"mirrored", m.mirrored},
                           {"transform", transform},
                           {"parts", parts}});
  }
  json files = json::array();
  for (const FileReport& f : r.files) {
    json o{{"path", f.path}, {"ok", f.ok}};
    if (f.ok) {
      o["format"] = f.format;
      o["bytes"] = f.bytes;
      o["triangles"] = f.triangles;
      o["components"] = f.components;
      o["load_ms"] = r3(f.load_ms);
    } else {
      o["error"] = json{{"code", f.error_code}, {"reason", f.error}};
    }
    files.push_back(o);
  }
  json pack{{"name", r.pack_name},
            {"checksum", r.pack_checksum},
            {"publisher", r.pack_publisher},
            {"sequence", r.pack_sequence},
            {"signed_by", r.pack_signed_by.empty() ? json(nullptr) : json(r.pack_signed_by)},
            {"demo", !r.pack_note.empty()}};
  if (!r.pack_note.empty()) pack["note"] = r.pack_note;
  json out{{"verdict", verdict_name(r.verdict)},
           {"matches", matches},
           {"files", files},
           {"timings", json{{"load_ms", r3(r.timings.load_ms)},
                            {"features_ms", r3(r.timings.features_ms)},
                            {"candidates_ms", r3(r.timings.candidates_ms)},
                            {"verify_ms", r3(r.timings.verify_ms)},
                            {"total_ms", r3(r.timings.total_ms)}}},
           {"parts", json{{"screened", r.parts_screened}, {"skipped", r.parts_skipped}}},
           {"pack", pack},
           {"thresholds", json{{"flag_score", r4(r.flag_score)}, {"review_score", r4(r.review_score)}}},
           {"partscreen_version", version_string()}};
  return out.dump();
}

}  // namespace partscreen
