// SPDX-License-Identifier: GPL-3.0-or-later
// STEP and IGES through OpenCascade: read, tessellate with BRepMesh_IncrementalMesh (linear and
// angular deflection from LoadOptions), then collect each face's Poly_Triangulation with its
// location, reversing triangles of reversed faces so normals point out of solids.
// Units: the XSTEP readers convert lengths to the session unit, "xstep.cascade.unit", which is
// millimetre by default; it is set explicitly here so the result is mm whatever the file says.
// Time: reading, transfer and meshing take a progress range whose UserBreak() fires after
// LoadOptions::max_seconds.
#include <BRepMesh_IncrementalMesh.hxx>
#include <BRep_Tool.hxx>
#include <IFSelect_ReturnStatus.hxx>
#include <IGESControl_Reader.hxx>
#include <IGESData_GlobalSection.hxx>
#include <IGESData_IGESModel.hxx>
#include <Interface_Static.hxx>
#include <Message_ProgressIndicator.hxx>
#include <Message_ProgressRange.hxx>
#include <Poly_Triangulation.hxx>
#include <STEPControl_Reader.hxx>
#include <TColStd_SequenceOfAsciiString.hxx>
#include <TCollection_AsciiString.hxx>
#include <Standard_Failure.hxx>
#include <TopExp_Explorer.hxx>
#include <TopLoc_Location.hxx>
#include <TopoDS.hxx>
#include <TopoDS_Face.hxx>
#include <TopoDS_Shape.hxx>
#include <XSControl_Reader.hxx>

#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <new>
#include <string>

#include "io/readers.h"
#include "partscreen/error.h"

namespace partscreen::detail {
namespace {

class DeadlineIndicator : public Message_ProgressIndicator {
public:
  explicit DeadlineIndicator(double seconds)
      : deadline_(std::chrono::steady_clock::now() +
                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds))) {}
  Standard_Boolean UserBreak() override { return std::chrono::steady_clock::now() >= deadline_; }
  void Show(const Message_ProgressScope&, const Standard_Boolean) override {}
  bool expired() const { return std::chrono::steady_clock::now() >= deadline_; }

private:
  std::chrono::steady_clock::time_point deadline_;
};

// Interface_Static is process-wide state: set the unit once.
void set_session_units() {
  static std::once_flag once;
  std::call_once(once, [] {
    STEPControl_Reader init_step;  // registers the STEP and IGES static parameters
    IGESControl_Reader init_iges;
    Interface_Static::SetCVal("xstep.cascade.unit", "MM");
  });
}

// Reported only (OCCT already converts to mm): the factor the file's own length unit needed.
// IGES readers keep 1.0 here.
double step_unit_scale(STEPControl_Reader& reader) {
  TColStd_SequenceOfAsciiString length, angle, solid;
  reader.FileUnits(length, angle, solid);
  if (length.IsEmpty()) return 1.0;
  TCollection_AsciiString u = length.First();
  u.UpperCase();
  if (u.Search("INCH") > 0) return 25.4;
  if (u.Search("FOOT") > 0 || u.Search("FEET") > 0) return 304.8;
  if (u.Search("MICRO") > 0) return 0.001;
  if (u.Search("MILLI") > 0) return 1.0;
  if (u.Search("CENTI") > 0) return 10.0;
  if (u.Search("KILO") > 0) return 1.0e6;
  if (u.Search("METRE") > 0 || u.Search("METER") > 0) return 1000.0;
  return 1.0;
}

// IGES global section unit flag (IGES 5.3, table 3) to millimetres; reported only.
double iges_unit_scale(int flag) {
  switch (flag) {
    case 1: return 25.4;
    case 4: return 304.8;
    case 5: return 1609344.0;
    case 6: return 1000.0;
    case 7: return 1.0e6;
    case 8: return 0.0254;
    case 9: return 0.001;
    case 10: return 10.0;
    case 11: return 2.54e-5;
    default: return 1.0;
  }
}

}  // namespace

namespace {

RawMesh read_cad_file_occt(const std::string& name, const std::string& path, FileFormat format, const LoadOptions& options) {
  const char* label = format == FileFormat::step ? "STEP" : "IGES";
  auto fail = [&](ErrorCode code, const std::string& why) { throw Error(code, name, std::string(label) + ": " + why); };
  set_session_units();
  Handle(DeadlineIndicator) progress = new DeadlineIndicator(options.max_seconds);
  RawMesh raw;
  try {
    std::unique_ptr<XSControl_Reader> reader;
    if (format == FileFormat::step)
      reader = std::make_unique<STEPControl_Reader>();
    else
      reader = std::make_unique<IGESControl_Reader>();
    IFSelect_ReturnStatus st = reader->ReadFile(path.c_str());
    if (st != IFSelect_RetDone) fail(ErrorCode::malformed, "the file could not be parsed");
    if (reader->NbRootsForTransfer() <= 0) fail(ErrorCode::empty, "no shapes to transfer");
    if (format == FileFormat::step) {
      raw.unit_scale_to_mm = step_unit_scale(static_cast<STEPControl_Reader&>(*reader));
    } else {
      // OCCT 7.6's IGES reader ignores xstep.cascade.unit and scales to the model's CascadeUnit,
      // expressed in metres and left at 1.0 (metres) unless set. 0.001 gives millimetres (checked
      // against the Debian bearing.iges / bearing.stl pair in the tests).
      Handle(IGESData_IGESModel) model = static_cast<IGESControl_Reader&>(*reader).IGESModel();
      if (model.IsNull()) fail(ErrorCode::malformed, "no IGES model");
      IGESData_GlobalSection gs = model->GlobalSection();
      gs.SetCascadeUnit(0.001);
      model->SetGlobalSection(gs);
      raw.unit_scale_to_mm = iges_unit_scale(gs.UnitFlag());
    }
    Message_ProgressScope scope(progress->Start(), "load", 2);
    reader->TransferRoots(scope.Next());
    if (progress->expired()) fail(ErrorCode::limit_exceeded, "conversion exceeded the time limit");
    TopoDS_Shape shape = reader->OneShape();
    if (shape.IsNull()) fail(ErrorCode::empty, "no geometry after transfer");

    IMeshTools_Parameters params;
    params.Deflection = options.cad_deflection_mm;
    params.Angle = options.cad_angular_deflection_rad;
    params.Relative = Standard_False;
    params.InParallel = Standard_False;
    BRepMesh_IncrementalMesh mesher(shape, params, scope.Next());
    if (progress->expired()) fail(ErrorCode::limit_exceeded, "tessellation exceeded the time limit");

    uint64_t total = 0;
    for (TopExp_Explorer ex(shape, TopAbs_FACE); ex.More(); ex.Next()) {
      TopLoc_Location loc;
      Handle(Poly_Triangulation) tri = BRep_Tool::Triangulation(TopoDS::Face(ex.Current()), loc);
      if (!tri.IsNull()) total += uint64_t(tri->NbTriangles());
    }
    if (total > options.max_triangles)
      fail(ErrorCode::limit_exceeded, std::to_string(total) + " triangles at this deflection, over the limit of " +
                                          std::to_string(options.max_triangles));
    Mesh& mesh = raw.mesh;
    mesh.indices.reserve(3 * total);
    for (TopExp_Explorer ex(shape, TopAbs_FACE); ex.More(); ex.Next()) {
      const TopoDS_Face& face = TopoDS::Face(ex.Current());
      TopLoc_Location loc;
      Handle(Poly_Triangulation) tri = BRep_Tool::Triangulation(face, loc);
      if (tri.IsNull()) continue;
      const gp_Trsf trsf = loc.Transformation();
      const bool reversed = face.Orientation() == TopAbs_REVERSED;
      const uint32_t base = uint32_t(mesh.vertex_count());
      const int nn = tri->NbNodes();
      for (int i = 1; i <= nn; ++i) {
        gp_Pnt p = tri->Node(i).Transformed(trsf);
        mesh.positions.push_back(float(p.X()));
        mesh.positions.push_back(float(p.Y()));
        mesh.positions.push_back(float(p.Z()));
      }
      const int nt = tri->NbTriangles();
      for (int i = 1; i <= nt; ++i) {
        int a, b, c;
        tri->Triangle(i).Get(a, b, c);
        if (a < 1 || b < 1 || c < 1 || a > nn || b > nn || c > nn) fail(ErrorCode::malformed, "bad triangulation");
        if (reversed) std::swap(b, c);
        mesh.indices.push_back(base + uint32_t(a - 1));
        mesh.indices.push_back(base + uint32_t(b - 1));
        mesh.indices.push_back(base + uint32_t(c - 1));
      }
    }
  } catch (const Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const Standard_Failure& e) {
    fail(ErrorCode::malformed, std::string("OpenCascade: ") + (e.GetMessageString() ? e.GetMessageString() : "failure"));
  } catch (const std::exception& e) {
    fail(ErrorCode::malformed, e.what());
  }
  return raw;
}

}  // namespace
}  // namespace partscreen::detail

// The module's one entry point (see io/cad_module.h): errors come back as a code and a reason,
// never as an exception across the dlopen boundary.
extern "C" __attribute__((visibility("default"))) int partscreen_cad_read_v1(
    const char* name, const char* path, int format, const partscreen::LoadOptions* options,
    partscreen::detail::RawMesh* out, int* code, char* reason, size_t reason_size) {
  using namespace partscreen;
  auto report = [&](ErrorCode c, const std::string& why) {
    *code = int(c);
    std::snprintf(reason, reason_size, "%s", why.c_str());
    return 1;
  };
  try {
    *out = detail::read_cad_file_occt(name, path, FileFormat(format), *options);
    return 0;
  } catch (const Error& e) {
    return report(e.code(), e.reason());
  } catch (const std::bad_alloc&) {
    return report(ErrorCode::limit_exceeded, "out of memory while tessellating: raise the deflection (--cad-deflection)");
  } catch (const std::exception& e) {
    return report(ErrorCode::malformed, e.what());
  } catch (...) {
    return report(ErrorCode::malformed, "OpenCascade failed");
  }
}
