/* api.c — the public C API (include/fdleak.h). */
#include "capture_python.h"
#include "fdleak.h"
#include "report.h"

#define FDL_EXPORT __attribute__((visibility("default")))

FDL_EXPORT int fdleak_is_loaded(void) { return 1; }

FDL_EXPORT long fdleak_report(const char *label)
{
    struct fdl_report_opts o = {.trigger = "api", .label = label};
    return fdl_report_now(&o);
}

/* For the Python start-up hook (scripts/python/sitecustomize.py), through ctypes.PyDLL: asyncio
 * is creating a task for coro. Called with the GIL held. */
FDL_EXPORT int fdleak_py_task_created(void *coro) { return fdl_py_task_created(coro); }
FDL_EXPORT void fdleak_py_task_done(void *coro) { fdl_py_task_done(coro); }
