g15
gg1y5
g2j.1ggg2ö˜Í
g2j2j1244
Ggg2
X
2mI.1G
ggg21y5g2j.1G

n2hö˜2ö˜Í
g2j2j1244
Ggg2
X
2mI.1G
ggg21y5gn2hö˜2ö˜È
g2jGCDE2j1244
Ggg2
X
2mI.1G
ggg21y5g2j.
n21G

n2hö2j1488
Ggg2
X
2y5
g2jI.1G
gggg21y5
g2j.1G

nD2