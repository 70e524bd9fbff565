# shellcheck shell=bash
# Lab part: cg-h8 (198.18.8.2), unfriendly on purpose. Sourced by Scripts/lab.sh.
#   - it drops ICMP echo and timestamp requests (nftables), so only TCP finds it;
#   - a resolver on 198.18.8.2:53 that reads every query and never answers;
#   - 300 open TCP ports (20000-20299) and sshd on 22: a host with hundreds of open ports.
H8_NS=cg-h8
H8_INDEX=8
H8_FIRST_PORT=20000
H8_PORTS=300
add_host "${H8_NS}" "${H8_INDEX}"
in_ns "${H8_NS}" nft -f - <<'NFT'
table inet unfriendly {
    chain input {
        type filter hook input priority 0; policy accept;
        icmp type { echo-request, timestamp-request } drop
        icmpv6 type echo-request drop
    }
}
NFT
start_sshd "${H8_NS}" "${H8_INDEX}" 22
h8_dir="${LAB_DIR}/${H8_NS}/python"
mkdir -p "${h8_dir}"
# Each helper runs in the background, with none of our descriptors (a caller reading our output
# would wait for it forever); the namespace's teardown kills it.
start_in_ns "${H8_NS}" "${h8_dir}/many_ports.log" \
    python3 "${SCRIPT_DIR}/lab-services/many_ports.py" "$(v4_host "${H8_INDEX}")" "${H8_FIRST_PORT}" "${H8_PORTS}" \
    </dev/null >/dev/null 2>&1 &
start_in_ns "${H8_NS}" "${h8_dir}/silent_dns.log" \
    python3 "${SCRIPT_DIR}/lab-services/many_ports.py" --silent-udp "$(v4_host "${H8_INDEX}")" 53 \
    </dev/null >/dev/null 2>&1 &
register "many-ports:${H8_FIRST_PORT}" "${H8_NS}" "$(v4_host "${H8_INDEX}")" "${H8_FIRST_PORT}" "${h8_dir}/many_ports.log"
register "many-ports:$((H8_FIRST_PORT + H8_PORTS - 1))" "${H8_NS}" "$(v4_host "${H8_INDEX}")" \
    "$((H8_FIRST_PORT + H8_PORTS - 1))" "${h8_dir}/many_ports.log"
register "silent-dns:53" "${H8_NS}" "$(v4_host "${H8_INDEX}")" 53 "${h8_dir}/silent_dns.log" udp
