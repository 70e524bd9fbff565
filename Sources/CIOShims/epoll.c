#define _GNU_SOURCE
#include "CIOShims.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>

int cg_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int cg_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event event = {.events = events, .data = {.u64 = data}};
    return epoll_ctl(epfd, op, fd, &event);
}

int cg_epoll_wait(int epfd, uint64_t *data, uint32_t *events, int capacity, int timeout_ms) {
    struct epoll_event buffer[256];
    if (capacity > 256) capacity = 256;
    int count = epoll_wait(epfd, buffer, capacity, timeout_ms);
    for (int i = 0; i < count; i++) {
        data[i] = buffer[i].data.u64;
        events[i] = buffer[i].events;
    }
    return count;
}

int cg_send_batch(int fd, const uint8_t *buffer, const uint32_t *offsets, const uint32_t *lengths,
                  const uint8_t *addrs, uint32_t addrsize, const uint32_t *addrlens, int count) {
    enum { MAX = 256 };
    struct mmsghdr messages[MAX];
    struct iovec vectors[MAX];
    if (count > MAX) count = MAX;
    memset(messages, 0, sizeof(struct mmsghdr) * (size_t)count);
    for (int i = 0; i < count; i++) {
        vectors[i].iov_base = (void *)(buffer + offsets[i]);
        vectors[i].iov_len = lengths[i];
        messages[i].msg_hdr.msg_iov = &vectors[i];
        messages[i].msg_hdr.msg_iovlen = 1;
        if (addrs) {
            messages[i].msg_hdr.msg_name = (void *)(addrs + (size_t)i * addrsize);
            messages[i].msg_hdr.msg_namelen = addrlens[i];
        }
    }
    return sendmmsg(fd, messages, (unsigned)count, 0);
}

int cg_has_raw_privilege(void) {
    // The capability decides, not the user id: root with CAP_NET_RAW dropped cannot open raw
    // sockets, and an ordinary user given the capability can.
    FILE *status = fopen("/proc/self/status", "r");
    if (!status) return 0;
    char line[256];
    int allowed = 0;
    while (fgets(line, sizeof line, status)) {
        unsigned long long caps;
        if (sscanf(line, "CapEff: %llx", &caps) == 1) { allowed = (caps >> 13) & 1; break; }  // CAP_NET_RAW = 13
    }
    fclose(status);
    return allowed;
}

int cg_attached_interface(uint32_t destination, char *name, int *index, uint32_t *source, uint8_t *mac) {
    struct ifaddrs *list = NULL, *entry;
    int found = 0;
    if (getifaddrs(&list) != 0) return 0;
    for (entry = list; entry && !found; entry = entry->ifa_next) {
        if (!entry->ifa_addr || !entry->ifa_netmask || entry->ifa_addr->sa_family != AF_INET) continue;
        if (entry->ifa_flags & IFF_LOOPBACK || !(entry->ifa_flags & IFF_UP)) continue;
        uint32_t address = ntohl(((struct sockaddr_in *)entry->ifa_addr)->sin_addr.s_addr);
        uint32_t mask = ntohl(((struct sockaddr_in *)entry->ifa_netmask)->sin_addr.s_addr);
        if ((address & mask) != (destination & mask)) continue;
        *index = cg_ether_interface(entry->ifa_name, mac);
        if (*index == 0) continue;
        snprintf(name, 16, "%s", entry->ifa_name);
        *source = address;
        found = 1;
    }
    freeifaddrs(list);
    return found;
}

int cg_arp_socket(void) { return socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ARP)); }

int cg_send_frame(int fd, int index, const uint8_t *frame, int length) {
    struct sockaddr_ll address;
    memset(&address, 0, sizeof address);
    address.sll_family = AF_PACKET;
    address.sll_ifindex = index;
    address.sll_halen = 6;
    memset(address.sll_addr, 0xff, 6);
    return sendto(fd, frame, (size_t)length, 0, (struct sockaddr *)&address, sizeof address) == length ? 0 : -1;
}

#include <linux/errqueue.h>
#include <netinet/ip.h>

int cg_trace_socket(int family, int ttl) {
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
    if (fd < 0) return -1;
    int on = 1;
    int ok = family == AF_INET
        ? setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl) == 0
            && setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof on) == 0
        : setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl) == 0
            && setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof on) == 0;
    if (!ok) {
        close(fd);
        return -1;
    }
    return fd;
}

int cg_trace_read_error(int fd, uint8_t *offender, uint8_t *type, uint8_t *code) {
    char data[512];
    char control[512];
    struct sockaddr_storage peer;
    struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
    struct msghdr message = {
        .msg_name = &peer, .msg_namelen = sizeof peer,
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = control, .msg_controllen = sizeof control,
    };
    if (recvmsg(fd, &message, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
    }
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&message); c != NULL; c = CMSG_NXTHDR(&message, c)) {
        int v4 = c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR;
        int v6 = c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR;
        if (!v4 && !v6) continue;
        struct sock_extended_err *error = (struct sock_extended_err *)CMSG_DATA(c);
        if (error->ee_origin != SO_EE_ORIGIN_ICMP && error->ee_origin != SO_EE_ORIGIN_ICMP6) return 0;
        struct sockaddr *from = SO_EE_OFFENDER(error);
        memset(offender, 0, 16);
        if (from->sa_family == AF_INET) {
            memcpy(offender, &((struct sockaddr_in *)from)->sin_addr, 4);
        } else if (from->sa_family == AF_INET6) {
            memcpy(offender, &((struct sockaddr_in6 *)from)->sin6_addr, 16);
        } else {
            return 0;
        }
        *type = error->ee_type;
        *code = error->ee_code;
        return 1;
    }
    return 0;
}
