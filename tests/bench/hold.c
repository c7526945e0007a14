/* hold.c — scripts/bench's size workloads: what a report of many live descriptors costs, and
 * what fdleak's memory does with many live descriptors or with endless churn.
 *
 *   hold report N   open N descriptors (/dev/null) from 4 sites; print the resident memory
 *                   before and after, in bytes, and, under fdleak, how long fdleak_report()
 *                   took to write the report (FDLEAK_OUTPUT, FDLEAK_FORMAT), in seconds:
 *                       rss_before RSS rss_after RSS report_s SECONDS|-
 *   hold churn M    M creations and closes (eventfd) through 10 sites; print the resident
 *                   memory after the first tenth and at the end:
 *                       rss_tenth RSS rss_end RSS
 * It raises its soft RLIMIT_NOFILE to the hard limit and says so on stderr when N does not fit. */
#include "fdleak.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

static long rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%ld %ld", &pages, &resident) != 2) {
        perror("/proc/self/statm");
        exit(1);
    }
    fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Distinct creation sites: one call each. */
static __attribute__((noinline)) int site(int which, int how)
{
    int fd = -1;
    switch (which) {
    case 0: fd = how ? eventfd(0, 0) : open("/dev/null", O_RDONLY); break;
    case 1: fd = how ? eventfd(1, 0) : open("/dev/null", O_RDONLY); break;
    case 2: fd = how ? eventfd(2, 0) : open("/dev/null", O_RDONLY); break;
    case 3: fd = how ? eventfd(3, 0) : open("/dev/null", O_RDONLY); break;
    case 4: fd = eventfd(4, 0); break;
    case 5: fd = eventfd(5, 0); break;
    case 6: fd = eventfd(6, 0); break;
    case 7: fd = eventfd(7, 0); break;
    case 8: fd = eventfd(8, 0); break;
    default: fd = eventfd(9, 0); break;
    }
    if (fd < 0) {
        perror("hold: creating a descriptor");
        exit(1);
    }
    return fd;
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "report") && strcmp(argv[1], "churn"))) {
        fprintf(stderr, "usage: hold report N | hold churn M\n");
        return 2;
    }
    long n = atol(argv[2]);
    if (!strcmp(argv[1], "churn")) {
        long tenth = 0;
        for (long i = 0; i < n; i++) {
            close(site((int)(i % 10), 1));
            if (i == n / 10)
                tenth = rss_bytes();
        }
        printf("rss_tenth %ld rss_end %ld\n", tenth, rss_bytes());
        return 0;
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if ((rlim_t)n + 64 > rl.rlim_cur) {
        fprintf(stderr, "hold: %ld descriptors do not fit the hard limit %ld; asked for %ld\n",
                (long)rl.rlim_cur - 64, (long)rl.rlim_cur, n);
        return 3;
    }
    long before = rss_bytes();
    for (long i = 0; i < n; i++)
        site((int)(i % 4), 0);
    long after = rss_bytes();
    printf("rss_before %ld rss_after %ld report_s ", before, after);
    if (FDLEAK_CALL(fdleak_is_loaded)) {
        double t = now();
        FDLEAK_CALL(fdleak_report, "bench");
        printf("%.4f\n", now() - t);
    } else {
        printf("-\n");
    }
    return 0;
}
