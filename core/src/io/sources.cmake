# Sources of the io stage (explicit list).
list(APPEND PARTSCREEN_CORE_SOURCES ${CMAKE_CURRENT_LIST_DIR}/stl.cpp)
