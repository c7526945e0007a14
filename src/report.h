/* report.h — a report: a snapshot of the table and the misuse log, grouped by site and
 * symbolized (report_build.c), handed to a writer (report_text.c, report_json.c,
 * report_metrics.c) and delivered to FDLEAK_OUTPUT (report_deliver.c). Building and writing
 * use only a private mmap region and system calls (no malloc, no stdio, no locks of fdleak's),
 * so a report can be made at exit, in _exit, in a fatal-signal handler or in a vfork child
 * about to exec. */
#ifndef FDL_REPORT_H
#define FDL_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "describe.h"
#include "lineage.h"
#include "misuse.h"
#include "sites.h"
#include "symbolize.h"
#include "table.h"
#include "util.h"

struct fdl_rep_fd {
    int fd;
    struct fdl_slot rec; /* copy of the table record (rec.site may be NULL) */
    struct fdl_fdinfo info;
    double age;          /* seconds since creation */
    size_t rank;         /* index of its site in fdl_report.sites (leaks only) */
    const struct fdl_parent_site *parent; /* crossed exec from the parent, if it said so */
    uint64_t site_created, site_closed;   /* its site's counts, read with the table */
};

struct fdl_rep_site {
    struct fdl_site *site; /* NULL: leaks with no stack */
    size_t nleaks;
    struct fdl_frame *frames; /* site->n_native entries */
    uint64_t created, closed; /* read once per report (closed first: never above created) */
    bool growing;             /* its open count grows (findings.c growth(), as a place's does) */
    double per_hour;          /* … by this much per hour */
    bool named;               /* symbolized even when the text report does not list it */
    bool holds;               /* holds what its place's finding reports (findings.c) */
    const char *at;           /* its place: app frame or innermost own frame (NULL: none) */
    size_t place;             /* index in places, FDL_NO_PLACE */
    size_t next_in_place;     /* the next site of its place (index in sites), FDL_NO_PLACE */
    uint32_t *hist;           /* its open count at each of snap's snapshots (NULL: none) */
    uint32_t *floors[FDL_FLOOR_TIERS]; /* its floors at each tier's windows in snap (NULL: none) */
    size_t first_flow, nflows; /* its connections per endpoint: flows[first_flow…] */
};

#define FDL_NO_PLACE ((size_t)-1)

/* A (site, endpoint) flow as this report read it. */
struct fdl_rep_flow {
    const struct fdl_flow *flow;
    size_t site; /* index in sites */
    uint64_t created, closed;
};

/* Descriptors counted by kind, in the order the kinds were first seen (names.c writes them:
 * "3 files and 3 sockets"); kinds beyond FDL_KINDS_MAX are counted in `more`. */
#define FDL_KINDS_MAX 6
struct fdl_kind_count {
    const char *kind[FDL_KINDS_MAX];
    uint64_t n[FDL_KINDS_MAX], more;
    unsigned nkinds;
};

/* A place: the sites that share one label (findings.c). */
struct fdl_place {
    const char *at;
    size_t first_site;              /* its sites: first_site, then their next_in_place */
    uint64_t open, created, closed; /* open: its descriptors listed in this report */
    double oldest;                  /* age of its oldest listed descriptor, seconds */
    int growing;
    double per_hour;
    bool claimed;                   /* its open descriptors named by a finding already */
    bool churned;                   /* named pool-per-operation (for what it closed) */
    bool foreign;                   /* no frame of the program's code: one library call for all */
    unsigned growth_snaps;          /* growing: the snapshots the rule looked at */
    bool by_floor;                  /* … its floors rose (slow growth), not each snapshot */
    const struct fdl_rep_fd *first; /* its first listed descriptor … */
    const char *peer;               /* … and the peer all of them go to (NULL: none or mixed) */
    struct fdl_kind_count kinds;    /* its listed descriptors by kind */
};

#define FDL_FINDING_SITES 8
struct fdl_finding {
    const char *pattern, *advice; /* static strings */
    char title[512];
    char peer[128];               /* "" when none */
    struct fdl_finding_site {
        size_t place;
        uint64_t open, created, closed;
    } sites[FDL_FINDING_SITES];
    unsigned nsites, nplaces_total;
    uint64_t open, created, closed;
    double oldest, median, p90, per_hour; /* seconds, or per hour; -1 = not evidence here */
    double exhaustion_s;                  /* growing: seconds until the soft limit at this rate; -1 */
    unsigned snapshots;
};

struct fdl_rep_error {
    enum fdl_misuse_kind what;
    int fd;
    struct fdl_site *site;   /* creating site, listed in sites */
    struct fdl_site *stack_site, *first_site; /* the bad call's stack; the earlier close's */
    struct fdl_frame *stack, *first_close;    /* … symbolized */
    unsigned nstack, nfirst;
    uint64_t count;
};

struct fdl_report_opts {
    const char *trigger;  /* "exit", "signal", "interval", "threshold", "emfile", "exec", "api" */
    const char *label;    /* api: the caller's label */
    const char *signal;   /* exit by a fatal signal: its name */
    bool crossing;        /* exec: list descriptors about to cross it as errors */
    struct fdl_site *exec_stack; /* … and the stack of the exec call */
    bool shown_only;      /* symbolize only the sites the text report shows (not for JSON or
                             metrics, which list every site) */
    uint64_t since, until; /* api: only descriptors created in (since, until] (monotonic ns;
                              until 0 = now), and only their sites; since 0 = everything */
    const char *path;     /* api: write JSON here instead of where FDLEAK_OUTPUT says */
};

struct fdl_report {
    struct fdl_report_opts o;
    unsigned seq;       /* number of this report in the process image */
    int pid, ppid;
    char exe[1024];
    char cwd[1024];     /* "" if unknown: Python files under it are shown relative to it */
    char *cmdline; /* argv joined by NULs */
    size_t cmdline_len;
    double time;
    uint64_t mono;      /* CLOCK_MONOTONIC at `time`: snapshot times are converted with it */
    uint64_t open, limit, peak, errors_dropped;
    double growth_per_hour, exhaustion_s; /* the growing places together, and when the soft
                                             limit is reached at that rate; -1: none growing */
    size_t nsuppressed; /* leaks matched by a suppression: counted, not listed */
    struct fdl_rep_fd *leaks, *inherited, *unattributed;
    size_t nleaks, ninherited, nunattributed;
    size_t nstale; /* records whose number holds another object now: closed unseen, not leaks */
    struct fdl_rep_site *sites; /* leak sites first (most leaks first), then every other site
                                   that created a descriptor, or that an entry refers to */
    size_t nsites, nleak_sites;
    struct fdl_site_ix *site_ix, *ix_mem; /* sites by address (fdl_report_site) … */
    bool ix_ok;                           /* … complete (else looked up one by one) */
    struct fdl_rep_error *errors;
    size_t nerrors;
    struct fdl_snapview snap;   /* growth snapshots as they were when the report was built */
    struct fdl_rep_flow *flows; /* grouped by site (fdl_rep_site.first_flow) */
    size_t nflows;
    struct fdl_place *places;
    size_t nplaces;
    struct fdl_finding *findings;
    size_t nfindings, capfindings;
    struct fdl_region region; /* owns everything above */
    struct fdl_symbolizer *sym;
};

/* Builds a report in r (everything in r->region), in stages: snapshot, suppress, errors, group
 * by site, findings' preparation, names, the process, findings. fdl_report_free releases it.
 * Same safety as fdl_report_now, whose skeleton calls it (the caller marks the thread busy). */
void fdl_report_build(struct fdl_report *r, const struct fdl_report_opts *o);
void fdl_report_free(struct fdl_report *r);

/* Builds the report, writes it where FDLEAK_OUTPUT says, returns the number of leaks (or -1 if
 * it could not be built). Every trigger (exit, signal, interval, threshold, emfile, exec, api)
 * calls it. Thread-safe (one report at a time, each in its own region) and async-signal-safe
 * as described above. The calling thread is marked busy, so whatever the report opens is
 * fdleak's own. Preserves errno. */
long fdl_report_now(const struct fdl_report_opts *o);

/* Report numbers (%n, and the ".N" of a second report of one pid): the number the next
 * report will carry; restarting the count at base (after fork: 1; after exec: where the image
 * before it stopped); and a fresh count for a vfork child, whose memory is its parent's. */
unsigned fdl_report_next_seq(void);
void fdl_report_reset_seq(unsigned base);
void fdl_report_vfork_child(void);

/* After fork: a report another thread of the parent was writing does not exist here. */
void fdl_report_forked(void);

/* The program's argv as the library's constructor got it: what a report names when
 * /proc/self/cmdline cannot be read (no descriptor free at EMFILE). Start-up only. */
void fdl_report_keep_argv(int argc, char **argv);

/* Rewrites the metrics file (pattern: FDLEAK_METRICS, %p expanded): a report built and run like
 * fdl_report_now's (same safety), written by fdl_report_write_metrics. */
void fdl_metrics_write(const char *pattern);

/* FDLEAK_MISUSE=abort: describes one misuse on stderr before the abort (report_text.c). */
void fdl_report_misuse_now(enum fdl_misuse_kind what, int fd, struct fdl_site *site,
                           struct fdl_site *stack, struct fdl_site *first_close);

/* What counts as a leak, for a descriptor the table records as open: one the program created
 * and holds. Not one inherited (open before fdleak started, or the parent's across fork); and
 * on 0–2 not a standard stream the program put in place (dup2(log, 2), freopen(…, stdout): a
 * test runner's capture, a daemon's /dev/null), while a socket that landed on fd 0 after
 * close(0) is a leak. kind is fdl_describe's: a char device or a tty on 0–2 is a standard
 * stream too. Its two callers differ only in what they know:
 * - the report (report_build.c) describes every descriptor, and passes kind; it also drops
 *   what the kernel says is closed, calls everything inherited in a vfork child (the parent's),
 *   and leaves out what a Python process created while finalizing (FDL_F_LATE) except in an
 *   exec report;
 * - fdleak_list (api.c) only reads the table (async-signal-safe, cheap enough for a test
 *   runner's every test) and passes NULL: a char device or tty opened with open() onto 0–2
 *   counts there; it always leaves FDL_F_LATE out.
 * Thread-safe, async-signal-safe. */
bool fdl_is_leak(int fd, const struct fdl_slot *rec, const char *kind);

/* The report's record of a site (NULL if absent). */
const struct fdl_rep_site *fdl_report_site(const struct fdl_report *r, const struct fdl_site *s);

void fdl_report_write_text(const struct fdl_report *r, struct fdl_buf *b);
void fdl_report_write_json(const struct fdl_report *r, struct fdl_buf *b);
void fdl_report_write_metrics(const struct fdl_report *r, struct fdl_buf *b);

#endif
