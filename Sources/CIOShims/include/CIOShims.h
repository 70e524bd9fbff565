#ifndef CARTOGRAPH_CIOSHIMS_H
#define CARTOGRAPH_CIOSHIMS_H

#include <stdint.h>

// epoll is not in Swift's Glibc module, and `struct epoll_event` is packed on x86_64, which
// Swift imports poorly. These wrappers pass plain integers instead.

enum {
    CG_EPOLLIN = 0x001,
    CG_EPOLLOUT = 0x004,
    CG_EPOLLERR = 0x008,
    CG_EPOLLHUP = 0x010,
    CG_EPOLLRDHUP = 0x2000,
    CG_EPOLLONESHOT = 1u << 30,
};

enum { CG_EPOLL_CTL_ADD = 1, CG_EPOLL_CTL_DEL = 2, CG_EPOLL_CTL_MOD = 3 };

/// epoll_create1(EPOLL_CLOEXEC).
int cg_epoll_create(void);
/// epoll_ctl with the event's mask and 64-bit user data; returns 0 or -1 with errno set.
int cg_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
/// epoll_wait filling parallel arrays of user data and event masks; returns the count or -1.
int cg_epoll_wait(int epfd, uint64_t *data, uint32_t *events, int capacity, int timeout_ms);

/// Sends `count` datagrams with one sendmmsg(2) call. Datagram i is `lengths[i]` bytes at
/// `buffer + offsets[i]`, to the address of `addrlens[i]` bytes at `addrs + i * addrsize`.
/// Returns how many were sent (possibly fewer), or -1 with errno set. With `addrs` NULL the
/// datagrams carry no address: the socket's own (a bound link-layer socket) is used.
int cg_send_batch(int fd, const uint8_t *buffer, const uint32_t *offsets, const uint32_t *lengths,
                  const uint8_t *addrs, uint32_t addrsize, const uint32_t *addrlens, int count);

/// The interface an IPv4 destination (host byte order) is directly attached to: its name
/// (16 bytes), index, our address on it (host byte order) and its MAC (6 bytes). Returns 0 when
/// the destination is on no attached Ethernet-like segment (loopback is never one).
int cg_attached_interface(uint32_t destination, char *name, int *index, uint32_t *source, uint8_t *mac);

/// An AF_PACKET socket for ARP frames, or -1 with errno set.
int cg_arp_socket(void);

/// Sends an Ethernet frame on interface `index` to the broadcast address; 0 or -1 with errno.
int cg_send_frame(int fd, int index, const uint8_t *frame, int length);

/// The route of this namespace's main table (/proc/net/route) for an IPv4 destination (host
/// byte order): its interface name (16 bytes) and gateway (0: directly attached). `split` tells
/// whether routes longer than /24 fall inside the destination's /24 (then the route found holds
/// for this address alone). Returns the prefix length plus one, or 0 when no route matches.
int cg_route_v4(uint32_t destination, char *ifname, uint32_t *gateway, int *split);

/// The MAC address (6 bytes) of a resolved IPv4 neighbour on interface `ifname`, from the
/// kernel's neighbour table (/proc/net/arp). Returns 0 when it is not there or not resolved.
int cg_neighbour_v4(uint32_t address, const char *ifname, uint8_t *mac);

/// The index of an Ethernet interface and its MAC address (6 bytes); 0 for any other kind.
int cg_ether_interface(const char *ifname, uint8_t *mac);

/// Makes a capturing AF_PACKET socket skip the frames this host sends (PACKET_IGNORE_OUTGOING);
/// 0, or -1 with errno set (kernels before 4.20).
int cg_ignore_outgoing(int fd);

/// Whether interface `ifname` holds the IPv4 address `address` (host byte order).
int cg_interface_has_v4(const char *ifname, uint32_t address);

/// An AF_PACKET socket bound to interface `index` that only sends whole Ethernet frames, with
/// a send buffer of `send_buffer` bytes; -1 with errno set.
int cg_link_socket(int index, int send_buffer);

/// Whether the process may open raw sockets: CAP_NET_RAW in its effective set (root has it
/// unless it was dropped).
int cg_has_raw_privilege(void);

/// A UDP socket for tracing the path to a host without privileges: non-blocking, hop limit `ttl`
/// (IP_TTL or IPV6_UNICAST_HOPS), and ICMP errors delivered to its error queue (IP_RECVERR or
/// IPV6_RECVERR), as Linux's unprivileged traceroute does. `family` is AF_INET or AF_INET6.
/// Returns the descriptor or -1 with errno set.
int cg_trace_socket(int family, int ttl);

/// Reads one ICMP error from a trace socket's error queue: the address of the node that sent
/// it (16 bytes; 4 used for IPv4), and its ICMP type and code. Returns 1 when one was read, 0
/// when the queue held none (or a non-ICMP error), -1 on failure.
int cg_trace_read_error(int fd, uint8_t *offender, uint8_t *type, uint8_t *code);

#endif
