# Sources of the pack stage (explicit list).
list(APPEND PARTSCREEN_CORE_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/pack.cpp
  ${CMAKE_CURRENT_LIST_DIR}/enroll.cpp
  ${CMAKE_CURRENT_LIST_DIR}/trust.cpp)
find_package(PkgConfig REQUIRED)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
list(APPEND PARTSCREEN_CORE_LIBS PkgConfig::SODIUM)
