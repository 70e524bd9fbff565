# shellcheck shell=bash
# Lab part: network "branch", a second address space that reuses the default network's
# addresses, so the store has to keep the same address in two networks apart. Sourced by
# Scripts/lab.sh.
#
#   cg-bscan (198.18.1.1, fd7c:a7:1::1) --veth-- cg-b1 (198.18.1.2, fd7c:a7:1::2): redis :6380
#
# cg-b1 has cg-h1's addresses but other services (cg-h1: sshd :22, nginx :80). Maps of the
# branch network run inside cg-bscan, its own scanner; nothing links it to the default network.
add_network cg-bscan cg-b1 1
PROBE_FROM=cg-bscan
start_redis cg-b1 1 6380
PROBE_FROM=""
