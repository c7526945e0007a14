/* live_growth: one site that grows, one that holds a constant number of descriptors and one
 * that churns (opens and closes, never holding any), for FDLEAK_INTERVAL snapshots
 * (tests/check_live.py interval, interval-text).
 *
 * usage: victim-live_growth STEP_MS STEPS HOLD_MS FLAT
 *   hold_flat opens FLAT descriptors at once (more than grow_one will ever hold, so a report
 *   ordered by leak count alone would list it first); then every STEP_MS grow_one opens one
 *   more and churn_step opens and closes one, STEPS times; then the victim holds still for
 *   HOLD_MS (grow_one's count stops rising: no longer growing) and exits.
 * It prints `growth-rate <descriptors per hour>` and `duration <seconds>` for the checker. */
#include "victim.h"

#include <time.h>

static char *path;

VICTIM_FN void hold_flat(void)
{
    int fd = open(path, O_RDONLY);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "growth.dat", "open", 0);
}

VICTIM_FN void grow_one(void)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "growth.dat", "open", 1);
}

VICTIM_FN void churn_step(void)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    V_CHECK(fd >= 0);
    V_CHECK(close(fd) == 0);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        V_CHECK(errno == EINTR);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: victim-live_growth STEP_MS STEPS HOLD_MS FLAT\n");
        return 2;
    }
    long step = atol(argv[1]), steps = atol(argv[2]), hold = atol(argv[3]);
    long flat = atol(argv[4]);
    V_CHECK(step > 0 && step <= 10000 && steps > 0 && steps <= 1000 && hold >= 0 &&
            hold <= 60000 && flat >= 0 && flat <= 1000);
    v_begin();
    path = v_make_file("growth.dat");
    for (long i = 0; i < flat; i++)
        hold_flat();
    v_say("growth-rate %.1f", 3600.0 * 1000.0 / (double)step);
    v_say("duration %.3f", (double)(step * steps + hold) / 1000.0);
    for (long i = 0; i < steps; i++) {
        sleep_ms(step);
        grow_one();
        churn_step();
    }
    sleep_ms(hold);
    return v_finish();
}
