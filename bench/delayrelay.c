/* delayrelay.c - a TCP relay on 127.0.0.1 that delays every byte by a fixed
 * time in each direction: the bench's stand-in for `tc qdisc ... netem
 * delay` on kernels without netem. It adds latency only, not a bandwidth
 * limit: bytes that arrive while earlier ones wait are queued behind them
 * (order kept) and leave DELAY after their own arrival.
 *
 *   delayrelay DELAY_US TARGET_PORT
 *
 * Listens on an ephemeral port of 127.0.0.1 that it prints on stdout (one
 * line), then relays each accepted connection to 127.0.0.1:TARGET_PORT.
 * Single threaded (ppoll); runs until SIGTERM or SIGINT. A round trip
 * through it costs 2 x DELAY_US. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 64
#define CHUNK (256 * 1024)
#define MAX_QUEUED (16 * 1024 * 1024) /* bytes per direction before we stop reading */

struct chunk {
    struct chunk *next;
    uint64_t due;   /* ns, CLOCK_MONOTONIC */
    size_t off, len;
    char data[];
};

/* One direction: bytes read from `from`, written to `to` when due. */
struct dir {
    int from, to;
    struct chunk *head, *tail;
    size_t queued;  /* bytes */
    int eof;        /* `from` reached EOF or failed */
    int shut;       /* `to` was shut down for writing */
};

struct conn {
    int used;
    struct dir d[2];
};

static struct conn conns[MAX_CONNS];
static uint64_t delay_ns;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void tune(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void conn_close(struct conn *c)
{
    for (int i = 0; i < 2; i++) {
        struct chunk *k = c->d[i].head;
        while (k) {
            struct chunk *n = k->next;
            free(k);
            k = n;
        }
    }
    close(c->d[0].from);
    close(c->d[1].from);
    memset(c, 0, sizeof *c);
}

static void dir_read(struct dir *d)
{
    while (!d->eof && d->queued < MAX_QUEUED) {
        struct chunk *k = malloc(sizeof *k + CHUNK);
        if (!k) {
            d->eof = 1;
            return;
        }
        ssize_t n = read(d->from, k->data, CHUNK);
        if (n < 0 && errno == EINTR) {
            free(k);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            free(k);
            return;
        }
        if (n <= 0) {
            free(k);
            d->eof = 1;
            return;
        }
        k->next = NULL;
        k->due = now_ns() + delay_ns;
        k->off = 0;
        k->len = (size_t)n;
        if (d->tail)
            d->tail->next = k;
        else
            d->head = k;
        d->tail = k;
        d->queued += (size_t)n;
        if ((size_t)n < CHUNK)
            return;
    }
}

/* Writes what is due; returns -1 if the peer is gone. */
static int dir_write(struct dir *d, uint64_t now)
{
    while (d->head && d->head->due <= now) {
        struct chunk *k = d->head;
        ssize_t n = write(d->to, k->data + k->off, k->len - k->off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n < 0)
            return -1;
        k->off += (size_t)n;
        d->queued -= (size_t)n;
        if (k->off == k->len) {
            d->head = k->next;
            if (!d->head)
                d->tail = NULL;
            free(k);
        }
    }
    if (!d->head && d->eof && !d->shut) {
        shutdown(d->to, SHUT_WR);
        d->shut = 1;
    }
    return 0;
}

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: delayrelay DELAY_US TARGET_PORT\n");
        return 2;
    }
    delay_ns = strtoull(argv[1], NULL, 10) * 1000ULL;
    int target = atoi(argv[2]);
    prctl(PR_SET_TIMERSLACK, 1UL); /* wake on time, not up to 50 us late */
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 16) < 0 ||
        getsockname(ls, (struct sockaddr *)&a, &alen) < 0) {
        perror("delayrelay: listen");
        return 1;
    }
    printf("%d\n", ntohs(a.sin_port));
    fflush(stdout);

    while (!stop) {
        struct pollfd p[1 + 2 * MAX_CONNS];
        int idx[1 + 2 * MAX_CONNS]; /* conn*2 + side */
        int np = 0;
        uint64_t now = now_ns(), next = UINT64_MAX;

        p[np].fd = ls;
        p[np].events = POLLIN;
        idx[np++] = -1;
        for (int i = 0; i < MAX_CONNS; i++) {
            struct conn *c = &conns[i];
            if (!c->used)
                continue;
            for (int s = 0; s < 2; s++) {
                /* socket s is d[s].from and d[1-s].to */
                struct dir *in = &c->d[s], *out = &c->d[1 - s];
                short ev = 0;
                if (!in->eof && in->queued < MAX_QUEUED)
                    ev |= POLLIN;
                if (out->head && out->head->due <= now)
                    ev |= POLLOUT;
                if (out->head && out->head->due > now && out->head->due < next)
                    next = out->head->due;
                p[np].fd = ev ? in->from : -1; /* no POLLHUP spin after EOF */
                p[np].events = ev;
                idx[np++] = i * 2 + s;
            }
        }
        struct timespec ts, *tp = NULL;
        if (next != UINT64_MAX) {
            uint64_t w = next - now;
            ts.tv_sec = (time_t)(w / 1000000000ULL);
            ts.tv_nsec = (long)(w % 1000000000ULL);
            tp = &ts;
        }
        int r = ppoll(p, (nfds_t)np, tp, NULL);
        if (r < 0 && errno != EINTR) {
            perror("delayrelay: ppoll");
            return 1;
        }
        if (r > 0 && (p[0].revents & POLLIN)) {
            int cs = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
            if (cs >= 0) {
                int slot = -1;
                for (int i = 0; i < MAX_CONNS; i++)
                    if (!conns[i].used) {
                        slot = i;
                        break;
                    }
                int ts2 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                struct sockaddr_in t = {.sin_family = AF_INET,
                                        .sin_port = htons((uint16_t)target),
                                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
                if (slot < 0 || ts2 < 0 || connect(ts2, (struct sockaddr *)&t, sizeof t) < 0) {
                    close(cs);
                    if (ts2 >= 0)
                        close(ts2);
                } else {
                    tune(cs);
                    tune(ts2);
                    struct conn *c = &conns[slot];
                    c->used = 1;
                    c->d[0].from = cs;  /* client -> server */
                    c->d[0].to = ts2;
                    c->d[1].from = ts2; /* server -> client */
                    c->d[1].to = cs;
                }
            }
        }
        /* reads first (they stamp arrival), then whatever is due */
        for (int i = 1; i < np; i++) {
            struct conn *c = &conns[idx[i] / 2];
            if (c->used && (p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                dir_read(&c->d[idx[i] % 2]);
        }
        now = now_ns();
        for (int i = 0; i < MAX_CONNS; i++) {
            struct conn *c = &conns[i];
            if (!c->used)
                continue;
            int gone = dir_write(&c->d[0], now) < 0 || dir_write(&c->d[1], now) < 0;
            if (gone || (c->d[0].shut && c->d[1].shut))
                conn_close(c);
        }
    }
    return 0;
}
