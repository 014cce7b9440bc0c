# Sources of the io stage (explicit list).

# TEMPORARY (cli branch): an Assimp-based load_file so the CLI builds before the real readers.
# Remove this block and load_fallback.cpp when the io stage is merged.
option(PARTSCREEN_LOAD_FALLBACK "Temporary Assimp-based load_file stand-in" ON)
if(PARTSCREEN_LOAD_FALLBACK)
  find_package(assimp REQUIRED)
  list(APPEND PARTSCREEN_CORE_SOURCES ${CMAKE_CURRENT_LIST_DIR}/load_fallback.cpp)
  list(APPEND PARTSCREEN_CORE_LIBS assimp::assimp)
endif()
