// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Screening a job (one or more files) against a pack.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "partscreen/io.h"
#include "partscreen/pack.h"

namespace partscreen {

enum class Verdict { clear, review, flagged, error };
const char* verdict_name(Verdict verdict);  // "clear", "review", "flagged", "error"

struct ScanOptions {
  LoadOptions load;
  // A reference whose verified score reaches flag_score flags the job; review_score puts it in
  // front of a person. Calibrated on the benchmark (bench/accuracy), see README.
  double flag_score = 0.70;
  double review_score = 0.45;
  uint32_t threads = 0;           // 0: all cores
  uint32_t max_candidates = 12;   // references verified geometrically per job
  double min_vote = 0.04;         // fraction of a reference's keypoints hit in the index to verify it
  double min_piece_coverage = 0.10;  // a piece must explain this much of a reference to count
  double report_score = 0.25;     // matches below this are not listed
  // Fit criterion: a reference keypoint counts as found when the upload's surface passes within
  // coverage_tolerance x (reference size) of it with a normal within acos(normal_agreement).
  double coverage_tolerance = 0.012;
  double normal_agreement = 0.75;
  bool use_index = true;          // false: the naive baseline that verifies every reference
  // Work bounds for hostile jobs (thousands of shells): parts below min_part_area_share of the
  // largest part's area are specks that cannot carry a reference and are skipped; beyond
  // max_parts only the largest are screened; the dense sampling budget is shared by all parts.
  double min_part_area_share = 1e-6;
  uint32_t max_parts = 512;
  uint64_t max_job_points = 6'000'000;
};

// One file and component of the job that carries (part of) a matched reference.
struct MatchPart {
  std::string file;
  uint32_t component = 0;
  double coverage = 0.0;  // fraction of the reference's surface this piece explains
  bool enclosed = false;  // found in the component's enclosed surface: hidden inside a closed
                          // cavity (e.g. buried in a hollow shell), not visible from outside
  bool reassembled = false;  // found with other pieces glued back to it at flat cut faces (a part
                             // cut into pieces); the match's transform is in the largest piece's frame
};

struct Match {
  std::string reference;
  std::string category;
  std::string label;
  double score = 0.0;     // 0..1, what the verdict thresholds apply to
  double coverage = 0.0;  // fraction of the reference's surface found, all pieces together
  double explained = 0.0; // fraction of the carrying parts' own surface the reference accounts for
                          // (low: the reference is a region of something larger, e.g. fused)
  // Matches carried by one part (with the parts placed by its transform: inner shells, other
  // bodies of its file), scoring at least the review score: the fraction of the
  // reference's surface the part lacks where it has open space (absent: another design there;
  // the score drops by half of it, and by 3x what is beyond 10%) and where it has material
  // (hidden: fused, buried or filled in; no effect on the score unless filled_in).
  double absent = 0.0;
  double hidden = 0.0;
  // The hidden surface is filled in where the reference stands: the part adds no material beyond
  // the reference's bounding box (fused dummy material sticks out), so it is another design as
  // likely as a disguise, and hidden surface deeper than the fit tolerance lowers the score.
  bool filled_in = false;
  // The share of the reference's thin walls (measured where the job shows both of a wall's faces)
  // whose thickness in the job differs from the reference's at this match's scale by more than
  // 20%: a thickened copy or a look-alike stretched across its thickness, which the coverage
  // tolerance cannot tell from the reference. From 0.3 (with 10 walls measured) the score stays in
  // the review band. 0 when not measured (as absent and hidden).
  double wall_mismatch = 0.0;
  double scale = 1.0;     // upload size / reference size
  bool mirrored = false;
  std::array<double, 16> transform{};  // row-major 4x4, reference -> upload (first piece)
  std::vector<MatchPart> parts;
  // Which of the reference's keypoints the job explains (1 = found), in the pack's keypoint order.
  // Unions of these across jobs give cumulative coverage (coverage_from_found): pieces of one
  // reference uploaded separately over time still add up.
  std::vector<uint8_t> found;
  // The found keypoints mapped into the upload's coordinates (each by the transform of the piece
  // that explains it): where on the upload the match is, for highlighting. Upload-surface points
  // only, never the reference's own geometry.
  std::vector<std::array<float, 3>> found_points;
};

struct FileReport {
  std::string path;
  std::string format;
  uint64_t bytes = 0;
  uint64_t triangles = 0;
  uint32_t components = 0;
  double load_ms = 0.0;
  bool ok = true;
  std::string error_code;  // error_code_name() when !ok
  std::string error;       // the reason, when !ok
};

struct ScanTimings {
  double load_ms = 0.0;
  double features_ms = 0.0;
  double candidates_ms = 0.0;
  double verify_ms = 0.0;
  double total_ms = 0.0;
};

struct ScanResult {
  Verdict verdict = Verdict::clear;
  std::vector<Match> matches;  // best first; includes review-band matches
  std::vector<FileReport> files;
  ScanTimings timings;
  uint32_t parts_screened = 0;    // components and G-code objects screened
  uint32_t parts_skipped = 0;     // specks and parts beyond max_parts (see ScanOptions)
  std::string pack_name;
  std::string pack_checksum;
  std::string pack_publisher;     // from the pack's signed metadata
  uint64_t pack_sequence = 0;
  std::string pack_signed_by;     // key id, "" when unsigned
  std::string pack_note;          // "demo pack: not for production ..." for the demo key
  double flag_score = 0.0;    // the thresholds the verdict was taken with
  double review_score = 0.0;
};

// Coverage of a reference from a `found` mask (Match::found, or the union of several jobs'):
// coverage is area-weighted, score salience-weighted as the verdict's score is, before the
// look-alike penalty (which needs the upload's parts). Throws Error(invalid_argument) for an
// unknown reference or a mask of the wrong length.
struct ReferenceCoverage {
  double coverage = 0.0;
  double score = 0.0;
};
ReferenceCoverage coverage_from_found(const Pack& pack, const std::string& reference,
                                      const std::vector<uint8_t>& found);

// Screens the files of one job together: a reference split across files is assembled from all
// of them. A file that cannot be read makes the verdict "error" (the job is not cleared), and its
// FileReport says why; other files are still screened so the report is complete.
ScanResult scan_files(const std::vector<std::string>& paths, const Pack& pack, const ScanOptions& options = {});

// Same for files already loaded (plugins, the service, the Python binding). Throws
// Error(invalid_argument) for an empty job.
ScanResult scan_loaded(const std::vector<LoadedFile>& files, const Pack& pack, const ScanOptions& options = {});

}  // namespace partscreen
