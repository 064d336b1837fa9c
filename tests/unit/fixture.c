/* fixture.c - see fixture.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/fixture.h"
#include "tier/hash.h"

static void remove_dir_contents(int dirfd)
{
    int fd = dup(dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *de;

    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    rewinddir(d);
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            unlinkat(dirfd, de->d_name, 0);
    closedir(d);
}

int fx_setup(void **state, uint32_t slots, uint64_t capacity)
{
    struct fx *f = calloc(1, sizeof *f);
    struct store_params p = {
        .slots = slots, .capacity = capacity, .max_file = capacity,
        .revalidate_ms = 1000, .settle_ms = 1000,
    };

    if (!f)
        return -1;
    strcpy(f->dir, "/dev/shm/shmcache-unit-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    chmod(f->dir, 0700);
    f->dirfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (f->dirfd < 0 || store_create(&f->s, f->dirfd, &p) < 0) {
        if (f->dirfd >= 0)
            close(f->dirfd);
        rmdir(f->dir);
        free(f);
        return -1;
    }
    f->created = true;
    *state = f;
    return 0;
}

int fx_teardown(void **state)
{
    struct fx *f = *state;

    if (!f)
        return 0;
    if (f->created)
        store_destroy(&f->s, true);
    remove_dir_contents(f->dirfd);
    close(f->dirfd);
    rmdir(f->dir);
    pthread_mutex_destroy(&f->s.lock);
    free(f);
    return 0;
}

void key_make(const struct fx *f, const char *path, struct key *k)
{
    int n = path_normalize(path, NULL, false, k->k, sizeof k->k);
    if (n < 0)
        fail_msg("path_normalize(%s) failed", path);
    k->len = (size_t)n;
    k->hash = tier_hash(f->s.view.hash_seed, k->k, k->len);
}

bool object_exists(const struct fx *f, uint64_t id)
{
    int fd = dup(f->dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *de;
    bool found = false;

    if (!d) {
        if (fd >= 0)
            close(fd);
        return false;
    }
    rewinddir(d);
    while (!found && (de = readdir(d))) {
        uint64_t g, i;
        uint32_t r;
        found = tier_object_parse(de->d_name, &g, &i, &r) && g == f->s.view.generation && i == id;
    }
    closedir(d);
    return found;
}
