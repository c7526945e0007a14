/* lifecycle.c — the library's start-up, in order (the constructor), and its one set of fork
 * handlers: every module's part, listed here in the order it runs. Nothing else registers any. */
#include "capture.h"
#include "children.h"
#include "diag.h"
#include "capture_python.h"
#include "config.h"
#include "core.h"
#include "lineage.h"
#include "misuse.h"
#include "real.h"
#include "report.h"
#include "sites.h"
#include "suppress.h"
#include "symbolize.h"
#include "tls.h"
#include "trigger.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

/* ---- fork ----
 * One pthread_atfork registration. pthread_atfork runs prepare handlers in the reverse order of
 * registration and parent/child handlers in the order of registration; before this file there
 * were four registrations (capture.c, then core.c, trigger_exit.c and trigger_live.c, in the
 * order start-up reached them), so the effective order was the one below, which is kept.
 * capture.c registered on its first use, which could come before the constructor (a wrapper
 * called by another library's constructor); the handlers now apply from start-up on, so a fork
 * before it (on the one thread a process has then) lets libunwind use the real object list. */

/* Before fork, in the forking thread: only capture has anything to do (no new capture starts,
 * those in flight finish, the list of loaded objects is copied). Not async-signal-safe (it
 * waits up to a tenth of a second), like fork's own prepare handlers. */
static void fork_prepare(void) { fdl_capture_fork_prepare(); }

/* After fork, in the parent: captures may start again. */
static void fork_parent(void) { fdl_capture_fork_parent(); }

/* After fork, in the child: single-threaded, before fork() returns there. The child is another
 * process with the parent's table and sites; whatever was per-process starts afresh. It gets no
 * interval thread (start-up is not run again): a thread would make every forked child
 * multithreaded (unshare(CLONE_NEWUSER) fails there, CPython 3.12 warns). */
static void fork_child(void)
{
    fdl_capture_fork_child(); /* capture: libunwind reads the copied object list */
    fdl_tls.tid = 0;          /* core: this thread's cached tid is the parent's */
    fdl_sites_forked();       /* sites: no snapshot under way; growth is the child's own */
    fdl_report_reset_seq(1);  /* report: numbering starts again at 1 */
    fdl_report_forked();      /*         a report the parent was writing is not this one */
    fdl_misuse_forget();      /* misuse: an empty log */
    fdl_core_fork_child();    /* core: the parent's open descriptors are FDL_F_FORKED */
    fdl_exit_fork_child();    /* exit trigger: its own exit report and code */
    fdl_exec_forget();        /* exec trigger: its own exec report */
}

/* ---- hooks: what the recording layer hands up (core.h fdl_hooks) ---- */

/* CPython ran the program's atexit callbacks and now tears modules down, closing every socket
 * and file the program left open: the exit report is taken here, before the first of them. */
static void on_py_finalizing(void) { fdl_exit_report(0); }

/* FDLEAK_MISUSE=abort: the misuse, described on stderr before misuse.c aborts. */
static void on_misuse_abort(enum fdl_misuse_kind what, int fd, struct fdl_site *site, struct fdl_site *stack,
                            struct fdl_site *first_close)
{
    fdl_report_misuse_now(what, fd, site, stack, first_close);
}

/* exit() has begun: registered first, so the last atexit handler before the destructors, by
 * which time an interpreter that main() ran has finalized. */
static void exit_begins(void) { fdl_py_exit_begins(); }

/* ---- start-up ---- */

/* The recording layer, with the thread marked busy (whatever it opens is fdleak's own) and
 * errno kept: the real functions, settings, the fork handlers, libunwind (its code ranges, its
 * warm-up), CPython's frame layout, the symbolizer's tool, the suppressions, and every
 * descriptor already open (inherited). The fork handlers come where capture.c used to register
 * its own, the first of the four; the others now apply from the same moment, and do nothing
 * new there (no exit or exec report yet; a child's numbering starts at 1 anyway). */
static void start_recording(void)
{
    int saved = errno;
    fdl_tls.busy++;
    fdl_real_ensure();
    fdl_config();
    fdl_children_decide(); /* which processes of the tree report: before anything is said */
    if (fdl_children_silent())
        fdl_diag_mute();
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    fdl_capture_init();
    fdl_py_init();
    fdl_sym_init();
    fdl_suppress_load();
    fdl_core_mark_inherited();
    fdl_tls.busy--;
    errno = saved;
}

/* Wrappers called before this (other libraries' constructors run first) work already: they
 * resolve the real functions and start capture lazily. Single-threaded, like every
 * constructor; not async-signal-safe. */
__attribute__((constructor)) static void fdl_start(int argc, char **argv, char **envp)
{
    (void)envp;
    fdl_report_keep_argv(argc, argv); /* glibc passes main's arguments to constructors */
    fdl_hooks.misuse_abort = on_misuse_abort;
    unsigned seq = fdl_lineage_load(); /* the image before exec: its report numbering goes on */
    if (seq)
        fdl_report_reset_seq(seq);
    start_recording();
    fdl_pymodule_register();
    fdl_hooks.py_finalizing = on_py_finalizing;
    atexit(exit_begins);
    fdl_signals_install();
    fdl_hooks.threshold = fdl_live_on_threshold;
    fdl_hooks.emfile = fdl_live_on_emfile;
    fdl_live_start();
}
