/* fdleak.h — the public API of fdleak, the file-descriptor leak detector.
 *
 * fdleak is normally preloaded (LD_PRELOAD, or the `fdleak` launcher) into a program that knows
 * nothing about it. These calls let a program or a test runner ask it for more: whether it is
 * there, and a report now rather than at exit.
 *
 * To keep a program runnable without fdleak, do not link against libfdleak: look the symbols
 * up at run time (dlsym(RTLD_DEFAULT, "fdleak_report")) or declare them weak, and call them
 * only when they resolve. From Python: ctypes.CDLL(None).fdleak_report, guarded by hasattr.
 */
#ifndef FDLEAK_H
#define FDLEAK_H

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when fdleak is loaded in this process. Thread-safe, async-signal-safe. */
int fdleak_is_loaded(void);

/* Writes a report of what is open now (trigger "api", with label as "label" when not NULL)
 * where FDLEAK_OUTPUT says, in FDLEAK_FORMAT. Returns the number of leaked descriptors listed,
 * or -1 if no report could be built. Thread-safe; not async-signal-safe (it allocates and
 * symbolizes): do not call it from a signal handler. */
long fdleak_report(const char *label);

#ifdef __cplusplus
}
#endif

#endif
