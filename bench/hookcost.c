/* hookcost.c - a fixed amount of hooked calls for counting instructions
 * with callgrind (bench/instr.sh): callgrind counts the same on a noisy
 * machine, so the shim's cost per call is a difference of two counts.
 *
 *   hookcost [-t] N CALL PATH
 *
 * CALL is one of
 *   open      open(PATH, O_RDONLY|O_CLOEXEC) and close, N times
 *   fopen     fopen(PATH, "re") and fclose, N times
 *   stat      stat(PATH), N times
 *   nostat    stat(PATH) that must fail with ENOENT, N times
 * With -t it also prints the wall time per call, "ns_per_call=X" (CLOCK_MONOTONIC
 * around the loop; bench/startup.sh's micro rows).
 * Exit 1 when a call fails (a broken setup must not produce a number). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int timed = argc > 1 && strcmp(argv[1], "-t") == 0;
    argv += timed;
    argc -= timed;
    if (argc != 4) {
        fprintf(stderr, "usage: hookcost [-t] N open|fopen|stat|nostat PATH\n");
        return 2;
    }
    long n = atol(argv[1]);
    const char *call = argv[2], *path = argv[3];
    struct stat st;
    struct timespec t0, t1;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < n; i++) {
        if (strcmp(call, "open") == 0) {
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0 || close(fd) < 0)
                return 1;
        } else if (strcmp(call, "fopen") == 0) {
            FILE *f = fopen(path, "re");
            if (!f || fclose(f) != 0)
                return 1;
        } else if (strcmp(call, "stat") == 0) {
            if (stat(path, &st) < 0)
                return 1;
        } else if (strcmp(call, "nostat") == 0) {
            if (stat(path, &st) == 0 || errno != ENOENT)
                return 1;
        } else {
            return 2;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (timed && n > 0)
        printf("ns_per_call=%.1f\n",
               ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / (double)n);
    return 0;
}
