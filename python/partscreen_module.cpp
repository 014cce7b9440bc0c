// SPDX-License-Identifier: GPL-3.0-or-later
// `partscreen._partscreen`: the Python binding, a thin shell over the public API
// (core/include/partscreen). Results cross into Python as the same JSON documents the CLI prints
// (partscreen/report.h), parsed by the pure-Python package, so there is one source of truth for
// field names and rounding. Long calls (load, scan, enroll) drop the GIL: every input is copied
// into C++ objects first, so other Python threads may run and scan concurrently.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "partscreen/partscreen.h"
#include "partscreen/variants.h"

namespace py = pybind11;
using namespace partscreen;

namespace {

// The Python exception class (partscreen.Error), defined by the package in Python so that it
// pickles with its fields (Dask carries it between processes) and handed over at import.
PyObject* g_error_type = nullptr;

void raise_partscreen_error(const Error& e) {
  if (!g_error_type) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
    return;
  }
  py::object type = py::reinterpret_borrow<py::object>(g_error_type);
  py::object exc = type(py::str(error_code_name(e.code())), py::str(e.file()), py::str(e.reason()));
  PyErr_SetObject(g_error_type, exc.ptr());
}

// Keyword options shared by every call. Unknown names are a caller mistake, reported rather
// than ignored (a misspelt limit silently left at its default is how a cap gets bypassed).
struct OptionReader {
  py::dict opts;
  std::vector<std::string> used;

  bool take(const char* name, py::object& out) {
    used.emplace_back(name);
    if (!opts.contains(name)) return false;
    out = opts[name];
    return !out.is_none();
  }
  void number(const char* name, double& v, double lo, double hi) {
    py::object o;
    if (!take(name, o)) return;
    double x = o.cast<double>();
    if (!(x >= lo && x <= hi))
      throw Error(ErrorCode::invalid_argument, "", std::string(name) + " must be within [" + std::to_string(lo) + ", " +
                                                       std::to_string(hi) + "], got " + std::to_string(x));
    v = x;
  }
  template <class T>
  void count(const char* name, T& v, uint64_t lo = 0) {
    py::object o;
    if (!take(name, o)) return;
    if (!py::isinstance<py::int_>(o) || py::isinstance<py::bool_>(o))
      throw Error(ErrorCode::invalid_argument, "", std::string(name) + " must be an integer");
    long long x = o.cast<long long>();
    if (x < 0 || uint64_t(x) < lo || uint64_t(x) > uint64_t(std::numeric_limits<T>::max()))
      throw Error(ErrorCode::invalid_argument, "", std::string(name) + " is out of range: " + std::to_string(x));
    v = T(x);
  }
  void flag(const char* name, bool& v) {
    py::object o;
    if (take(name, o)) v = o.cast<bool>();
  }
  void text(const char* name, std::string& v) {
    py::object o;
    if (take(name, o)) v = o.cast<std::string>();
  }
  void check_all_used() const {
    for (auto item : opts) {
      std::string key = py::str(item.first);
      if (std::find(used.begin(), used.end(), key) == used.end())
        throw Error(ErrorCode::invalid_argument, "", "unknown option '" + key + "'");
    }
  }
};

void read_load_options(OptionReader& r, LoadOptions& o) {
  r.count("max_file_bytes", o.max_file_bytes, 1);
  r.count("max_triangles", o.max_triangles, 1);
  r.count("max_components", o.max_components, 1);
  r.number("max_coordinate_mm", o.max_coordinate_mm, 1e-6, 1e12);
  r.count("max_unzipped_bytes", o.max_unzipped_bytes, 1);
  r.number("max_zip_ratio", o.max_zip_ratio, 1.0, 1e9);
  r.number("cad_deflection_mm", o.cad_deflection_mm, 1e-6, 1e6);
  r.number("cad_angular_deflection_rad", o.cad_angular_deflection_rad, 1e-6, 3.2);
  r.number("max_seconds", o.max_seconds, 1e-3, 1e9);
}

LoadOptions load_options(const py::dict& opts) {
  OptionReader r{opts, {}};
  LoadOptions o;
  read_load_options(r, o);
  r.check_all_used();
  return o;
}

ScanOptions scan_options(const py::dict& opts) {
  OptionReader r{opts, {}};
  ScanOptions o;
  read_load_options(r, o.load);
  r.number("flag_score", o.flag_score, 0.0, 1.0);
  r.number("review_score", o.review_score, 0.0, 1.0);
  if (o.review_score > o.flag_score)
    throw Error(ErrorCode::invalid_argument, "", "review_score must not exceed flag_score");
  r.count("threads", o.threads);
  r.count("max_candidates", o.max_candidates, 1);
  r.number("min_vote", o.min_vote, 0.0, 1.0);
  r.number("min_piece_coverage", o.min_piece_coverage, 0.0, 1.0);
  r.number("report_score", o.report_score, 0.0, 1.0);
  r.number("coverage_tolerance", o.coverage_tolerance, 1e-6, 1.0);
  r.number("normal_agreement", o.normal_agreement, -1.0, 1.0);
  r.flag("use_index", o.use_index);
  r.number("min_part_area_share", o.min_part_area_share, 0.0, 1.0);
  r.count("max_parts", o.max_parts, 1);
  r.count("max_job_points", o.max_job_points, 1);
  r.check_all_used();
  return o;
}

EnrollOptions enroll_options(const py::dict& opts) {
  OptionReader r{opts, {}};
  EnrollOptions o;
  read_load_options(r, o.load);
  r.text("pack_name", o.pack_name);
  r.count("threads", o.threads);
  r.check_all_used();
  return o;
}

// Numpy arrays -> Mesh, validated with errors that name the array and the problem. The coordinate
// cap and the triangle cap are LoadOptions', as for files.
Mesh mesh_from_arrays(const py::object& vertices_obj, const py::object& triangles_obj, const std::string& name,
                      const LoadOptions& limits) {
  auto bad = [&](ErrorCode code, const std::string& why) { return Error(code, name, why); };
  py::array vertices = py::array::ensure(vertices_obj);
  py::array triangles = py::array::ensure(triangles_obj);
  if (!vertices) throw bad(ErrorCode::invalid_argument, "vertices must be an array-like of shape (N, 3)");
  if (!triangles) throw bad(ErrorCode::invalid_argument, "triangles must be an array-like of shape (M, 3)");
  const char vk = vertices.dtype().kind(), tk = triangles.dtype().kind();
  if (vk != 'f' && vk != 'i' && vk != 'u')
    throw bad(ErrorCode::invalid_argument, std::string("vertices must hold real numbers, got dtype kind '") + vk + "'");
  if (tk != 'i' && tk != 'u')
    throw bad(ErrorCode::invalid_argument, std::string("triangles must hold integers, got dtype kind '") + tk + "'");
  if (vertices.ndim() != 2 || vertices.shape(1) != 3)
    throw bad(ErrorCode::invalid_argument, "vertices must have shape (N, 3)");
  if (triangles.ndim() != 2 || triangles.shape(1) != 3)
    throw bad(ErrorCode::invalid_argument, "triangles must have shape (M, 3)");
  const size_t nv = size_t(vertices.shape(0)), nt = size_t(triangles.shape(0));
  if (nv == 0 || nt == 0) throw bad(ErrorCode::empty, "no vertices or no triangles");
  if (nt > limits.max_triangles)
    throw bad(ErrorCode::limit_exceeded, std::to_string(nt) + " triangles, over the limit of " + std::to_string(limits.max_triangles));
  if (nv > 3 * nt + 1'000'000)
    throw bad(ErrorCode::limit_exceeded, std::to_string(nv) + " vertices for " + std::to_string(nt) + " triangles");
  // Converted in double / int64 so that no value is silently wrapped before it is checked.
  auto v = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(vertices);
  auto t = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(triangles);
  if (!v || !t) throw bad(ErrorCode::invalid_argument, "cannot convert the arrays");
  if (tk == 'u' && triangles.itemsize() == 8) {
    // uint64 beyond int64 would wrap to a negative index; a negative index is reported below.
  }
  Mesh mesh;
  mesh.positions.resize(nv * 3);
  mesh.indices.resize(nt * 3);
  const double* pv = v.data();
  for (size_t i = 0; i < nv * 3; ++i) {
    const double c = pv[i];
    if (!std::isfinite(c))
      throw bad(ErrorCode::invalid_coordinates, "vertex " + std::to_string(i / 3) + " has a coordinate that is not finite");
    if (std::fabs(c) > limits.max_coordinate_mm)
      throw bad(ErrorCode::invalid_coordinates, "vertex " + std::to_string(i / 3) + " is beyond the coordinate limit of " +
                                                    std::to_string(limits.max_coordinate_mm) + " mm");
    mesh.positions[i] = float(c);
  }
  const int64_t* pt = t.data();
  for (size_t i = 0; i < nt * 3; ++i) {
    const int64_t k = pt[i];
    if (k < 0 || uint64_t(k) >= nv)
      throw bad(ErrorCode::invalid_argument, "triangle " + std::to_string(i / 3) + " refers to vertex " + std::to_string(k) +
                                                 ", outside 0.." + std::to_string(nv - 1));
    mesh.indices[i] = uint32_t(k);
  }
  return mesh;
}

LoadedFile loaded_from_arrays(Mesh mesh, const std::string& name) {
  LoadedFile f = loaded_from_mesh(std::move(mesh), name);
  if (f.components.empty()) throw Error(ErrorCode::empty, name, "no triangles left after removing degenerate ones");
  return f;
}

// A LoadedFile held by Python: immutable once made, shared between jobs.
struct PyLoaded {
  std::shared_ptr<const LoadedFile> file;
};

py::array_t<float> vertices_of(const Mesh& m) {
  py::array_t<float> a({py::ssize_t(m.vertex_count()), py::ssize_t(3)});
  std::copy(m.positions.begin(), m.positions.end(), a.mutable_data());
  return a;
}
py::array_t<uint32_t> triangles_of(const Mesh& m) {
  py::array_t<uint32_t> a({py::ssize_t(m.triangle_count()), py::ssize_t(3)});
  std::copy(m.indices.begin(), m.indices.end(), a.mutable_data());
  return a;
}

// One file of a job: a path, named bytes, or an already loaded file.
struct JobItem {
  std::string path;                       // path or the bytes' name
  py::bytes data;                          // held for the call; bytes are immutable
  const char* bytes = nullptr;
  size_t size = 0;
  std::shared_ptr<const LoadedFile> loaded;
  enum { kPath, kBytes, kLoaded } kind = kPath;
};

std::vector<JobItem> job_items(const py::list& items) {
  std::vector<JobItem> out;
  for (py::handle h : items) {
    JobItem j;
    if (py::isinstance<PyLoaded>(h)) {
      j.kind = JobItem::kLoaded;
      j.loaded = h.cast<const PyLoaded&>().file;
      j.path = j.loaded->path;
    } else if (py::isinstance<py::str>(h)) {
      j.kind = JobItem::kPath;
      j.path = h.cast<std::string>();
    } else if (py::isinstance<py::tuple>(h) && py::len(h) == 2 && py::isinstance<py::str>(h[py::int_(0)]) &&
               py::isinstance<py::bytes>(h[py::int_(1)])) {
      j.kind = JobItem::kBytes;
      j.path = h[py::int_(0)].cast<std::string>();
      j.data = h[py::int_(1)].cast<py::bytes>();
      char* p = nullptr;
      py::ssize_t n = 0;
      PyBytes_AsStringAndSize(j.data.ptr(), &p, &n);
      j.bytes = p;
      j.size = size_t(n);
    } else {
      throw Error(ErrorCode::invalid_argument, "",
                  "a job item must be a path, (name, bytes) or a LoadedFile, got " + std::string(py::str(py::type::of(h))));
    }
    out.push_back(std::move(j));
  }
  if (out.empty()) throw Error(ErrorCode::invalid_argument, "", "a job needs at least one file");
  return out;
}

// Same semantics as scan_files() for a job mixing paths, bytes and loaded files: an unreadable
// file is reported in `files` with its reason and keeps the job from being cleared.
ScanResult scan_items(const std::vector<JobItem>& items, const Pack& pack, const ScanOptions& options) {
  bool all_paths = true;
  for (const JobItem& j : items) all_paths = all_paths && j.kind == JobItem::kPath;
  if (all_paths) {
    std::vector<std::string> paths;
    for (const JobItem& j : items) paths.push_back(j.path);
    return scan_files(paths, pack, options);  // the CLI's own path
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<LoadedFile> loaded;
  std::vector<FileReport> failed;
  for (const JobItem& j : items) {
    try {
      if (j.kind == JobItem::kPath) loaded.push_back(load_file(j.path, options.load));
      else if (j.kind == JobItem::kBytes) loaded.push_back(load_bytes(j.path, j.bytes, j.size, options.load));
      else loaded.push_back(*j.loaded);
    } catch (const Error& e) {
      FileReport r;
      r.path = j.path;
      r.ok = false;
      r.error_code = error_code_name(e.code());
      r.error = e.reason();
      failed.push_back(std::move(r));
    }
  }
  ScanResult result;
  if (!loaded.empty()) {
    result = scan_loaded(loaded, pack, options);
  } else {
    result.pack_name = pack.name();
    result.pack_checksum = pack.checksum_hex();
    result.flag_score = options.flag_score;
    result.review_score = options.review_score;
  }
  for (auto& r : failed) result.files.push_back(std::move(r));
  if (!failed.empty() && result.verdict == Verdict::clear) result.verdict = Verdict::error;
  result.timings.total_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

py::dict reference_dict(const ReferenceInfo& r) {
  py::dict d;
  d["id"] = r.id;
  d["category"] = r.category;
  d["label"] = r.label;
  d["area_mm2"] = r.area_mm2;
  d["size_mm"] = r.size_mm;
  d["keypoints"] = r.keypoint_count;
  d["components"] = r.component_count;
  return d;
}

py::dict enroll_report_dict(const EnrollReport& rep, const std::string& out) {
  py::dict d;
  d["pack"] = out;
  d["bytes"] = rep.pack_bytes;
  d["total_ms"] = rep.total_ms;
  py::list refs;
  for (const ReferenceInfo& r : rep.references) refs.append(reference_dict(r));
  d["references"] = refs;
  return d;
}

VariantKind variant_kind(const std::string& name) {
  for (VariantKind k : all_variant_kinds())
    if (name == variant_name(k)) return k;
  std::string known;
  for (VariantKind k : all_variant_kinds()) known += std::string(known.empty() ? "" : ", ") + variant_name(k);
  throw Error(ErrorCode::invalid_argument, "", "unknown variant kind '" + name + "' (known: " + known + ")");
}

}  // namespace

PYBIND11_MODULE(_partscreen, m) {
  m.doc() = "partscreen's native binding (use the `partscreen` package)";

  m.def("_set_error_type", [](py::object type) {
    Py_XDECREF(g_error_type);
    g_error_type = type.release().ptr();  // kept for the life of the process
  });
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      raise_partscreen_error(e);
    }
  });

  m.def("version", [] { return std::string(version_string()); });
  m.def("error_codes", [] {
    std::vector<std::string> codes;
    for (ErrorCode c : {ErrorCode::io, ErrorCode::empty, ErrorCode::unsupported_format, ErrorCode::malformed,
                        ErrorCode::limit_exceeded, ErrorCode::invalid_coordinates, ErrorCode::invalid_pack,
                        ErrorCode::invalid_argument, ErrorCode::internal})
      codes.emplace_back(error_code_name(c));
    return codes;
  });
  m.def("variant_kinds", [] {
    std::vector<std::string> kinds;
    for (VariantKind k : all_variant_kinds()) kinds.emplace_back(variant_name(k));
    return kinds;
  });

  py::class_<Pack>(m, "Pack")
      .def(py::init([](const std::string& path) {
             py::gil_scoped_release release;
             return Pack::open(path);
           }),
           py::arg("path"))
      .def_property_readonly("path", &Pack::path)
      .def_property_readonly("name", &Pack::name)
      .def_property_readonly("format_version", &Pack::format_version)
      .def_property_readonly("checksum", &Pack::checksum_hex)
      .def_property_readonly("content_hash", &Pack::content_hex)
      .def_property_readonly("file_bytes", &Pack::file_bytes)
      .def_property_readonly("references",
                             [](const Pack& p) {
                               py::list l;
                               for (size_t i = 0; i < p.reference_count(); ++i) l.append(reference_dict(p.reference(i)));
                               return l;
                             })
      .def("__len__", &Pack::reference_count)
      .def("__repr__", [](const Pack& p) {
        return "<partscreen.Pack '" + p.name() + "' " + std::to_string(p.reference_count()) + " references, " + p.path() + ">";
      });

  py::class_<PyLoaded>(m, "LoadedFile")
      .def_property_readonly("path", [](const PyLoaded& f) { return f.file->path; })
      .def_property_readonly("format", [](const PyLoaded& f) { return std::string(format_name(f.file->format)); })
      .def_property_readonly("bytes", [](const PyLoaded& f) { return f.file->file_bytes; })
      .def_property_readonly("triangle_count", [](const PyLoaded& f) { return f.file->mesh.triangle_count(); })
      .def_property_readonly("vertex_count", [](const PyLoaded& f) { return f.file->mesh.vertex_count(); })
      .def_property_readonly("component_count", [](const PyLoaded& f) { return f.file->components.size(); })
      .def_property_readonly("load_ms", [](const PyLoaded& f) { return f.file->load_ms; })
      .def_property_readonly("unit_scale_to_mm", [](const PyLoaded& f) { return f.file->unit_scale_to_mm; })
      .def_property_readonly("vertices", [](const PyLoaded& f) { return vertices_of(f.file->mesh); },
                             "float32 (N, 3) copy, millimetres")
      .def_property_readonly("triangles", [](const PyLoaded& f) { return triangles_of(f.file->mesh); },
                             "uint32 (M, 3) copy, grouped by component")
      .def("info_json", [](const PyLoaded& f) { return loaded_file_json(*f.file); })
      .def("__repr__", [](const PyLoaded& f) {
        return "<partscreen.LoadedFile '" + f.file->path + "' " + format_name(f.file->format) + ", " +
               std::to_string(f.file->mesh.triangle_count()) + " triangles, " + std::to_string(f.file->components.size()) +
               " components>";
      });

  m.def(
      "load_file",
      [](const std::string& path, const py::dict& opts) {
        LoadOptions o = load_options(opts);
        py::gil_scoped_release release;
        return PyLoaded{std::make_shared<const LoadedFile>(load_file(path, o))};
      },
      py::arg("path"), py::arg("options"));
  m.def(
      "load_bytes",
      [](const py::bytes& data, const std::string& name, const py::dict& opts) {
        LoadOptions o = load_options(opts);
        char* p = nullptr;
        py::ssize_t n = 0;
        PyBytes_AsStringAndSize(data.ptr(), &p, &n);
        py::gil_scoped_release release;  // `data` is immutable and referenced by the caller's frame
        return PyLoaded{std::make_shared<const LoadedFile>(load_bytes(name, p, size_t(n), o))};
      },
      py::arg("data"), py::arg("name"), py::arg("options"));
  m.def(
      "from_arrays",
      [](const py::object& vertices, const py::object& triangles, const std::string& name, const py::dict& opts) {
        LoadOptions o = load_options(opts);
        Mesh mesh = mesh_from_arrays(vertices, triangles, name, o);
        py::gil_scoped_release release;
        return PyLoaded{std::make_shared<const LoadedFile>(loaded_from_arrays(std::move(mesh), name))};
      },
      py::arg("vertices"), py::arg("triangles"), py::arg("name"), py::arg("options"));

  m.def(
      "scan_json",
      [](const Pack& pack, const py::list& items, const py::dict& opts, bool with_found) {
        ScanOptions o = scan_options(opts);
        std::vector<JobItem> job = job_items(items);
        ScanResult result;
        std::string json;
        {
          py::gil_scoped_release release;
          result = scan_items(job, pack, o);
          json = scan_result_json(result);
        }
        if (!with_found) return py::make_tuple(json, py::none());
        // Per match, in the JSON's order: which reference keypoints were found (for unions across
        // jobs, see coverage_from_found) and where they lie on the upload (for highlighting).
        py::list found;
        for (const Match& mt : result.matches) {
          py::array_t<uint8_t> mask(py::ssize_t(mt.found.size()));
          std::copy(mt.found.begin(), mt.found.end(), mask.mutable_data());
          py::array_t<float> points({py::ssize_t(mt.found_points.size()), py::ssize_t(3)});
          for (size_t i = 0; i < mt.found_points.size(); ++i)
            for (int d = 0; d < 3; ++d) points.mutable_data()[3 * i + d] = mt.found_points[i][d];
          found.append(py::make_tuple(mask, points));
        }
        return py::make_tuple(json, found);
      },
      py::arg("pack"), py::arg("items"), py::arg("options"), py::arg("with_found"));

  m.def(
      "coverage_from_found",
      [](const Pack& pack, const std::string& reference, const py::object& found_obj) {
        auto found = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>::ensure(found_obj);
        if (!found || found.ndim() != 1)
          throw Error(ErrorCode::invalid_argument, reference, "found must be a 1-D array of 0/1 per reference keypoint");
        std::vector<uint8_t> mask(found.data(), found.data() + found.size());
        ReferenceCoverage c = coverage_from_found(pack, reference, mask);
        py::dict d;
        d["coverage"] = c.coverage;
        d["score"] = c.score;
        return d;
      },
      py::arg("pack"), py::arg("reference"), py::arg("found"));

  m.def(
      "enroll",
      [](const py::list& refs, const std::string& out, const py::dict& opts) {
        EnrollOptions o = enroll_options(opts);
        std::vector<ReferenceInput> files;
        std::vector<ReferenceMesh> meshes;
        for (py::handle h : refs) {
          py::dict d = h.cast<py::dict>();
          ReferenceInput in;
          if (d.contains("id") && !d["id"].is_none()) in.id = d["id"].cast<std::string>();
          if (d.contains("category") && !d["category"].is_none()) in.category = d["category"].cast<std::string>();
          if (d.contains("label") && !d["label"].is_none()) in.label = d["label"].cast<std::string>();
          if (d.contains("mesh")) {
            const PyLoaded& f = d["mesh"].cast<const PyLoaded&>();
            in.path = f.file->path;
            if (in.id.empty()) throw Error(ErrorCode::invalid_argument, in.path, "a reference mesh needs an id");
            meshes.push_back(ReferenceMesh{in, f.file->mesh});
          } else {
            in.path = d["path"].cast<std::string>();
            files.push_back(in);
          }
        }
        if (files.empty() && meshes.empty()) throw Error(ErrorCode::invalid_argument, out, "no references to enroll");
        if (!files.empty() && !meshes.empty())
          throw Error(ErrorCode::invalid_argument, out, "give either files or meshes in one enrolment, not both");
        EnrollReport rep;
        {
          py::gil_scoped_release release;
          rep = files.empty() ? enroll_meshes(meshes, out, o) : enroll(files, out, o);
        }
        return enroll_report_dict(rep, out);
      },
      py::arg("references"), py::arg("out"), py::arg("options"));

  m.def("read_manifest", [](const std::string& csv, const py::object& base_dir) {
    std::vector<ReferenceInput> refs =
        base_dir.is_none() ? read_manifest(csv) : read_manifest(csv, base_dir.cast<std::string>());
    py::list l;
    for (const ReferenceInput& r : refs) {
      py::dict d;
      d["path"] = r.path;
      d["id"] = r.id;
      d["category"] = r.category;
      d["label"] = r.label;
      l.append(d);
    }
    return l;
  });

  m.def(
      "variant",
      [](const PyLoaded& part, const std::string& kind, uint64_t seed) {
        VariantKind k = variant_kind(kind);
        Variant v;
        {
          py::gil_scoped_release release;
          v = make_variant(part.file->mesh, k, seed);
        }
        py::dict d;
        d["kind"] = std::string(variant_name(v.kind));
        d["name"] = v.name;
        d["expected_scale"] = v.expected_scale;
        d["expected_mirrored"] = v.expected_mirrored;
        py::list files;
        for (const Mesh& mesh : v.files) files.append(py::make_tuple(vertices_of(mesh), triangles_of(mesh)));
        d["files"] = files;
        return d;
      },
      py::arg("part"), py::arg("kind"), py::arg("seed"));
}
