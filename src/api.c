/* api.c — the public C API (include/fdleak.h). Every call is thread-safe; none is
 * async-signal-safe except fdleak_is_loaded, fdleak_checkpoint, fdleak_list and fdleak_list_sites
 * (they only read the table). */
#include "capture_python.h"
#include "fdleak.h"
#include "report.h"
#include "sites.h"
#include "table.h"
#include "trigger.h"
#include "util.h"

#define FDL_EXPORT __attribute__((visibility("default")))

FDL_EXPORT int fdleak_is_loaded(void) { return 1; }

FDL_EXPORT long fdleak_report(const char *label)
{
    struct fdl_report_opts o = {.trigger = "api", .label = label};
    return fdl_report_now(&o);
}

/* A point in time on the clock every record's creation is stamped with (monotonic ns). */
FDL_EXPORT fdleak_checkpoint_t fdleak_checkpoint(void) { return fdl_now_mono_ns(); }

/* One scan serves both: a caller that wants sites gets each number's own, read with it from
 * one record (a separate lookup could meet a number closed and reused meanwhile). */
FDL_EXPORT long fdleak_list_sites(fdleak_checkpoint_t since, fdleak_checkpoint_t until, int *fds,
                                  unsigned *sites, long max)
{
    long n = 0;
    struct fdl_slot *s, rec;
    for (int fd = 0; (s = fdl_table_next(&fd, INT32_MAX)); fd++) {
        if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != FDL_SLOT_OPEN || !fdl_slot_read(s, &rec) ||
            rec.state != FDL_SLOT_OPEN || (rec.flags & FDL_F_LATE) || rec.created_ns <= since ||
            (until && rec.created_ns > until) || !fdl_is_leak(fd, &rec, 0)) /* the table's view: no kind */
            continue;
        if (n < max) {
            if (fds)
                fds[n] = fd;
            if (sites)
                sites[n] = rec.site ? rec.site->id : 0;
        }
        n++;
    }
    return n;
}

FDL_EXPORT long fdleak_list(fdleak_checkpoint_t since, fdleak_checkpoint_t until, int *fds, long max)
{
    return fdleak_list_sites(since, until, fds, 0, max);
}

FDL_EXPORT long fdleak_count_since(fdleak_checkpoint_t since) { return fdleak_list(since, 0, 0, 0); }

FDL_EXPORT long fdleak_report_since(fdleak_checkpoint_t since, fdleak_checkpoint_t until, const char *label,
                                    const char *path)
{
    struct fdl_report_opts o = {.trigger = "api", .label = label, .since = since ? since : 1, .until = until,
                                .path = path && *path ? path : 0};
    return fdl_report_now(&o);
}

/* For the Python start-up hook (scripts/python/sitecustomize.py), through _fdleak: asyncio
 * is creating a task for coro. Called with the GIL held. */
FDL_EXPORT int fdleak_py_task_created(void *coro) { return fdl_py_task_created(coro); }
FDL_EXPORT void fdleak_py_task_done(void *coro) { fdl_py_task_done(coro); }
FDL_EXPORT int fdleak_py_task_known(void *coro) { return fdl_py_task_known(coro); }
FDL_EXPORT int fdleak_py_handoff(void *obj, int kind) { return fdl_py_handoff(obj, kind); }
FDL_EXPORT int fdleak_py_run_begin(void *obj) { return fdl_py_run_begin(obj); }
FDL_EXPORT void fdleak_py_run_end(void *obj, int token) { fdl_py_run_end(obj, token); }
/* The start-up hook's first atexit callback, the last to run: the program is done, CPython is
 * about to finalize, every thread still runs. The exit report is taken here rather than when
 * the teardown first closes something (or at exit(), when nothing is closed then): by exit()
 * the interpreter is gone, and daemon threads that wake up meanwhile crash CPython 3.10 (its
 * own defect, whose window a slow report at exit() widens). */
FDL_EXPORT void fdleak_py_exiting(void)
{
    /* A subinterpreter's hook registers it too, and runs it when that interpreter ends. */
    if (fdl_py_runtime() && fdl_py_main_interpreter())
        fdl_exit_report(0);
}

FDL_EXPORT int fdleak_py_selftest(const char *file, int line, const char *function)
{
    return file && function ? fdl_py_selftest(file, line, function) : -1;
}
