/* report.h — a report: a snapshot of the table, grouped by site and symbolized, handed to a
 * writer (text or JSON) and delivered to FDLEAK_OUTPUT. */
#ifndef FDL_REPORT_H
#define FDL_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "describe.h"
#include "symbolize.h"
#include "table.h"
#include "util.h"

struct fdl_rep_fd {
    int fd;
    struct fdl_slot rec; /* copy of the table record (rec.site may be NULL) */
    struct fdl_fdinfo info;
    double age;          /* seconds since creation */
    size_t rank;         /* index of its site in fdl_report.sites (leaks only) */
};

struct fdl_rep_site {
    struct fdl_site *site;
    size_t nleaks;
    struct fdl_frame *frames; /* site->n_native entries */
};

struct fdl_report {
    const char *trigger, *label;
    int pid, ppid;
    char exe[1024];
    char *cmdline; /* argv joined by NULs */
    size_t cmdline_len;
    double time;
    uint64_t open, limit, peak;
    struct fdl_rep_fd *leaks, *inherited, *unattributed;
    size_t nleaks, ninherited, nunattributed;
    struct fdl_rep_site *sites; /* sites with leaks, most leaks first */
    size_t nsites;
    struct fdl_symbolizer *sym; /* owns the frames' strings */
};

/* Builds the report, writes it where FDLEAK_OUTPUT says, returns the number of leaks (or -1 if
 * it could not be built). Normal context only (allocates, symbolizes); thread-safe (a second
 * report at the same time builds its own snapshot). The calling thread is marked busy, so
 * whatever the report opens is fdleak's own. */
long fdl_report_now(const char *trigger, const char *label);

/* The site record of a report site, by id (NULL if absent). */
const struct fdl_rep_site *fdl_report_site(const struct fdl_report *r, const struct fdl_site *s);

void fdl_report_write_text(const struct fdl_report *r, struct fdl_buf *b);
void fdl_report_write_json(const struct fdl_report *r, struct fdl_buf *b);

#endif
