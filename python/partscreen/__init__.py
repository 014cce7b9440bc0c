# SPDX-License-Identifier: GPL-3.0-or-later
"""partscreen: screen meshes, CAD files and G-code against signature packs of enrolled parts.

    import partscreen
    pack = partscreen.Pack("refs.pack")
    result = partscreen.scan(pack, ["upload.stl"])          # paths, bytes, meshes; one call = one job
    result["verdict"], result["matches"]                     # the CLI's `scan --json` document

Results are plain dicts with the same members, names and rounding as the CLI's JSON (README
"scan --json"). Every partscreen failure raises partscreen.Error with .code (e.g.
"limit_exceeded"), .file and .reason. Long calls release the GIL, so threads scan in parallel.
"""
import json as _json
import os as _os

from . import _partscreen

__all__ = ["Error", "Pack", "LoadedFile", "load_file", "load_bytes", "mesh", "scan", "coverage_from_found", "enroll",
           "variant",
           "read_manifest", "version", "VARIANT_KINDS", "ERROR_CODES", "__version__"]


class Error(Exception):
    """A partscreen failure: which file (may be empty), what kind (.code), and why (.reason)."""

    def __init__(self, code, file, reason):
        super().__init__(f"{file}: {reason}" if file else reason)
        self.code = code
        self.file = file
        self.reason = reason

    def __reduce__(self):  # keep the fields when pickled (Dask moves exceptions between processes)
        return (type(self), (self.code, self.file, self.reason))

    def to_dict(self):
        """The CLI's error object: {"code", "file", "reason"}."""
        return {"code": self.code, "file": self.file, "reason": self.reason}


_partscreen._set_error_type(Error)

Pack = _partscreen.Pack
LoadedFile = _partscreen.LoadedFile
VARIANT_KINDS = tuple(_partscreen.variant_kinds())
ERROR_CODES = tuple(_partscreen.error_codes())
__version__ = _partscreen.version()


def version():
    """The engine's version string (the `partscreen_version` of scan results)."""
    return _partscreen.version()


def _pack(pack):
    return pack if isinstance(pack, Pack) else Pack(_os.fspath(pack))


def load_file(path, **limits):
    """Reads, cleans and splits one mesh/CAD/G-code file. Limits are LoadOptions' names
    (max_file_bytes, max_triangles, max_components, max_coordinate_mm, max_seconds, ...)."""
    return _partscreen.load_file(_os.fspath(path), limits)


def load_bytes(data, name="upload", **limits):
    """Same as load_file for bytes in memory; `name` is used in messages and, for its extension,
    to break format ties (e.g. "part.stl")."""
    return _partscreen.load_bytes(_as_bytes(data), str(name), limits)


def mesh(vertices, triangles, name="mesh", **limits):
    """A LoadedFile from arrays: vertices (N, 3) real, millimetres; triangles (M, 3) integer
    indices into vertices. Validated (shape, dtype, finite coordinates, index range)."""
    return _partscreen.from_arrays(vertices, triangles, str(name), limits)


def _as_bytes(data):
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)  # a private copy: the scan runs without the GIL
    raise Error("invalid_argument", "", f"expected bytes, got {type(data).__name__}")


def _job_item(i, item):
    if isinstance(item, LoadedFile):
        return item
    if isinstance(item, (str, _os.PathLike)):
        return _os.fspath(item)
    if isinstance(item, (bytes, bytearray, memoryview)):
        return (f"<bytes {i}>", _as_bytes(item))
    if isinstance(item, tuple) and len(item) == 2:
        a, b = item
        if isinstance(a, str) and isinstance(b, (bytes, bytearray, memoryview)):
            return (a, _as_bytes(b))  # (name, bytes)
        return mesh(a, b, name=f"<mesh {i}>")  # (vertices, triangles)
    raise Error("invalid_argument", "", f"job item {i}: expected a path, bytes, (name, bytes), "
                                        f"(vertices, triangles) or a LoadedFile, got {type(item).__name__}")


def scan(pack, files, *, found=False, **options):
    """Screens `files` as one job against `pack` (a Pack or a pack path) and returns the CLI's
    `scan --json` document as a dict.

    files: a path, or a list whose items are paths, bytes, (name, bytes), (vertices, triangles)
    arrays, or LoadedFile objects. A file that cannot be read is reported in result["files"]
    and makes the verdict "error" (never "clear"), as in the CLI.
    options: ScanOptions' and LoadOptions' names, e.g. flag_score=0.7, review_score=0.45,
    threads=0 (all cores), max_triangles=...
    found=True adds to each match "found" (uint8 array, 1 per reference keypoint the job
    explains: OR the masks of several jobs and pass them to coverage_from_found) and
    "found_points" ((K, 3) float32, those keypoints on the upload, for highlighting). These are
    numpy arrays, not in the CLI's JSON: drop them before json.dumps.
    """
    if isinstance(files, (str, _os.PathLike, bytes, bytearray, memoryview, LoadedFile)):
        files = [files]
    items = [_job_item(i, f) for i, f in enumerate(files)]
    text, extra = _partscreen.scan_json(_pack(pack), items, options, bool(found))
    result = _json.loads(text)
    if extra is not None:
        for match, (mask, points) in zip(result["matches"], extra):
            match["found"] = mask
            match["found_points"] = points
    return result


def coverage_from_found(pack, reference, found):
    """{"coverage", "score"} of `reference` from a found mask (a match's "found", or the union of
    several jobs' masks, e.g. np.maximum(a, b)): pieces of one part uploaded over time add up.
    The score is weighted as the verdict's is, before the look-alike penalty."""
    return _partscreen.coverage_from_found(_pack(pack), str(reference), found)


def _reference(i, ref):
    if isinstance(ref, (str, _os.PathLike)):
        return {"path": _os.fspath(ref)}
    if isinstance(ref, dict):
        ref = dict(ref)
        if "path" in ref:
            ref["path"] = _os.fspath(ref["path"])
        m = ref.get("mesh")
        if isinstance(m, tuple):
            ref["mesh"] = mesh(*m, name=ref.get("id") or f"<reference {i}>")
        return ref
    raise Error("invalid_argument", "", f"reference {i}: expected a path or a dict, got {type(ref).__name__}")


def enroll(references, out, *, manifest=None, root=None, **options):
    """Enrolls reference parts into a new pack written atomically to `out`; returns
    {"pack", "bytes", "total_ms", "references": [...]}.

    references: paths, or dicts {"path" | "mesh", "id", "category", "label"} where "mesh" is a
    LoadedFile or (vertices, triangles). Files and meshes cannot be mixed in one call.
    manifest: a CSV (path,id,category,label) as for `partscreen enroll --manifest`.
    options: pack_name, threads, and LoadOptions' limits.
    """
    refs = [] if manifest is None else read_manifest(manifest, root)
    refs += [_reference(i, r) for i, r in enumerate(references or [])]
    return _partscreen.enroll(refs, _os.fspath(out), options)


def read_manifest(csv_path, root=None):
    """The references of a manifest CSV, as dicts {"path", "id", "category", "label"}."""
    return _partscreen.read_manifest(_os.fspath(csv_path), None if root is None else _os.fspath(root))


def variant(part, kind, seed=0):
    """One disguise of `part` (LoadedFile, path or (vertices, triangles)), as the engine is
    tested against: {"kind", "name", "files": [(vertices, triangles), ...], "expected_scale",
    "expected_mirrored"}. kind: one of VARIANT_KINDS."""
    if isinstance(part, (str, _os.PathLike)):
        part = load_file(part)
    elif isinstance(part, tuple):
        part = mesh(*part)
    return _partscreen.variant(part, str(kind), int(seed))
