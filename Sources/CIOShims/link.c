#define _GNU_SOURCE
#include "CIOShims.h"
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

// The link-layer send path: frames written straight to an interface through AF_PACKET skip the
// kernel's IP output path (routing, neighbour lookup, netfilter) for every packet, which is
// where a raw IP socket spends most of its time. It needs what that path would have found: the
// interface and the next hop's MAC address, read once per route from the kernel's own tables.

int cg_route_v4(uint32_t destination, char *ifname, uint32_t *gateway, int *split) {
    // /proc/net/route is this process's namespace's main table, in network byte order as hex.
    FILE *routes = fopen("/proc/net/route", "r");
    if (!routes) return 0;
    char line[256], name[IFNAMSIZ];
    int best = -1;
    unsigned flags, dest, gate, mask;
    *split = 0;
    if (!fgets(line, sizeof line, routes)) { fclose(routes); return 0; }  // the column titles
    while (fgets(line, sizeof line, routes)) {
        if (sscanf(line, "%15s %x %x %x %*d %*d %*d %x", name, &dest, &gate, &flags, &mask) != 5) continue;
        if (!(flags & 0x1)) continue;  // RTF_UP
        uint32_t d = ntohl(dest), m = ntohl(mask);
        int length = __builtin_popcount(m);
        if (length > 24 && (d & 0xffffff00u) == (destination & 0xffffff00u)) *split = 1;
        if ((destination & m) != d) continue;
        if (length <= best) continue;
        best = length;
        snprintf(ifname, IFNAMSIZ, "%s", name);
        *gateway = (flags & 0x2) ? ntohl(gate) : 0;  // RTF_GATEWAY
    }
    fclose(routes);
    return best >= 0 ? best + 1 : 0;
}

int cg_neighbour_v4(uint32_t address, const char *ifname, uint8_t *mac) {
    FILE *table = fopen("/proc/net/arp", "r");
    if (!table) return 0;
    char line[256], ip[64], hw[64], device[IFNAMSIZ];
    unsigned flags;
    int found = 0;
    if (!fgets(line, sizeof line, table)) { fclose(table); return 0; }
    while (!found && fgets(line, sizeof line, table)) {
        if (sscanf(line, "%63s %*s %x %63s %*s %15s", ip, &flags, hw, device) != 4) continue;
        struct in_addr parsed;
        if (inet_pton(AF_INET, ip, &parsed) != 1 || ntohl(parsed.s_addr) != address) continue;
        if (strcmp(device, ifname) != 0 || !(flags & 0x2)) continue;  // ATF_COM: resolved
        found = sscanf(hw, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]) == 6;
    }
    fclose(table);
    return found;
}

int cg_ether_interface(const char *ifname, uint8_t *mac) {
    struct ifreq request;
    memset(&request, 0, sizeof request);
    snprintf(request.ifr_name, sizeof request.ifr_name, "%s", ifname);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) return 0;
    int ok = ioctl(fd, SIOCGIFHWADDR, &request) == 0 && request.ifr_hwaddr.sa_family == 1;  // ARPHRD_ETHER
    close(fd);
    if (!ok) return 0;
    memcpy(mac, request.ifr_hwaddr.sa_data, 6);
    return (int)if_nametoindex(ifname);
}

int cg_link_socket(int index, int send_buffer) {
    // Protocol 0: the socket receives nothing, so it costs nothing while replies arrive.
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &send_buffer, sizeof send_buffer);
    struct sockaddr_ll address;
    memset(&address, 0, sizeof address);
    address.sll_family = AF_PACKET;
    address.sll_ifindex = index;
    if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int cg_ignore_outgoing(int fd) {
    int on = 1;
    return setsockopt(fd, SOL_PACKET, 23 /* PACKET_IGNORE_OUTGOING, Linux 4.20 */, &on, sizeof on);
}

int cg_interface_has_v4(const char *ifname, uint32_t address) {
    struct ifaddrs *list = NULL;
    if (getifaddrs(&list) != 0) return 0;
    int found = 0;
    for (struct ifaddrs *entry = list; entry && !found; entry = entry->ifa_next) {
        if (!entry->ifa_addr || entry->ifa_addr->sa_family != AF_INET || strcmp(entry->ifa_name, ifname) != 0) continue;
        found = ntohl(((struct sockaddr_in *)entry->ifa_addr)->sin_addr.s_addr) == address;
    }
    freeifaddrs(list);
    return found;
}
