/* debug.c - where a failed internal check ends (see debug.h). */
#include <stdio.h>
#include <stdlib.h>

#include "shmd/debug.h"

void shmd_check_failed(const char *what, const char *file, int line)
{
    fprintf(stderr, "shmd: internal check failed: %s (%s:%d)\n", what, file, line);
    abort();
}
