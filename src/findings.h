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

#endif
