// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Reference-part testing: the transformation suite of every reference scanned against a pack,
// every distractor (an everyday benign part) scanned against it, and the figures a regulator or an
// operator needs from that (detection per transformation and per reference, false positives with
// the reference each collided with, score distributions, thresholds for chosen false-positive
// rates, latency). `partscreen eval` and bench/accuracy both run this one loop.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "partscreen/pack.h"
#include "partscreen/scan.h"

namespace partscreen {

// One enrolled reference and the mesh file it was enrolled from (the suite is made from it).
struct EvalReference {
  std::string id;    // the reference's id in the pack
  std::string path;  // its mesh or CAD file
};

struct EvalOptions {
  ScanOptions scan;  // thresholds and limits every case is scanned with
  uint64_t seed = 1;
  // Case kinds to run (names from eval_kind_names()); empty: eval_default_kinds().
  std::vector<std::string> kinds;
  uint32_t cases_per_kind = 1;  // cases per reference and kind, each with its own seed
  // Where the case files are written (they are scanned from disk, as an upload would be). Empty:
  // a folder under the system temp dir, removed at the end.
  std::string cases_dir;
  bool keep_case_files = false;  // false: each case's files are deleted once scanned
  // Append-only journal: each finished case is appended and flushed, and a rerun with the same
  // inputs takes finished cases from it instead of running them again. Empty: no journal.
  std::string journal_path;
  // Stop after this many newly run cases (0: no limit); the report is then marked incomplete.
  size_t max_new_cases = 0;
  // For the gcode_prusa / gcode_cura kinds: the slicer programs and CuraEngine's machine definition.
  std::string prusa_slicer = "prusa-slicer";
  std::string cura_engine = "CuraEngine";
  std::string cura_definition;
  double slicer_timeout_s = 600.0;
  // Collision mode: no reference cases are made; `references` only name the design families
  // whose distractors are reported apart as relatives.
  bool distractors_only = false;
  // Called before each case (done so far, total, what is about to run); may be empty.
  std::function<void(size_t done, size_t total, const std::string& item)> progress;
};

struct EvalCase {
  std::string id;         // unique and stable: "ref/kind/n" or "distractor/<file>"
  std::string group;      // "reference", "distractor" or "relative" (a design relative of a reference)
  std::string reference;  // the reference the case was made from ("" for distractors)
  std::string kind;       // case kind ("rigid", "format_3mf", "gcode_prusa"...; "distractor")
  std::string name;       // what was done, e.g. "scale(1.37)"
  uint64_t seed = 0;
  std::vector<std::string> files;  // as scanned (distractors: the original path)
  std::string verdict;             // verdict_name(), or "skipped" when the case could not be made
  std::string top_reference;       // best match, "" when none
  double score = 0.0;              // best match's score, 0 when none
  double coverage = 0.0;
  double explained = 0.0;          // best match's Match::explained
  double absent = 0.0;             // best match's Match::absent, hidden and wall_mismatch
  double hidden = 0.0;
  double wall_mismatch = 0.0;
  double scale = 0.0;              // best match's Match::scale (upload / reference), 0 when none
  double scan_ms = 0.0;            // scan_files() wall time, reading the files included
  double make_ms = 0.0;            // making the case (transform, write, slice)
  std::string note;                // why a case was skipped, or the scan's file error
  bool detected() const { return verdict == "flagged"; }
  bool right_reference() const { return !reference.empty() && top_reference == reference; }
};

struct EvalKindRow {
  std::string kind;
  size_t cases = 0, flagged = 0, review = 0, right = 0, skipped = 0;
  double median_score = 0.0;
};

struct EvalReferenceRow {
  std::string reference;
  size_t cases = 0, flagged = 0, review = 0, right = 0;
  double min_score = 0.0;
};

struct EvalFalsePositive {
  std::string file;
  std::string verdict;
  std::string reference;  // the reference it collided with
  double score = 0.0;
};

struct EvalThreshold {
  double target_fpr = 0.0;   // e.g. 0.01
  bool estimable = false;    // false: fewer than 1/target_fpr distractors, the rate cannot be told
  double threshold = 0.0;    // lowest score threshold whose observed false-positive rate <= target
  double observed_fpr = 0.0;
  double detection = 0.0;    // fraction of the references' cases scoring >= threshold
};

struct EvalSummary {
  size_t cases = 0, skipped = 0, flagged = 0, review = 0, right = 0;
  double detection = 0.0;        // flagged / (cases - skipped)
  double right_rate = 0.0;       // right reference / flagged
  size_t distractors = 0, distractor_flagged = 0, distractor_review = 0;
  double max_distractor_score = 0.0, p95_distractor_score = 0.0;
  size_t relatives = 0, relatives_not_clear = 0;
  std::vector<EvalKindRow> by_kind;           // in kind order
  std::vector<EvalReferenceRow> by_reference; // in reference order
  std::vector<EvalFalsePositive> false_positives;  // distractors not clear, highest score first
  std::vector<EvalThreshold> thresholds;           // for 1% and 0.1%
  double fpr_upper_95 = 0.0;  // with no false positive seen: 3 / distractors (rule of three)
  double latency_p50 = 0.0, latency_p90 = 0.0, latency_p95 = 0.0, latency_p99 = 0.0, latency_max = 0.0;
};

struct EvalReport {
  std::string mode = "suite";  // "suite", or "collision" (one new reference against distractors)
  std::string tool_version;
  std::string pack_name, pack_checksum, pack_path;
  size_t pack_references = 0;
  uint64_t seed = 0;
  std::vector<std::string> kinds;
  uint32_t cases_per_kind = 1;
  double flag_score = 0.0, review_score = 0.0;
  std::vector<std::string> slicer_versions;  // "PrusaSlicer-2.5.0...", when slicer kinds ran
  std::vector<EvalCase> cases;  // reference cases, then distractors, then relatives
  std::vector<EvalReference> references;  // the enrolled references' files (pictures in the HTML report)
  size_t resumed = 0;           // cases taken from the journal
  bool complete = true;         // false when max_new_cases stopped the run
  EvalSummary summary;
};

// Every case kind: the variant kinds (partscreen/variants.h) except identity, the format round
// trips format_stl, format_3mf and format_obj (written and read back), and the slicer kinds
// gcode_prusa and gcode_cura.
std::vector<std::string> eval_kind_names();
// All kinds but the slicer kinds.
std::vector<std::string> eval_default_kinds();

// Mesh and CAD files under `dir` (recursively), sorted. Throws Error(io) when dir is unreadable.
std::vector<std::string> eval_mesh_files(const std::string& dir);

// A design family from a file name: the stem without side, size, count, hole-count and revision
// tokens. A distractor of a reference's family (its mirror twin, a resized copy, the same design
// with another number of holes) is, under the suite's
// own transformation model, the reference itself: it is reported apart as a "relative", not as
// a false positive.
std::string design_family(const std::string& path);

// Runs the suite of every reference and scans every distractor. Distractors whose design family
// is a reference's are scanned as relatives. Deterministic for options.seed. Throws Error for bad
// options (unknown kind, a reference id not in the pack).
EvalReport run_eval(const Pack& pack, const std::vector<EvalReference>& references,
                    const std::vector<std::string>& distractors, const EvalOptions& options = {});

// The summary tables, recomputed from report.cases (run_eval fills report.summary with this).
EvalSummary summarize_eval(const EvalReport& report);

// report.json: every case and the summary tables.
std::string eval_report_json(const EvalReport& report);
// report.html: self-contained (inline SVG, no script, no network).
std::string eval_report_html(const EvalReport& report);
// Writes report.json and report.html into dir (created if missing), each atomically.
void write_eval_report(const EvalReport& report, const std::string& dir);

}  // namespace partscreen
