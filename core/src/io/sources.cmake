# Sources of the io stage (explicit list).
find_package(assimp REQUIRED)
# Debian's libzip CMake config insists on the zip-tools binaries: use its pkg-config file.
find_package(PkgConfig REQUIRED)
pkg_check_modules(PARTSCREEN_LIBZIP REQUIRED IMPORTED_TARGET GLOBAL libzip)
find_package(pugixml REQUIRED)

list(APPEND PARTSCREEN_CORE_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/load.cpp
  ${CMAKE_CURRENT_LIST_DIR}/threemf.cpp
  ${CMAKE_CURRENT_LIST_DIR}/obj.cpp
  ${CMAKE_CURRENT_LIST_DIR}/assimp_mesh.cpp
  ${CMAKE_CURRENT_LIST_DIR}/gcode_hook.cpp)
list(APPEND PARTSCREEN_CORE_LIBS assimp::assimp PkgConfig::PARTSCREEN_LIBZIP pugixml::pugixml)

list(APPEND PARTSCREEN_CORE_SOURCES ${CMAKE_CURRENT_LIST_DIR}/stl.cpp)

if(PARTSCREEN_WITH_OCCT)
  find_package(OpenCASCADE REQUIRED CONFIG)
  # OCCT's imported targets carry no include directories: wrap the ones io needs.
  if(NOT TARGET partscreen_occt)
    add_library(partscreen_occt INTERFACE)
    target_include_directories(partscreen_occt SYSTEM INTERFACE ${OpenCASCADE_INCLUDE_DIR})
    target_link_libraries(partscreen_occt INTERFACE
      TKSTEP TKSTEPBase TKIGES TKXSBase TKMesh TKBRep TKTopAlgo TKGeomBase TKG3d TKG2d TKMath TKernel TKShHealing)
  endif()
  # STEP/IGES reader as a module loaded on first use (see cad_module.cpp): OpenCascade stays out
  # of every process that never reads a CAD file.
  add_library(partscreen_cad MODULE ${CMAKE_CURRENT_LIST_DIR}/occt_mesh.cpp ${CMAKE_CURRENT_LIST_DIR}/../report/error.cpp)
  target_include_directories(partscreen_cad PRIVATE ${CMAKE_CURRENT_LIST_DIR}/.. ${CMAKE_CURRENT_LIST_DIR}/../../include)
  target_link_libraries(partscreen_cad PRIVATE partscreen_occt partscreen_warnings)
  install(TARGETS partscreen_cad LIBRARY DESTINATION lib/partscreen)
  list(APPEND PARTSCREEN_CORE_SOURCES ${CMAKE_CURRENT_LIST_DIR}/cad_module.cpp)
  list(APPEND PARTSCREEN_CORE_LIBS ${CMAKE_DL_LIBS})
else()
  list(APPEND PARTSCREEN_CORE_SOURCES ${CMAKE_CURRENT_LIST_DIR}/occt_disabled.cpp)
endif()
