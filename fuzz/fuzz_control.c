/* fuzz_control.c - libFuzzer harness for the control protocol: the daemon's
 * side of ctl.sock, from the request bytes to the reply, without a running
 * daemon.
 *
 * control_serve (shmd/control.c) reads one request from a descriptor,
 * dispatches it and writes the reply to it; this file is linked with the
 * daemon's objects and calls it as a connection's thread does. The daemon
 * state is real: a store in a private instance directory under
 * /dev/shm (64 slots, 4 MiB), a pool of loader threads, the wake-up eventfd.
 * Each input is one request, put in a memfd: control_serve reads it to EOF,
 * then writes its reply after it, so the reply is read back from the same
 * file.
 *
 * Properties, besides no crash, no out-of-bounds access, no undefined
 * behaviour and no descriptor leak:
 *  - the reply's first line is "ok" or "error <reason>", and every reply
 *    ends with a newline;
 *  - no reply line carries a control character: paths and arguments are
 *    escaped, so one entry is always one line (control.c's own contract);
 *  - the store is consistent after every request (store_validate);
 *  - a malformed request (not NUL-terminated) is answered with an error
 *    and counted in bad_messages.
 * A seed corpus in fuzz/corpus/fuzz_control names real files (/etc/passwd,
 * this harness's own files) so that warm, ls and evict reach live entries. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz/fuzz_common.h"
#include "shmd/control.h"
#include "shmd/daemon.h"
#include "shmd/log.h"
#include "shmd/queue.h"
#include "tier/atomic.h"
#include "tier/clock.h"

static struct shmd g_d;
static char g_dir[64];

static void teardown(void)
{
    queue_stop(g_d.queue, mono_ns() + 5 * NS_PER_SEC);
    store_destroy(&g_d.store, true);
    fz_remove_dir(g_dir);
}

static void setup(void)
{
    struct shmd *d = &g_d;
    struct store_params p = {.slots = 64, .capacity = 4u << 20, .max_file = 256u << 10,
                             .revalidate_ms = 0, .settle_ms = 0};
    struct stat st;

    shmd_log_level = SHMD_LOG_ERROR;
    fz_instance_dir(g_dir, "control");
    fz_remove_on_crash(g_dir);
    memset(d, 0, sizeof *d);
    snprintf(d->opt.dir, sizeof d->opt.dir, "%s", g_dir);
    d->opt.capacity = p.capacity;
    d->opt.max_file = p.max_file;
    d->opt.slots = p.slots;
    d->lockfd = d->missfd = d->ctlfd = -1;
    d->dirfd = open(g_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    d->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (d->dirfd < 0 || d->wakefd < 0 || fstat(d->dirfd, &st) < 0 ||
        store_create(&d->store, d->dirfd, &p) < 0)
        fz_fail("setup: instance in %s", g_dir);
    d->tier_dev = (uint64_t)st.st_dev;
    d->started_mono_ns = mono_ns();
    d->queue = queue_start(d, 2);
    if (!d->queue)
        fz_fail("setup: queue_start");
    atexit(teardown);
}

/* Check one reply of n bytes (see the top of the file). */
static void check_reply(const char *r, size_t n, bool malformed)
{
    if (n == 0 || r[n - 1] != '\n')
        fz_fail("reply of %zu bytes does not end with a newline", n);
    if (!(n >= 3 && memcmp(r, "ok\n", 3) == 0) && !(n > 6 && memcmp(r, "error ", 6) == 0))
        fz_fail("reply starts with neither \"ok\" nor \"error \": %.40s", r);
    if (malformed && memcmp(r, "error ", 6) != 0)
        fz_fail("a request without its final NUL was accepted");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)r[i];
        if ((c < 0x20 && c != '\n') || c == 0x7f) {
            size_t ls = i;
            while (ls > 0 && r[ls - 1] != '\n')
                ls--;
            fz_fail("reply line carries control character 0x%02x at %zu: \"%.*s\"", c, i - ls,
                    (int)(i - ls), r + ls);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char reply[1 << 20];
    struct shmd *d = &g_d;

    if (!d->queue)
        setup();
    /* counted at each input: libFuzzer opens pipes to its symbolizer between them */
    int fds0 = fz_count_fds();
    int fd = memfd_create("request", MFD_CLOEXEC);
    if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size) || lseek(fd, 0, SEEK_SET) != 0)
        fz_fail("memfd: %s", strerror(errno));
    int back = dup(fd);
    uint64_t bad0 = load_relaxed(&d->bad_messages);

    control_serve(d, fd); /* closes fd */

    ssize_t n = pread(back, reply, sizeof reply, (off_t)size);
    close(back);
    if (n < 0)
        fz_fail("reading the reply: %s", strerror(errno));
    bool malformed = size == 0 || data[size - 1] != '\0';
    check_reply(reply, (size_t)n, malformed);
    if (malformed && load_relaxed(&d->bad_messages) != bad0 + 1)
        fz_fail("a malformed request was not counted in bad_messages");

    store_lock(&d->store);
    const char *why = store_validate(&d->store);
    store_unlock(&d->store);
    if (why)
        fz_fail("store_validate after the request: %s", why);

    /* "stop" asked the main loop to stop: there is none, start over */
    if (load_relaxed(&d->stopping)) {
        uint64_t v;
        store_relaxed(&d->stopping, 0);
        while (read(d->wakefd, &v, sizeof v) == (ssize_t)sizeof v)
            ;
    }
    int fds = fz_count_fds();
    if (fds != fds0) {
        fz_list_fds();
        fz_fail("%d descriptors open after the request, %d before", fds, fds0);
    }
    return 0;
}
