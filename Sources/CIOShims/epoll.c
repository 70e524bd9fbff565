#define _GNU_SOURCE
#include "CIOShims.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

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
        messages[i].msg_hdr.msg_name = (void *)(addrs + (size_t)i * addrsize);
        messages[i].msg_hdr.msg_namelen = addrlens[i];
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
