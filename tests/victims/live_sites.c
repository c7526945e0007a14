/* live_sites: a service's history in one run — 300 distinct call paths that each opened and
 * closed a descriptor (idle sites), one that keeps 3 files — then a report on SIGUSR1, which
 * it sends itself, and its exit. Prints its ground truth: `idle 300`, `kept <fd>…`.
 * tests/check_sites.py counts what the signal and exit reports list. */
#include "victim.h"

#define IDLE 300
#define BITS 9 /* 2^9 paths through fa/fb: 300 distinct stacks */

VICTIM_FN void leaf(void)
{
    int fd = open("/dev/null", O_RDONLY);
    V_CHECK(fd >= 0);
    close(fd);
}

VICTIM_FN void fb(unsigned path, int level);

/* Each level calls fa or fb by one bit of path: every path is its own stack. */
VICTIM_FN void fa(unsigned path, int level)
{
    if (!level) {
        leaf();
        return;
    }
    (path & 1 ? fb : fa)(path >> 1, level - 1);
    __asm__ volatile("" ::: "memory"); /* no tail call */
}

VICTIM_FN void fb(unsigned path, int level)
{
    if (!level) {
        leaf();
        return;
    }
    (path & 1 ? fb : fa)(path >> 1, level - 1);
    __asm__ volatile("" ::: "memory");
}

VICTIM_FN int keep_file(void)
{
    int fd = open("/dev/null", O_RDONLY);
    V_CHECK(fd >= 0);
    return fd;
}

int main(void)
{
    for (unsigned p = 0; p < IDLE; p++)
        fa(p, BITS);
    printf("idle %d\nkept", IDLE);
    for (int i = 0; i < 3; i++)
        printf(" %d", keep_file());
    printf("\n");
    fflush(stdout);
    raise(SIGUSR1);
    return 0;
}
