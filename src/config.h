/* config.h — every FDLEAK_* setting (declared once, in settings.def), parsed once from the
 * environment into one struct. */
#ifndef FDL_CONFIG_H
#define FDL_CONFIG_H

#include <stdbool.h>

enum fdl_format { FDL_FORMAT_TEXT, FDL_FORMAT_JSON };                     /* FDLEAK_FORMAT's words */
enum fdl_misuse_mode { FDL_MISUSE_REPORT, FDL_MISUSE_ABORT, FDL_MISUSE_IGNORE }; /* FDLEAK_MISUSE's */

#define FDL_PATH_MAX 1024
typedef char fdl_path[FDL_PATH_MAX];

/* The upper bound of each numeric setting, from the table: FDL_MAX_DEPTH, FDL_MAX_PYDEPTH … */
enum {
#define FDL_SETTING(NAME, TYPE, field, KIND, LO, HI, ...) FDL_MAX_##NAME = (long)(HI),
#define FDL_UNUSABLE_SIGNALS(names)
#include "settings.def"
#undef FDL_SETTING
#undef FDL_UNUSABLE_SIGNALS
};
#define FDL_DEPTH_MAX FDL_MAX_DEPTH
#define FDL_PYDEPTH_MAX FDL_MAX_PYDEPTH

/* One field per setting, as settings.def names and types it (its comments say what each
 * holds), plus what is derived from them. */
struct fdl_config {
#define FDL_SETTING(NAME, TYPE, field, ...) TYPE field;
#define FDL_UNUSABLE_SIGNALS(names)
#include "settings.def"
#undef FDL_SETTING
#undef FDL_UNUSABLE_SIGNALS
    bool interval_reports; /* FDLEAK_INTERVAL was given (not only FDLEAK_METRICS, which sets
                            * interval to 60 s when it is not) */
};

/* Fills *cfg from getenv_fn (getenv in the library, a table in the unit tests). Each invalid
 * value writes one line to errfd naming the variable, the value and what is accepted, and
 * leaves that field at its default. Returns the number of invalid values. Uses no malloc and
 * no stdio; not thread-safe for the same *cfg. */
int fdl_config_parse(struct fdl_config *cfg, const char *(*getenv_fn)(const char *), int errfd);

/* The process-wide settings, parsed on first use (thread-safe: racing parsers produce the same
 * struct; warnings print once). Read-only afterwards. */
const struct fdl_config *fdl_config(void);

#endif
