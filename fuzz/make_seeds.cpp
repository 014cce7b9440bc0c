// SPDX-License-Identifier: GPL-3.0-or-later
// Writes the fuzz seed corpus: the generated test meshes as binary and ASCII STL, plus small
// assimp test models when given on the command line (scripts/fuzz.sh passes them).
#include <cstdio>
#include <string>

#include "stl_fixtures.h"

using namespace partscreen::test;

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const std::string dir = argv[1];
  const auto box = cube(1);
  const auto open_box = std::vector<Tri>(box.begin(), box.begin() + 10);
  const std::vector<std::pair<std::string, std::vector<Tri>>> meshes = {
      {"cube", cube(1)},
      {"two_cubes", concat(cube(2), cube(3, 10))},
      {"open_box", open_box},
      {"torus", torus(8, 4, 10, 2)},
  };
  for (const auto& [name, tris] : meshes) {
    write_all(dir + "/" + name + ".bin.stl", binary_stl(tris));
    write_all(dir + "/" + name + ".solidheader.stl", binary_stl(tris, "solid " + name));
    write_all(dir + "/" + name + ".ascii.stl", ascii_stl(tris, name));
  }
  for (int i = 2; i < argc; ++i) {
    std::string bytes = read_all(argv[i]);
    if (bytes.size() > 300000) continue;
    std::string base = argv[i];
    base = base.substr(base.find_last_of('/') + 1);
    write_all(dir + "/assimp_" + base, bytes);
  }
  return 0;
}
