# Sources of the geometry stage (explicit list).
list(APPEND PARTSCREEN_CORE_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/clean.cpp
  ${CMAKE_CURRENT_LIST_DIR}/copies.cpp
  ${CMAKE_CURRENT_LIST_DIR}/components.cpp
  ${CMAKE_CURRENT_LIST_DIR}/enclosed.cpp
  ${CMAKE_CURRENT_LIST_DIR}/reassemble.cpp)
