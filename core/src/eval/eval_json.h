// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// One EvalCase as JSON: the journal's lines and report.json's "cases" use the same form, so a
// resumed case is exactly what the first run recorded.
#include <nlohmann/json.hpp>

#include "partscreen/eval.h"

namespace partscreen::eval {

inline nlohmann::ordered_json case_to_json(const EvalCase& c) {
  nlohmann::ordered_json j;
  j["id"] = c.id;
  j["group"] = c.group;
  j["reference"] = c.reference;
  j["kind"] = c.kind;
  j["name"] = c.name;
  j["seed"] = c.seed;
  j["files"] = c.files;
  j["verdict"] = c.verdict;
  j["top_reference"] = c.top_reference;
  j["score"] = c.score;
  j["coverage"] = c.coverage;
  j["explained"] = c.explained;
  j["absent"] = c.absent;
  j["hidden"] = c.hidden;
  j["wall_mismatch"] = c.wall_mismatch;
  j["scale"] = c.scale;
  j["scan_ms"] = c.scan_ms;
  j["make_ms"] = c.make_ms;
  if (!c.note.empty()) j["note"] = c.note;
  return j;
}

template <class Json>
EvalCase case_from_json(const Json& j) {
  EvalCase c;
  c.id = j.value("id", "");
  c.group = j.value("group", "");
  c.reference = j.value("reference", "");
  c.kind = j.value("kind", "");
  c.name = j.value("name", "");
  c.seed = j.value("seed", uint64_t(0));
  if (j.contains("files") && j["files"].is_array())
    for (const auto& f : j["files"])
      if (f.is_string()) c.files.push_back(f.template get<std::string>());
  c.verdict = j.value("verdict", "");
  c.top_reference = j.value("top_reference", "");
  c.score = j.value("score", 0.0);
  c.coverage = j.value("coverage", 0.0);
  c.explained = j.value("explained", 0.0);
  c.absent = j.value("absent", 0.0);
  c.hidden = j.value("hidden", 0.0);
  c.wall_mismatch = j.value("wall_mismatch", 0.0);
  c.scale = j.value("scale", 0.0);
  c.scan_ms = j.value("scan_ms", 0.0);
  c.make_ms = j.value("make_ms", 0.0);
  c.note = j.value("note", "");
  return c;
}

}  // namespace partscreen::eval
