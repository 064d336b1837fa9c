/* hookcost.c - a fixed amount of hooked calls for counting instructions
 * with callgrind (bench/instr.sh): callgrind counts the same on a noisy
 * machine, so the shim's cost per call is a difference of two counts.
 *
 *   hookcost N CALL PATH
 *
 * CALL is one of
 *   open      open(PATH, O_RDONLY|O_CLOEXEC) and close, N times
 *   fopen     fopen(PATH, "re") and fclose, N times
 *   stat      stat(PATH), N times
 *   nostat    stat(PATH) that must fail with ENOENT, N times
 * Exit 1 when a call fails (a broken setup must not produce a number). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: hookcost N open|fopen|stat|nostat PATH\n");
        return 2;
    }
    long n = atol(argv[1]);
    const char *call = argv[2], *path = argv[3];
    struct stat st;

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
    return 0;
}
