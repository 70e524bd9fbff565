# shellcheck shell=bash
# Lab part: network "depot", a third address space with a scanner of its own, for the fleet's
# lab tests (one agent per network: default in cg-scan, branch in cg-bscan, depot here).
# Sourced by Scripts/lab.sh.
#
#   cg-dscan (198.18.20.1, fd7c:a7:20::1) --veth-- cg-d1 (198.18.20.2, fd7c:a7:20::2): redis :6381
#
# Nothing links it to the default network or the branch: a map of 198.18.20.2 queued for another
# network's scanner finds nothing there.
add_network cg-dscan cg-d1 20
PROBE_FROM=cg-dscan
start_redis cg-d1 20 6381
PROBE_FROM=""
