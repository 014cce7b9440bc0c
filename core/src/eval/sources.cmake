# The transformation suite used by the benchmark, the tests and `partscreen eval`.
list(APPEND PARTSCREEN_CORE_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/variants.cpp)
