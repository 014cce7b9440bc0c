# Sources of the report stage (explicit list).
list(APPEND PARTSCREEN_CORE_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/error.cpp
  ${CMAKE_CURRENT_LIST_DIR}/version.cpp)

# loaded_file_json / error_json (nlohmann-json is header-only and private to the .cpp).
find_package(nlohmann_json 3 REQUIRED)
list(APPEND PARTSCREEN_CORE_SOURCES ${CMAKE_CURRENT_LIST_DIR}/json.cpp ${CMAKE_CURRENT_LIST_DIR}/scan_json.cpp)
list(APPEND PARTSCREEN_CORE_LIBS nlohmann_json::nlohmann_json)

# mesh_thumbnail_png: PNG's deflate and CRC from zlib.
find_package(ZLIB REQUIRED)
list(APPEND PARTSCREEN_CORE_SOURCES ${CMAKE_CURRENT_LIST_DIR}/thumbnail.cpp)
list(APPEND PARTSCREEN_CORE_LIBS ZLIB::ZLIB)
