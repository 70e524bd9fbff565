// How fast this kernel takes raw packets from one thread by each way of sending them, from the
// lab's scanner namespace through cg-router: ICMP echo requests into the farm's /16
// (198.19.0.0/16), 42-byte frames, as a /16 sweep sends them; or, with KIND syn, TCP SYNs to
// ports 1-65535 of cg-h3 (198.18.3.2, which answers each with a RST), as a full-port scan sends
// them. Used by bench/path-limit.sh.
//
//   ip    sendmmsg(2) on a raw IP socket (IPPROTO_RAW, header included): the kernel routes,
//         resolves the next hop and runs netfilter for every packet
//   link  sendmmsg(2) on an AF_PACKET socket: whole Ethernet frames to the gateway's MAC
//   ring  an AF_PACKET TX ring (PACKET_MMAP, TPACKET_V2), one send(2) per batch
//
// Usage: send-paths METHOD COUNT BATCH GATEWAY_MAC [echo|syn]    (in cg-scan, as root)
// Prints: METHOD COUNT SECONDS PACKETS_PER_SECOND
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { SOURCE = 0xC6120002, FARM = 0xC6130000, CLOSED = 0xC6120302, SLOT = 64 };  // 198.18.0.2, 198.19.0.0/16, 198.18.3.2
static uint8_t gateway[6], ours[6];
static int syn, frame_length = 42;

static uint16_t checksum(const uint8_t *data, int length) {
    uint32_t sum = 0;
    for (int i = 0; i + 1 < length; i += 2) sum += (uint32_t)(data[i] << 8 | data[i + 1]);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint32_t destination_of(uint32_t index) { return syn ? CLOSED : FARM | (index & 0xffff); }

// An Ethernet frame carrying probe `index` (the IP packet starts at 14): an echo request to a
// farm address, or a SYN to port index % 65535 + 1 of cg-h3.
static void build(uint8_t *frame, uint32_t index) {
    uint32_t destination = destination_of(index);
    memset(frame, 0, (size_t)frame_length);
    memcpy(frame, gateway, 6);
    memcpy(frame + 6, ours, 6);
    frame[12] = 0x08;
    uint8_t *ip = frame + 14, *l4 = ip + 20;
    ip[0] = 0x45, ip[3] = (uint8_t)(frame_length - 14), ip[8] = 64, ip[9] = syn ? 6 : 1;
    for (int i = 0; i < 4; i++) ip[12 + i] = (uint8_t)(SOURCE >> (24 - 8 * i)), ip[16 + i] = (uint8_t)(destination >> (24 - 8 * i));
    uint16_t sum = checksum(ip, 20);
    ip[10] = (uint8_t)(sum >> 8), ip[11] = (uint8_t)sum;
    if (!syn) {
        l4[0] = 8, l4[4] = 0x5a, l4[6] = (uint8_t)(index >> 8), l4[7] = (uint8_t)index;
        sum = checksum(l4, 8);
        l4[2] = (uint8_t)(sum >> 8), l4[3] = (uint8_t)sum;
        return;
    }
    uint16_t port = (uint16_t)(index % 65535 + 1);
    l4[0] = 0xa0, l4[1] = 0x00, l4[2] = (uint8_t)(port >> 8), l4[3] = (uint8_t)port;  // from port 40960
    l4[4] = 0x12, l4[5] = 0x34, l4[12] = 0x50, l4[13] = 0x02, l4[14] = 0x04;             // seq, SYN, window 1024
    uint8_t pseudo[32];  // source, destination, zero, protocol, length, then the 20-byte segment
    memcpy(pseudo, ip + 12, 8);
    pseudo[8] = 0, pseudo[9] = 6, pseudo[10] = 0, pseudo[11] = 20;
    memcpy(pseudo + 12, l4, 20);
    sum = checksum(pseudo, 32);
    l4[16] = (uint8_t)(sum >> 8), l4[17] = (uint8_t)sum;
}

// Sends `n` messages, waiting out a full buffer; returns how many left.
static int send_all(int fd, struct mmsghdr *messages, int n) {
    int done = 0;
    while (done < n) {
        int sent = sendmmsg(fd, messages + done, (unsigned)(n - done), 0);
        if (sent > 0) done += sent;
        else if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) usleep(50);
        else { perror("sendmmsg"); exit(1); }
    }
    return done;
}

int main(int argc, char **argv) {
    if (argc == 6 && !strcmp(argv[5], "syn")) syn = 1, frame_length = 54;
    if ((argc != 5 && argc != 6) || sscanf(argv[4], "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &gateway[0], &gateway[1], &gateway[2],
                            &gateway[3], &gateway[4], &gateway[5]) != 6) {
        fprintf(stderr, "usage: send-paths ip|link|ring COUNT BATCH GATEWAY_MAC [echo|syn]\n");
        return 64;
    }
    const char *method = argv[1];
    int count = atoi(argv[2]), batch = atoi(argv[3]);
    if (count <= 0 || batch <= 0 || batch > 1024) { fprintf(stderr, "send-paths: COUNT and BATCH (1-1024) must be positive\n"); return 64; }
    FILE *address = fopen("/sys/class/net/eth0/address", "r");
    if (!address || fscanf(address, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &ours[0], &ours[1], &ours[2], &ours[3], &ours[4], &ours[5]) != 6) {
        fprintf(stderr, "send-paths: no eth0 here: run it in cg-scan\n");
        return 1;
    }
    fclose(address);
    int index = (int)if_nametoindex("eth0"), buffer = 4 << 20;
    uint8_t *frames = calloc((size_t)batch, SLOT);
    struct mmsghdr *messages = calloc((size_t)batch, sizeof *messages);
    struct iovec *vectors = calloc((size_t)batch, sizeof *vectors);
    struct sockaddr_in *targets = calloc((size_t)batch, sizeof *targets);
    int fd, sent = 0;
    double start = now();
    if (!strcmp(method, "ip") || !strcmp(method, "link")) {
        int link = !strcmp(method, "link");
        fd = link ? socket(AF_PACKET, SOCK_RAW, 0) : socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
        if (fd < 0) { perror("socket"); return 1; }
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
        if (link) {
            struct sockaddr_ll bound = {.sll_family = AF_PACKET, .sll_ifindex = index};
            if (bind(fd, (struct sockaddr *)&bound, sizeof bound) != 0) { perror("bind"); return 1; }
        }
        start = now();
        for (int i = 0; i < count; i += batch) {
            int n = count - i < batch ? count - i : batch;
            for (int j = 0; j < n; j++) {
                uint8_t *frame = frames + (size_t)j * SLOT;
                build(frame, (uint32_t)(i + j));
                vectors[j].iov_base = link ? frame : frame + 14;
                vectors[j].iov_len = (size_t)(link ? frame_length : frame_length - 14);
                messages[j].msg_hdr.msg_iov = &vectors[j];
                messages[j].msg_hdr.msg_iovlen = 1;
                if (!link) {
                    targets[j].sin_family = AF_INET;
                    targets[j].sin_addr.s_addr = htonl(destination_of((uint32_t)(i + j)));
                    messages[j].msg_hdr.msg_name = &targets[j];
                    messages[j].msg_hdr.msg_namelen = sizeof targets[j];
                }
            }
            sent += send_all(fd, messages, n);
        }
    } else if (!strcmp(method, "ring")) {
        fd = socket(AF_PACKET, SOCK_RAW, 0);
        int version = TPACKET_V2;
        struct tpacket_req request = {.tp_block_size = 1 << 18, .tp_block_nr = 16, .tp_frame_size = 256};
        request.tp_frame_nr = request.tp_block_size / request.tp_frame_size * request.tp_block_nr;
        if (fd < 0 || setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version) != 0
            || setsockopt(fd, SOL_PACKET, PACKET_TX_RING, &request, sizeof request) != 0) { perror("TX ring"); return 1; }
        size_t size = (size_t)request.tp_block_size * request.tp_block_nr;
        uint8_t *ring = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        struct sockaddr_ll bound = {.sll_family = AF_PACKET, .sll_ifindex = index, .sll_protocol = htons(ETH_P_IP)};
        if (ring == MAP_FAILED || bind(fd, (struct sockaddr *)&bound, sizeof bound) != 0) { perror("ring"); return 1; }
        unsigned slot = 0;
        start = now();
        for (int i = 0; i < count; i += batch) {
            int n = count - i < batch ? count - i : batch;
            for (int j = 0; j < n; j++) {
                struct tpacket2_hdr *header = (struct tpacket2_hdr *)(ring + (size_t)slot * request.tp_frame_size);
                while (header->tp_status != TP_STATUS_AVAILABLE) {
                    struct pollfd wait = {.fd = fd, .events = POLLOUT};
                    poll(&wait, 1, 1);
                }
                build((uint8_t *)header + TPACKET2_HDRLEN - sizeof(struct sockaddr_ll), (uint32_t)(i + j));
                header->tp_len = (unsigned)frame_length;
                header->tp_status = TP_STATUS_SEND_REQUEST;
                slot = (slot + 1) % request.tp_frame_nr;
            }
            if (send(fd, NULL, 0, 0) < 0 && errno != ENOBUFS) { perror("send"); return 1; }
            sent += n;
        }
        send(fd, NULL, 0, MSG_WAITALL);
    } else {
        fprintf(stderr, "send-paths: unknown method %s (ip, link or ring)\n", method);
        return 64;
    }
    double elapsed = now() - start;
    printf("%s %d %.3f %.0f\n", method, sent, elapsed, sent / elapsed);
    return 0;
}
