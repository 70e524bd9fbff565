# shellcheck shell=bash
# Lab part: cg-farm, a /16 (198.19.0.0/16) behind the router with a hundred live hosts, for
# sweep benchmarks. Sourced by Scripts/lab.sh.
#
# The router sends the whole /16 to cg-farm. cg-farm owns FARM_HOSTS addresses on its loopback
# and does not forward, so a packet for any other address of the /16 is dropped without a word:
# a sweep has to wait out the silence, as on a real sparse network.
FARM_HOSTS=${FARM_HOSTS:-100}
add_host cg-farm 7
ip netns exec "${NS_ROUTER}" ip route add 198.19.0.0/16 via "$(v4_host 7)"
for ((i = 0; i < FARM_HOSTS; i++)); do
    # Spread over the /16: 198.19.<i*2+1>.<i*37 % 250 + 2>.
    ip netns exec cg-farm ip addr add "198.19.$((i * 2 + 1)).$(((i * 37) % 250 + 2))/32" dev lo
done
# One of them listens, so the farm also answers `status` (and port scans find something).
start_redis cg-farm 7 6379
