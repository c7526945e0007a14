/* suppress.h — suppressions: rules that say which leaks are not the program's fault or are
 * accepted (FDLEAK_SUPPRESS files, plus a built-in default list). A suppressed leak is counted
 * in a report, not listed. */
#ifndef FDL_SUPPRESS_H
#define FDL_SUPPRESS_H

#include <stdbool.h>
#include <stddef.h>

struct fdl_site;
struct fdl_symbolizer;

/* Reads the rules: the built-in defaults (unless FDLEAK_DEFAULT_SUPPRESS=0) and each file of
 * FDLEAK_SUPPRESS (colon-separated). A bad line is named on stderr (file:line, why) and
 * skipped. Start-up only, with the thread marked busy; not thread-safe. */
void fdl_suppress_load(void);

/* Whether some rule matches a leak of this kind and description created at site (its native
 * frames named through sym, already queued there), in a report of a process the signal
 * killed_by ended (NULL: none). Reads only; safe wherever a report is. */
bool fdl_suppressed(const char *kind, const char *desc, const char *killed_by, const struct fdl_site *site,
                    struct fdl_symbolizer *sym);

/* Parses rules from text (one per line) into the table; origin names them in complaints.
 * Returns the number of bad lines. For fdl_suppress_load and the unit tests. */
int fdl_suppress_parse(const char *text, size_t len, const char *origin, int errfd);

/* Forgets every rule (unit tests). */
void fdl_suppress_clear(void);

/* "*" any run of characters, "?" one character, anything else itself. */
bool fdl_glob(const char *pattern, const char *s);

#endif
