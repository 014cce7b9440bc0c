# The transformation suite used by the benchmark, the tests and `partscreen eval`.
# CGAL (header-only, plus GMP/MPFR) is confined to cgal_cut.cpp and cgal_ops.cpp.
find_package(CGAL REQUIRED)
list(APPEND PARTSCREEN_CORE_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/variants.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cgal_cut.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cgal_ops.cpp
  ${CMAKE_CURRENT_LIST_DIR}/eval.cpp
  ${CMAKE_CURRENT_LIST_DIR}/eval_report.cpp)
list(APPEND PARTSCREEN_CORE_LIBS CGAL::CGAL)
# eval.cpp writes 3MF round trips with libzip (found by the io stage) and JSON with nlohmann-json
# (found by the report stage); both are already in PARTSCREEN_CORE_LIBS.
