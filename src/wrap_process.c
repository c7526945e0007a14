/* wrap_process.c — vfork. Its child borrows the parent's memory until it execs or exits, and
 * CPython's subprocess runs close/dup2/close_range there through libc: those calls must not
 * rewrite the parent's table. The wrapper marks the borrowed thread state for the child and
 * clears it when the parent resumes. */
#include "wrap.h"
#include "capture.h"
#include "report.h"
#include "tls.h"
#include "trigger.h"
#include "sys.h"

#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* The return address is kept off the stack: the child returns first and reuses the stack the
 * parent will return through (what the sanitizers' vfork interceptors do). */
__thread uintptr_t fdl_vfork_ret __attribute__((tls_model("initial-exec"), visibility("hidden")));

/* Called by the trampoline before the real vfork; fork() is a valid vfork if dlsym has not
 * answered yet. Not async-signal-safe on first use (dlsym). */
typedef pid_t (*fdl_vfork_fn)(void);
__attribute__((used, visibility("hidden"))) fdl_vfork_fn fdl_vfork_real(void)
{
    fdl_vfork_fn fn = REAL(vfork);
    fdl_tls.vfork_parent = (pid_t)fdl_raw_gettid();
    return fn ? fn : fork;
}

/* Runs in the child (result 0) and again in the parent when it resumes (child's pid or -1). */
__attribute__((used, visibility("hidden"))) void fdl_vfork_returned(int result)
{
    fdl_tls.vfork_child = result == 0;
    if (result == 0) {
        fdl_report_vfork_child();
        fdl_exec_forget();
    }
}

#if defined(__x86_64__)
__asm__(
    "    .text\n"
    "    .globl vfork\n"
    "    .type vfork, @function\n"
    "vfork:\n"
    "    .cfi_startproc\n"
    "    popq %rdi\n"                                /* our caller's return address */
    "    .cfi_adjust_cfa_offset -8\n"
    "    .cfi_undefined rip\n"                       /* it lives in TLS now: unwinders stop here */
    "    movq fdl_vfork_ret@gottpoff(%rip), %rax\n"
    "    movq %rdi, %fs:(%rax)\n"
    "    call fdl_vfork_real\n"
    "    call *%rax\n"                               /* child and parent both return here */
    "    pushq %rax\n"
    "    .cfi_adjust_cfa_offset 8\n"
    "    subq $8, %rsp\n"
    "    .cfi_adjust_cfa_offset 8\n"
    "    movl %eax, %edi\n"
    "    call fdl_vfork_returned\n"
    "    addq $8, %rsp\n"
    "    .cfi_adjust_cfa_offset -8\n"
    "    popq %rax\n"
    "    .cfi_adjust_cfa_offset -8\n"
    "    movq fdl_vfork_ret@gottpoff(%rip), %rcx\n"
    "    jmp *%fs:(%rcx)\n"
    "    .cfi_endproc\n"
    "    .size vfork, .-vfork\n");
#else
#warning "no vfork trampoline for this architecture: vfork children may disturb the parent's records"
#endif

/* ---- exec: the report of what crosses it is written before the real call ---- */

extern char **environ;

/* Runs one exec with the prepared environment; returns only if it failed. */
#define FDL_EXEC(call, envp)                                    \
    do {                                                        \
        struct fdl_region r_ = {0};                             \
        char **env_ = fdl_exec_prepare(&r_, (envp));            \
        int rc_ = (call);                                       \
        int e_ = errno;                                         \
        fdl_region_free(&r_);                                   \
        errno = e_;                                             \
        return rc_;                                             \
    } while (0)

FDL_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    FDL_EXEC(REAL(execve)(path, argv, env_), envp);
}

FDL_EXPORT int execv(const char *path, char *const argv[])
{
    FDL_EXEC(REAL(execve)(path, argv, env_), environ);
}

FDL_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    FDL_NEED(execvpe, -1);
    FDL_EXEC(REAL(execvpe)(file, argv, env_), envp);
}

FDL_EXPORT int execvp(const char *file, char *const argv[])
{
    FDL_NEED(execvpe, -1);
    FDL_EXEC(REAL(execvpe)(file, argv, env_), environ);
}

FDL_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    FDL_NEED(fexecve, -1);
    FDL_EXEC(REAL(fexecve)(fd, argv, env_), envp);
}

FDL_EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
    FDL_NEED(execveat, -1);
    FDL_EXEC(REAL(execveat)(dirfd, path, argv, env_, flags), envp);
}

/* The execl family: arguments up to the terminating NULL (execle: then envp). */
#define FDL_COLLECT_ARGS(argv, arg0, with_env, envp)                    \
    va_list ap_;                                                        \
    size_t n_ = 1;                                                      \
    va_start(ap_, arg0);                                                \
    while (va_arg(ap_, const char *))                                   \
        n_++;                                                           \
    va_end(ap_);                                                        \
    const char *argv[n_ + 1];                                           \
    char *const *envp = environ;                                        \
    argv[0] = arg0;                                                     \
    va_start(ap_, arg0);                                                \
    for (size_t i_ = 1; i_ <= n_; i_++)                                 \
        argv[i_] = va_arg(ap_, const char *);                           \
    if (with_env)                                                       \
        envp = va_arg(ap_, char *const *);                              \
    va_end(ap_)

FDL_EXPORT int execl(const char *path, const char *arg, ...)
{
    FDL_COLLECT_ARGS(argv, arg, 0, envp);
    FDL_EXEC(REAL(execve)(path, (char *const *)argv, env_), envp);
}

FDL_EXPORT int execle(const char *path, const char *arg, ...)
{
    FDL_COLLECT_ARGS(argv, arg, 1, envp);
    FDL_EXEC(REAL(execve)(path, (char *const *)argv, env_), envp);
}

FDL_EXPORT int execlp(const char *file, const char *arg, ...)
{
    FDL_NEED(execvpe, -1);
    FDL_COLLECT_ARGS(argv, arg, 0, envp);
    FDL_EXEC(REAL(execvpe)(file, (char *const *)argv, env_), envp);
}

/* ---- endings that skip atexit ---- */

FDL_EXPORT void _exit(int status)
{
    fdl_exit_now(&status);
    REAL(_exit)(status);
    for (;;)
        fdl_sys(SYS_exit_group, status);
}

FDL_EXPORT void _Exit(int status)
{
    fdl_exit_now(&status);
    REAL(_Exit)(status);
    for (;;)
        fdl_sys(SYS_exit_group, status);
}

/* ---- signal dispositions, as the program should see them (trigger_exit.c) ---- */

FDL_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    return fdl_sigaction(sig, act, old);
}

/* signal() keeps libc's own semantics (SA_RESTART unless siginterrupt() said otherwise); only
 * the default action of a signal fdleak handles goes through the sigaction filter. */
FDL_EXPORT __sighandler_t signal(int sig, __sighandler_t handler)
{
    return fdl_signal(sig, handler);
}

/* ---- the loader's object list, as libunwind asks for it (capture.c) ---- */

FDL_EXPORT int dl_iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *data)
{
    return fdl_capture_iterate_phdr(cb, data);
}

/* ---- the descriptor limit: the threshold and the EMFILE reserve follow it (trigger_live.c) ---- */

static int limit_set(int r, __rlimit_resource_t res, pid_t pid)
{
    if (r == 0 && res == RLIMIT_NOFILE && (pid == 0 || pid == (pid_t)fdl_sys(SYS_getpid)))
        fdl_limit_changed();
    return r;
}

FDL_EXPORT int setrlimit(__rlimit_resource_t res, const struct rlimit *rl)
{
    return limit_set(REAL(setrlimit)(res, rl), res, 0);
}

FDL_EXPORT int setrlimit64(__rlimit_resource_t res, const struct rlimit64 *rl)
{
    return limit_set(REAL(setrlimit64)(res, rl), res, 0);
}

FDL_EXPORT int prlimit(pid_t pid, __rlimit_resource_t res, const struct rlimit *rl, struct rlimit *old)
{
    return limit_set(REAL(prlimit)(pid, res, rl, old), rl ? res : (__rlimit_resource_t)-1, pid);
}

FDL_EXPORT int prlimit64(pid_t pid, __rlimit_resource_t res, const struct rlimit64 *rl, struct rlimit64 *old)
{
    return limit_set(REAL(prlimit64)(pid, res, rl, old), rl ? res : (__rlimit_resource_t)-1, pid);
}
