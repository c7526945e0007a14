/* config.h — every FDLEAK_* setting, parsed once from the environment into one struct. */
#ifndef FDL_CONFIG_H
#define FDL_CONFIG_H

#include <stdbool.h>

enum fdl_format { FDL_FORMAT_TEXT, FDL_FORMAT_JSON };
enum fdl_misuse_mode { FDL_MISUSE_REPORT, FDL_MISUSE_ABORT, FDL_MISUSE_IGNORE };

#define FDL_DEPTH_MAX 256
#define FDL_PATH_MAX 1024

struct fdl_config {
    enum fdl_format format;        /* FDLEAK_FORMAT=text|json */
    char output[FDL_PATH_MAX];     /* FDLEAK_OUTPUT: "" means stderr */
    int depth;                     /* FDLEAK_DEPTH=1..256 native frames kept per site */
    int exitcode;                  /* FDLEAK_EXITCODE=0..255, -1 = leave the status alone */
    bool quiet;                    /* FDLEAK_QUIET=0|1 */
    bool exec_report;              /* FDLEAK_EXEC=report|ignore */
    enum fdl_misuse_mode misuse;   /* FDLEAK_MISUSE=report|abort|ignore */
    int report_signal;             /* FDLEAK_SIGNAL=NAME|NUMBER|none; 0 = none */
    double interval;               /* FDLEAK_INTERVAL=SECONDS; 0 = off */
    bool interval_reports;         /* FDLEAK_INTERVAL was given (not only FDLEAK_METRICS) */
    long threshold;                /* FDLEAK_THRESHOLD=N|P%|none: N > 0, -P for P%, 0 = none */
    char metrics[FDL_PATH_MAX];    /* FDLEAK_METRICS=PATH; "" = off */
    int growth_k;                  /* FDLEAK_GROWTH=K (2..16) snapshots for "growing" */
    double snapshot;               /* FDLEAK_SNAPSHOT=SECONDS|off between growth snapshots; 0 = off */
    long churn_min;                /* FDLEAK_CHURN_MIN=N connections for pool-per-operation */
    double churn_life;             /* FDLEAK_CHURN_LIFE=SECONDS: … with a median life below this */
    int pydepth;                   /* FDLEAK_PYDEPTH=0..64 Python frames per site; 0 = off */
    bool pyorigin;                 /* FDLEAK_PYORIGIN=1|0: asyncio task origins */
    char suppress[FDL_PATH_MAX];   /* FDLEAK_SUPPRESS=FILE[:FILE…]: suppression rules */
    bool default_suppress;         /* FDLEAK_DEFAULT_SUPPRESS=1|0: the built-in rules */
};

#define FDL_GROWTH_MAX 16
#define FDL_PYDEPTH_MAX 64

/* Fills *cfg from getenv_fn (getenv in the library, a table in the unit tests). Each invalid
 * value writes one line to errfd naming the variable, the value and what is accepted, and
 * leaves that field at its default. Returns the number of invalid values. Uses no malloc and
 * no stdio; not thread-safe for the same *cfg. */
int fdl_config_parse(struct fdl_config *cfg, const char *(*getenv_fn)(const char *), int errfd);

/* The process-wide settings, parsed on first use (thread-safe: racing parsers produce the same
 * struct; warnings print once). Read-only afterwards. */
const struct fdl_config *fdl_config(void);

#endif
