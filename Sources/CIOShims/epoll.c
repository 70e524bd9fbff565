#include "CIOShims.h"
#include <stdlib.h>
#include <sys/epoll.h>

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
