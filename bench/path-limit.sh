#!/usr/bin/env bash
# The path's own limit, so that the other benchmarks' figures can be read against it: how fast
# this kernel, on this machine, takes packets from the lab's scanner namespace and forwards them
# through cg-router, and how fast the answers come back. Side by side in one run:
#
#   1. ICMP echo into the farm's /16 from one thread, by way of sending (bench/send-paths.c):
#      sendmmsg on a raw IP socket, sendmmsg on an AF_PACKET socket, an AF_PACKET TX ring;
#   2. zmap -M icmp_echoscan -r 0 on the same /16: its own send rate;
#   3. SYNs to all 65535 (closed) ports of cg-h3 and their RSTs: bench/send-paths.c alone (the
#      kernel's limit for one sending thread: a sender that does nothing else), two of them at
#      once (the limit with both cores sending), masscan at 10 million packets a second
#      and cartograph --rate 0 (link path, then the raw IP path), each timed by the RSTs arriving
#      on the scanner's eth0, so the figure is the rate the path delivered, not the one asked.
#
# Usage: bash bench/path-limit.sh       (root; starts the lab if it is not up, tears it down after)
set -euo pipefail
cd "$(dirname "$0")/.."
FARM=198.19.0.0/16
CLOSED=198.18.3.2

# shellcheck source=bench/common.sh
source bench/common.sh
gcc -O2 -Wall -o "${out}/send-paths" bench/send-paths.c
router_mac=$(ip netns exec cg-router cat /sys/class/net/to-scan/address)
: >"${out}/blocklist"

echo "Path limits of this machine (load: $(cut -d' ' -f1-3 /proc/loadavg))"
echo "  ICMP echo into ${FARM} from one thread (65536 packets, batches of 64):"
for method in ip link ring; do
    read -r _ count seconds rate < <(in_scan "${out}/send-paths" "${method}" 65536 64 "${router_mac}")
    printf '    %-38s %8d packets/s  (%d in %s s)\n' "${method}: $(case ${method} in
        ip) echo "sendmmsg, raw IP socket" ;; link) echo "sendmmsg, AF_PACKET socket" ;; ring) echo "AF_PACKET TX ring (PACKET_MMAP)" ;; esac)" \
        "${rate}" "${count}" "${seconds}"
done
zmap_log=$(in_scan zmap -M icmp_echoscan -r 0 -c 1 -i eth0 -S 198.18.0.2 -G "${router_mac}" -b "${out}/blocklist" \
    -o /dev/null "${FARM}" 2>&1 || true)
zmap_rate=$(grep -o 'send: [0-9]* done ([0-9.]* [KM]\?p/s avg)' <<<"${zmap_log}" | tail -1 | sed 's/.*(\(.*\) avg)/\1/')
printf '    %-38s %17s  (its own figure)\n' "zmap -M icmp_echoscan -r 0" "${zmap_rate:-?}"

# Runs a command in cg-scan and times the RSTs it draws by eth0's receive counter, sampled every
# 10 ms: from the first packet until 65535 have arrived (or the last, if fewer come), so what
# the scanner does afterwards is not counted; stops the command once 1.5 s pass without one.
rst_rate() {
    in_scan python3 - "$@" <<'PY'
import subprocess, sys, time
counter = "/sys/class/net/eth0/statistics/rx_packets"
read = lambda: int(open(counter).read())
base = read()
start = time.time()
process = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
first = last = None
seen = 0
while True:
    time.sleep(0.01)
    now, count = time.time(), read() - base
    if count > seen:
        if first is None: first = now
        if seen < 65535: last = now
        seen = count
    finished = process.poll() is not None
    quiet = last is not None and now - last > 1.5
    if finished and (quiet or seen >= 65535) or quiet or now - start > 120: break
if process.poll() is None:
    process.terminate()
    process.wait()
span = (last - first) if first and last and last > first else float("nan")
print(f"{seen} {span:.3f} {seen / span:.0f} {time.time() - start:.2f}")
PY
}
echo "  SYNs to the 65535 closed ports of ${CLOSED}, RSTs back (counted on cg-scan's eth0):"
for method in link ip; do
    read -r seen span rate wall < <(rst_rate "${out}/send-paths" "${method}" 65535 64 "${router_mac}" syn)
    printf '    %-38s %8s RSTs/s   (%s received in %s s)\n' "send-paths ${method} (C, nothing else)" "${rate}" "${seen}" "${span}"
done
# Two senders at once, half the ports each: on a veth path the forwarding and the answer run
# within the sender's own system call, so a second core doubles what the path takes.
read -r seen span rate wall < <(rst_rate bash -c "'${out}/send-paths' link 32768 64 ${router_mac} syn & '${out}/send-paths' link 32767 64 ${router_mac} syn & wait")
printf '    %-38s %8s RSTs/s   (%s received in %s s)\n' "send-paths link, two at once" "${rate}" "${seen}" "${span}"
read -r seen span rate wall < <(rst_rate masscan -p1-65535 "${CLOSED}" --rate 10000000 --router-mac "${router_mac}" \
    --adapter eth0 --adapter-ip 198.18.0.2 --wait 1)
printf '    %-38s %8s RSTs/s   (%s received in %s s)\n' "masscan --rate 10000000" "${rate}" "${seen}" "${span}"
read -r seen span rate wall < <(rst_rate "${BIN}" map "${CLOSED}" -p- --rate 0 --probes none -n --engine syn \
    --format json -o /dev/null)
printf '    %-38s %8s RSTs/s   (%s received in %s s; the map took %s s)\n' "cartograph -p- --rate 0" "${rate}" "${seen}" "${span}" "${wall}"
read -r seen span rate wall < <(rst_rate env CARTOGRAPH_SEND_PATH=ip "${BIN}" map "${CLOSED}" -p- --rate 0 --probes none \
    -n --engine syn --format json -o /dev/null)
printf '    %-38s %8s RSTs/s   (%s received in %s s; the map took %s s)\n' "the same, raw IP path" "${rate}" "${seen}" "${span}" "${wall}"
