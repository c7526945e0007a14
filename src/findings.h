/* findings.h — what a report concludes (never-closed, duplicate-clients, pool-per-operation,
 * growing) and the per-site connection statistics behind it. Called by fdl_report_build;
 * region memory only, no locks, async-signal-safe like the rest of report building. */
#ifndef FDL_FINDINGS_H
#define FDL_FINDINGS_H

#include "report.h"

/* Before symbolization: the snapshot view and every (site, endpoint) flow of the report's
 * sites (r->flows, grouped by site); marks the sites a finding may name (rs->named). */
void fdl_findings_prepare(struct fdl_report *r);

/* After symbolization and with r->leaks in place: places (rs->at, r->places) and findings. */
void fdl_findings_build(struct fdl_report *r);

/* A site's place label (rs->at): the Python app frame, else the innermost frame of the
 * program's own code (fdl_site_label). */
void fdl_site_at(const struct fdl_report *r, const struct fdl_rep_site *s, char *out, size_t cap);

/* A site's Python stack with its text (NULL: none, or no frames). */
const struct fdl_pystack *fdl_site_pystack(const struct fdl_site *site);

/* A Python file relative to the report's working directory when under it. */
const char *fdl_report_pyfile(const struct fdl_report *r, const char *file);

/* A duration for people: "850 µs", "12 ms", "3.4 s", "2.0 min", "5.1 h". */
void fdl_buf_duration(struct fdl_buf *b, double seconds);

#endif
