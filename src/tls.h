/* tls.h — the little per-thread state fdleak keeps. It is initial-exec TLS so that reading it
 * never enters __tls_get_addr (which can lock and allocate): safe in signal handlers. */
#ifndef FDL_TLS_H
#define FDL_TLS_H

#include <stdint.h>
#include <sys/types.h>

struct fdl_tls {
    int busy;      /* > 0 while this thread is inside fdleak (unwinding, reporting) */
    int resolving; /* inside fdl_real_init: dlsym may call back into wrappers */
    pid_t tid;     /* cached gettid(); 0 = unknown (reset in the child after fork) */
    int vfork_child; /* this thread's memory is being borrowed by a vfork() child … */
    pid_t vfork_parent; /* … of this thread (its tid), which sees the flag clear */
    uintptr_t py_tstate; /* the CPython thread state this thread last ran with (0: none) */
    unsigned py_runs;    /* hand-offs this thread is running, innermost last (capture_python.c): */
    struct fdl_py_run {
        uintptr_t cut;   /* the hook's frame that runs it: the walk stops there … */
        void *origin;    /* … and appends this interned stack (struct fdl_pykey) … */
        unsigned kind;   /* … of this kind (enum fdl_origin) */
    } py_run[8];
};


extern __thread struct fdl_tls fdl_tls __attribute__((tls_model("initial-exec"), visibility("hidden")));

/* Bail-out test for every core entry point: a vfork child runs on its parent's memory (this
 * very TLS block), so nothing it does may touch the table. The flag is raised in the child and
 * cleared when the parent resumes; a signal handled by the parent in between (delivered the
 * moment vfork returns) must not see it, hence the tid check (a syscall only while raised). */
long fdl_raw_gettid(void);
static inline int fdl_in_vfork_child(void)
{
    return __builtin_expect(fdl_tls.vfork_child, 0) && fdl_raw_gettid() != fdl_tls.vfork_parent;
}

#endif
