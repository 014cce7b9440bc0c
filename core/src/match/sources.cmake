# Sources of the match stage (explicit list).
list(APPEND PARTSCREEN_CORE_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/align.cpp
  ${CMAKE_CURRENT_LIST_DIR}/scan.cpp)
