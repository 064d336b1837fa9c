/* cli_stop.c - `shmd stop`: ask the daemon to stop, then wait until it is
 * gone (its directory removed or its socket refusing), so that
 * `shmd stop && shmd` starts the next one without a clash. */
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shmd/cli.h"
#include "tier/clock.h"

#define GONE_WAIT_NS (10 * NS_PER_SEC) /* longer than the daemon's own bounded shutdown */
#define GONE_POLL_US 10000

int cli_stop(int argc, char **argv)
{
    struct cli c;
    int r = cli_opts("stop", argc, argv, &c, 0);
    if (r)
        return r == 1 ? 0 : r;
    if (optind < argc)
        return cli_usage_error("stop", "takes no operands");
    FILE *f = cli_request(c.dir, "stop", NULL, 0, false);
    if (!f)
        return 1;
    fclose(f);
    for (uint64_t end = mono_ns() + GONE_WAIT_NS; mono_ns() < end;) {
        struct stat st;
        if (stat(c.dir, &st) < 0)
            return 0;
        int s = cli_connect(c.dir, true);
        if (s < 0)
            return 0;
        close(s);
        usleep(GONE_POLL_US);
    }
    fprintf(stderr, "shmd stop: the daemon did not stop within %llu s\n",
            (unsigned long long)(GONE_WAIT_NS / NS_PER_SEC));
    return 1;
}
