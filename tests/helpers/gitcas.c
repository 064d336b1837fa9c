/* gitcas.c - a counter kept in a git ref and advanced by compare-and-swap
 * with real git, for tests/integration/test_lostupdate.c.
 *
 *   gitcas REPO REF M VALUES
 *
 * VALUES is a file of object names, one a line: line k is the object that
 * stands for the number k. M times: read the ref (`git -C REPO rev-parse
 * REF`), look up its number k, and `git -C REPO update-ref REF VALUE(k+1)
 * VALUE(k)`; when that fails (another writer got there first: the old value
 * did not match, or the ref was locked) start over. git's update-ref takes
 * REF.lock with O_CREAT|O_EXCL, reads the loose ref to check the old value,
 * writes the lock and renames it over the ref: every successful update-ref
 * advanced the counter by exactly one, so after all writers are done the
 * ref's number is the sum of their successes. A ref read that a cache
 * served from before the last rename lets two writers both advance k to
 * k+1, and the counter ends short.
 *
 * Prints "ok N tries T" (successful updates, update-ref attempts). Exit 1
 * when git cannot be run or answers with an object not in VALUES, 2 on bad
 * usage. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_VALUES 4096
#define MAX_TRIES 20000

static char *g_values[MAX_VALUES];
static int g_nvalues;

static void fail(const char *what)
{
    fprintf(stderr, "gitcas: %s: %s\n", what, errno ? strerror(errno) : "failed");
    exit(1);
}

/* Run git with args; its stdout into out (when not NULL), stderr to
 * /dev/null. Returns its exit status (-1: killed). */
static int git(const char *const *args, char *out, size_t outsz)
{
    int pfd[2];
    if (pipe(pfd) < 0)
        fail("pipe");
    pid_t pid = fork();
    if (pid < 0)
        fail("fork");
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(pfd[1], 1);
        dup2(null, 2);
        close(pfd[0]);
        execvp("git", (char *const *)args);
        _exit(127);
    }
    close(pfd[1]);
    size_t n = 0;
    char sink[256];
    for (;;) {
        char *dst = out && n < outsz - 1 ? out + n : sink;
        size_t room = out && n < outsz - 1 ? outsz - 1 - n : sizeof sink;
        ssize_t r = read(pfd[0], dst, room);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (dst != sink)
            n += (size_t)r;
    }
    close(pfd[0]);
    if (out)
        out[n] = '\0';
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            fail("waitpid");
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
        fail("exec git");
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int value_index(const char *name)
{
    for (int i = 0; i < g_nvalues; i++)
        if (strcmp(g_values[i], name) == 0)
            return i;
    return -1;
}

int main(int argc, char **argv)
{
    if (argc != 5 || atoi(argv[3]) < 0) {
        fprintf(stderr, "usage: gitcas REPO REF M VALUES\n");
        return 2;
    }
    const char *repo = argv[1], *ref = argv[2];
    int m = atoi(argv[3]);
    FILE *vf = fopen(argv[4], "r");
    if (!vf)
        fail(argv[4]);
    char line[128];
    while (g_nvalues < MAX_VALUES && fgets(line, sizeof line, vf)) {
        line[strcspn(line, "\n")] = '\0';
        g_values[g_nvalues++] = strdup(line);
    }
    fclose(vf);

    long ok = 0, tries = 0;
    for (int j = 0; j < m; j++) {
        for (;;) {
            char cur[128];
            if (++tries > MAX_TRIES) {
                errno = 0;
                fail("no update succeeded in 20000 attempts");
            }
            if (git((const char *const[]){"git", "-C", repo, "rev-parse", "--verify", "-q", ref,
                                          NULL},
                    cur, sizeof cur) != 0)
                continue; /* the ref was being replaced as we looked */
            cur[strcspn(cur, "\n")] = '\0';
            int k = value_index(cur);
            if (k < 0 || k + 1 >= g_nvalues) {
                errno = 0;
                fprintf(stderr, "gitcas: %s is %s, not one of the %d values\n", ref, cur,
                        g_nvalues);
                exit(1);
            }
            if (git((const char *const[]){"git", "-C", repo, "update-ref", ref,
                                          g_values[k + 1], g_values[k], NULL},
                    NULL, 0) == 0) {
                ok++;
                break;
            }
        }
    }
    printf("ok %ld tries %ld\n", ok, tries);
    return 0;
}
