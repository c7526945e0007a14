/* trigger_live.c — reports while the program runs: every FDLEAK_INTERVAL seconds (with the
 * growth snapshot and the metrics file), when the open count crosses FDLEAK_THRESHOLD, and the
 * first time a creation call fails with EMFILE/ENFILE. */
#include "trigger.h"
#include "config.h"
#include "core.h"
#include "report.h"
#include "reserve.h"
#include "sites.h"
#include "tls.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* ---- interval ---- */

/* The interval thread blocks every signal (the program's handlers run on the program's
 * threads) and opens no descriptor of the program's. */
static void *interval_main(void *arg)
{
    (void)arg;
    const struct fdl_config *cfg = fdl_config();
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (;;) {
        double step = cfg->interval;
        next.tv_sec += (time_t)step;
        next.tv_nsec += (long)((step - (double)(time_t)step) * 1e9);
        if (next.tv_nsec >= 1000000000) {
            next.tv_sec++;
            next.tv_nsec -= 1000000000;
        }
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, 0) == EINTR)
            ;
        if (cfg->interval_reports) { /* a snapshot per report (metrics alone: lazy ones) */
            fdl_sites_snapshot();
            struct fdl_report_opts o = {.trigger = "interval"};
            if (!fdl_exit_reported()) /* after it, a report would describe the teardown */
                fdl_report_now(&o);
        }
        if (cfg->metrics[0])
            fdl_metrics_write(cfg->metrics);
    }
    return 0;
}

static void start_interval(void)
{
    if (fdl_config()->interval <= 0)
        return;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 512 * 1024);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* inherited by the new thread */
    pthread_t t;
    static int warned;
    if (pthread_create(&t, &attr, interval_main, 0)) {
        fdl_warn_once(&warned, "could not start the interval thread; no interval reports");
    } else {
        pthread_setname_np(t, "fdleak");
        if (fdl_config()->interval_reports)
            fdl_sites_thread_snapshots();
    }
    pthread_sigmask(SIG_SETMASK, &old, 0);
    pthread_attr_destroy(&attr);
}

/* ---- threshold ---- */

void fdl_live_on_threshold(uint64_t open)
{
    (void)open;
    struct fdl_report_opts o = {.trigger = "threshold"};
    fdl_report_now(&o);
}

static void set_threshold(void)
{
    long t = fdl_config()->threshold;
    struct rlimit rl;
    if (t < 0 && !getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY)
        t = (long)((uint64_t)rl.rlim_cur * (uint64_t)-t / 100);
    fdl_set_threshold(t > 0 ? (uint64_t)t : 0);
}

/* ---- EMFILE ---- */

/* One report of a process out of descriptors, the first time: its files come from the
 * reserve (reserve.c), given up one at a time as the report opens them. */
static int emfile_done;

void fdl_live_on_emfile(void)
{
    if (__atomic_exchange_n(&emfile_done, 1, __ATOMIC_ACQ_REL))
        return;
    struct fdl_report_opts o = {.trigger = "emfile"};
    fdl_report_now(&o);
}

void fdl_limit_changed(void)
{
    int saved = errno;
    if (fdl_config()->threshold < 0)
        set_threshold();
    errno = saved;
}

void fdl_live_start(void)
{
    set_threshold();
    fdl_reserve_fill();
    start_interval();
}
