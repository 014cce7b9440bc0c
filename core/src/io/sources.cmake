# Sources of the io stage (explicit list).
list(APPEND PARTSCREEN_CORE_SOURCES ${CMAKE_CURRENT_LIST_DIR}/dev_load.cpp)
find_package(assimp REQUIRED)
list(APPEND PARTSCREEN_CORE_LIBS assimp::assimp)
