/* zipf.c - replay a sequence of file opens, for the capacity tests
 * (tests/integration/test_pressure.c, which draws the sequence from a Zipf
 * distribution).
 *
 *   zipf DIR SEQFILE INSTDIR
 *
 * SEQFILE holds 16-bit little-endian file numbers; for each, open
 * DIR/z%04d, read it whole, check that its first line is "zipf file %04d",
 * close it. Prints "opens N tier N bad N": tier counts opens whose
 * descriptor was an object in INSTDIR (a hit), bad those whose bytes did
 * not name the file opened. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    static char buf[1 << 20];
    static uint16_t seq[1 << 20];

    if (argc != 4) {
        fprintf(stderr, "usage: zipf DIR SEQFILE INSTDIR\n");
        return 2;
    }
    const char *dir = argv[1], *inst = argv[3];
    size_t il = strlen(inst);
    int sf = open(argv[2], O_RDONLY | O_CLOEXEC);
    ssize_t sn = sf >= 0 ? read(sf, seq, sizeof seq) : -1;
    if (sn < 0) {
        perror(argv[2]);
        return 1;
    }
    close(sf);
    long count = sn / 2, tier = 0, bad = 0;
    for (long k = 0; k < count; k++) {
        char p[4096], link[4096], head[32];
        snprintf(p, sizeof p, "%s/z%04u", dir, (unsigned)seq[k]);
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            perror(p);
            return 1;
        }
        snprintf(head, sizeof head, "/proc/self/fd/%d", fd);
        ssize_t l = readlink(head, link, sizeof link - 1);
        if (l > 0 && (size_t)l > il && strncmp(link, inst, il) == 0 && link[il] == '/')
            tier++;
        ssize_t got = 0, r;
        while ((r = read(fd, buf + got, sizeof buf - (size_t)got)) > 0)
            got += r;
        close(fd);
        snprintf(head, sizeof head, "zipf file %04u\n", (unsigned)seq[k]);
        if (got < (ssize_t)strlen(head) || memcmp(buf, head, strlen(head)) != 0)
            bad++;
    }
    printf("opens %ld tier %ld bad %ld\n", count, tier, bad);
    return 0;
}
