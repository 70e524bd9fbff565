# shellcheck shell=bash
# Lab part: a wide segment directly attached to a router of its own, where a fast sweep
# overflows the router's neighbour (ARP) table and real hosts are lost without a word.
# Sourced by Scripts/lab.sh (or built alone into a running lab: lab.sh add Scripts/lab.d/70-wide.sh).
#
#   cg-scan ── cg-router ──(198.18.96.0/30)── cgx-h5-wrtr ──(198.18.64.0/20)── cgx-h5-wide
#                           to-wide .1          up0 .2  seg0 .1                 7 live addresses
#
# cgx-h5-wrtr must resolve every swept address of the /20 by ARP. The kernel's neighbour table
# holds gc_thresh3 entries (1024 by default; the gc_thresh sysctls exist only in the initial
# namespace, so they are left alone) and an unresolved entry lives about 3 s, so a sweep of the
# 4096 addresses at the default rate finds the table full and the router drops packets for
# hosts it has no entry for. unres_qlen 2 keeps few packets waiting per unresolved address, as
# on small routers. The 7 hosts are addresses of cgx-h5-wide's one interface, spread over the /20.
WIDE_ROUTER=cgx-h5-wrtr
WIDE_HOSTS=cgx-h5-wide
WIDE_LIVE=(198.18.64.20 198.18.66.77 198.18.68.140 198.18.70.9 198.18.73.200 198.18.76.33 198.18.79.250)
create_ns "${WIDE_ROUTER}"
create_ns "${WIDE_HOSTS}"
ip netns exec "${NS_ROUTER}" ip link add to-wide type veth peer name up0 netns "${WIDE_ROUTER}"
ip netns exec "${NS_ROUTER}" ip addr add 198.18.96.1/30 dev to-wide
ip netns exec "${NS_ROUTER}" ip link set to-wide up
ip netns exec "${NS_ROUTER}" ip route add 198.18.64.0/20 via 198.18.96.2
ip netns exec "${WIDE_ROUTER}" ip addr add 198.18.96.2/30 dev up0
ip netns exec "${WIDE_ROUTER}" ip link set up0 up
ip netns exec "${WIDE_ROUTER}" ip route add default via 198.18.96.1
ip netns exec "${WIDE_ROUTER}" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "${WIDE_ROUTER}" ip link add seg0 type veth peer name eth0 netns "${WIDE_HOSTS}"
ip netns exec "${WIDE_ROUTER}" ip addr add 198.18.64.1/20 dev seg0
ip netns exec "${WIDE_ROUTER}" sysctl -qw net.ipv4.neigh.seg0.unres_qlen=2
ip netns exec "${WIDE_ROUTER}" ip link set seg0 up
for address in "${WIDE_LIVE[@]}"; do
    ip netns exec "${WIDE_HOSTS}" ip addr add "${address}/20" dev eth0
done
ip netns exec "${WIDE_HOSTS}" ip link set eth0 up
ip netns exec "${WIDE_HOSTS}" ip route add default via 198.18.64.1
