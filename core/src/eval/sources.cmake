# The transformation suite used by the benchmark, the tests and `partscreen eval`.
# CGAL (header-only, plus GMP/MPFR) is confined to cgal_cut.cpp and cgal_ops.cpp.
find_package(CGAL REQUIRED)
list(APPEND PARTSCREEN_CORE_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/variants.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cgal_cut.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cgal_ops.cpp)
list(APPEND PARTSCREEN_CORE_LIBS CGAL::CGAL)
