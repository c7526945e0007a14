/* sys.h — fdleak's own system calls. The library wraps libc's syscall() (libuv closes through
 * it), so its own raw calls go straight to the kernel instead: no wrapper, no libc, no PLT. */
#ifndef FDL_SYS_H
#define FDL_SYS_H

#include <errno.h>
#include <sys/syscall.h>

/* syscall(2)'s contract (-1 and errno for a result in [-4095, -1]) with up to six arguments.
 * Async-signal-safe, fork- and vfork-safe: nothing but the instruction and errno. */
static inline long fdl_sys6(long nr, long a, long b, long c, long d, long e, long f)
{
    long ret;
#if defined(__x86_64__)
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = nr;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
    ret = x0;
#else
#error "fdleak: raw system calls (src/sys.h) are written for x86-64 and aarch64 only"
#endif
    if ((unsigned long)ret > -4096UL) {
        errno = (int)-ret;
        return -1;
    }
    return ret;
}

#define FDL_SYS_ARG_(x) ((long)(x))
#define FDL_SYS_PICK_(_1, _2, _3, _4, _5, _6, name, ...) name
#define FDL_SYS0_(n) fdl_sys6(n, 0, 0, 0, 0, 0, 0)
#define FDL_SYS1_(n, a) fdl_sys6(n, FDL_SYS_ARG_(a), 0, 0, 0, 0, 0)
#define FDL_SYS2_(n, a, b) fdl_sys6(n, FDL_SYS_ARG_(a), FDL_SYS_ARG_(b), 0, 0, 0, 0)
#define FDL_SYS3_(n, a, b, c) fdl_sys6(n, FDL_SYS_ARG_(a), FDL_SYS_ARG_(b), FDL_SYS_ARG_(c), 0, 0, 0)
#define FDL_SYS4_(n, a, b, c, d) \
    fdl_sys6(n, FDL_SYS_ARG_(a), FDL_SYS_ARG_(b), FDL_SYS_ARG_(c), FDL_SYS_ARG_(d), 0, 0)
#define FDL_SYS5_(n, a, b, c, d, e) \
    fdl_sys6(n, FDL_SYS_ARG_(a), FDL_SYS_ARG_(b), FDL_SYS_ARG_(c), FDL_SYS_ARG_(d), FDL_SYS_ARG_(e), 0)

/* fdl_sys(SYS_x, args…): what syscall(SYS_x, args…) does, for fdleak's own use. */
#define fdl_sys(...) \
    FDL_SYS_PICK_(__VA_ARGS__, FDL_SYS5_, FDL_SYS4_, FDL_SYS3_, FDL_SYS2_, FDL_SYS1_, FDL_SYS0_)(__VA_ARGS__)

#endif
