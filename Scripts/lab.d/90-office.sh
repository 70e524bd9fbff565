# shellcheck shell=bash
# Lab part: cg-office, a /24 of 24 live hosts behind the router (198.18.240.2-25), for the
# default-map benchmark (a /24 as an office network looks: the same few daemons on many hosts,
# some that ignore ping). Sourced by Scripts/lab.sh.
#   - the hosts are addresses on cg-office's loopback; one real OpenSSH and one real nginx
#     (on 198.18.11.2) serve them all through nftables DNAT: every host has ssh on 22, the
#     first twelve (.2-.13) also http on 80; on the others port 80 is closed (RST);
#   - .20-.25 drop ICMP echo and timestamp requests, so only TCP finds them;
#   - the other 232 addresses of the /24 have nobody: silence, as on a real sparse segment.
OFFICE_NS=cg-office
OFFICE_INDEX=11
OFFICE_HOSTS=24
add_host "${OFFICE_NS}" "${OFFICE_INDEX}"
ip netns exec "${NS_ROUTER}" ip route add 198.18.240.0/24 via "$(v4_host "${OFFICE_INDEX}")"
for ((i = 2; i < OFFICE_HOSTS + 2; i++)); do
    in_ns "${OFFICE_NS}" ip addr add "198.18.240.${i}/32" dev lo
done
start_sshd "${OFFICE_NS}" "${OFFICE_INDEX}" 22
start_nginx "${OFFICE_NS}" "${OFFICE_INDEX}" 80
in_ns "${OFFICE_NS}" nft -f - <<NFT
table ip office {
    chain prerouting {
        type nat hook prerouting priority -100; policy accept;
        ip daddr 198.18.240.2-198.18.240.$((OFFICE_HOSTS + 1)) tcp dport 22 dnat to $(v4_host "${OFFICE_INDEX}")
        ip daddr 198.18.240.2-198.18.240.13 tcp dport 80 dnat to $(v4_host "${OFFICE_INDEX}")
    }
    chain input {
        type filter hook input priority 0; policy accept;
        ip daddr 198.18.240.20-198.18.240.25 icmp type { echo-request, timestamp-request } drop
    }
}
NFT
