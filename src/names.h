/* names.h — how reports name things: sites and places, frames ("function (file:line)"),
 * Python files, peers, counts and durations. Shared by the text, JSON and metrics writers,
 * the findings and the suppression rules. Every function only formats what it is given (no
 * locks, no allocation, no system calls): thread-safe, async-signal-safe and fork-safe. */
#ifndef FDL_NAMES_H
#define FDL_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct fdl_kind_count;
struct fdl_frame;
struct fdl_pyframe;
struct fdl_pystack;
struct fdl_report;
struct fdl_rep_site;
struct fdl_site;

/* The part of path after its last '/' (path itself without one; NULL for NULL). */
const char *fdl_base_name(const char *path);

/* "function (file.c:12)": the file by its base name, "???" for a frame without a name, no
 * parentheses without a file. */
void fdl_put_where(struct fdl_buf *b, const char *function, const char *file, int line);

/* Which native frames are not the program's own code, by their module's path. Two rules, for
 * two questions:
 * - a system module: a library in a system directory (/lib/, /usr/lib/, …) or fdleak itself.
 *   A site is labelled by its innermost frame outside them (fdl_site_label).
 * - an interpreter module: python… or libpython… (wherever installed: a pyenv build is not in
 *   a system directory, and /usr/bin/python3 is not a library). A Python site's native stack
 *   is shown in text down to the first such frame.
 * A Python *source* file of the standard library or a package is a third question, answered
 * while the stack is captured (fdl_py_library_file, capture_python.c: it picks the app frame). */
bool fdl_system_module(const char *module);
bool fdl_interpreter_module(const char *module);

/* The short stable name of a site: its innermost frame in the program's own code (not in a
 * system module), else its innermost frame, as "function (file:line)" ("module+0xoffset"
 * without a function name); "unknown" without frames, "inherited" without a site. Written
 * into out. */
void fdl_site_label(const struct fdl_rep_site *s, char *out, size_t cap);
/* The same with up to `own` frames of the program's own code, innermost first, joined by
 * " from ": tells apart two places that create through one helper. */
void fdl_site_label_n(const struct fdl_rep_site *s, unsigned own, char *out, size_t cap);

/* A site's place label (rs->at): the Python app frame, else the two innermost frames of the
 * program's own code (fdl_site_label_n). */
void fdl_site_at(const struct fdl_report *r, const struct fdl_rep_site *s, char *out, size_t cap);

/* Names that stay across runs, rebuilds, machines and edits elsewhere in a file: hashes of
 * what frames are (module or source file name, and function), never of addresses or lines,
 * as 16 hex digits. A site's key hashes all its frames (JSON sites[].key); a place's, the
 * frames its label names (the metrics' key label). Need the site's frames named. */
void fdl_site_key(const struct fdl_rep_site *s, char out[17]);
void fdl_place_key(const struct fdl_rep_site *s, char out[17]);

/* A site's Python stack with its text (NULL: none, or no frames). */
const struct fdl_pystack *fdl_site_pystack(const struct fdl_site *site);

/* A Python file relative to the report's working directory when under it. */
const char *fdl_report_pyfile(const struct fdl_report *r, const char *file);

/* "handlers/poll.py:18 in handle_poll" (the file as fdl_report_pyfile gives it). */
void fdl_put_pyframe(const struct fdl_report *r, struct fdl_buf *b, const struct fdl_pyframe *f);

/* The peer in a descriptor's description: what follows " -> " up to the next space (the
 * kernel's getpeername, as describe.c writes it); nothing when there is none. */
void fdl_put_desc_peer(struct fdl_buf *b, const char *desc);

/* "1 site", "3 sites". */
void fdl_put_plural(struct fdl_buf *b, uint64_t n, const char *one, const char *many);

/* Counts descriptors of one more kind (report-time only; no locking). */
void fdl_kind_count_add(struct fdl_kind_count *c, const char *kind);

/* A count with thousands separated: "1,024", "20,000". */
void fdl_put_count(struct fdl_buf *b, uint64_t n);

/* A time ahead, as a person says it: "40 seconds", "12 minutes", "5.5 hours", "3.2 days". */
void fdl_put_eta(struct fdl_buf *b, double seconds);

/* "3 files and 3 sockets", "1 pipe descriptor", "2 epoll descriptors, 1 file and 4 more". */
void fdl_put_kind_counts(struct fdl_buf *b, const struct fdl_kind_count *c);

/* A duration for people: "850 µs", "12 ms", "3.4 s", "2.0 min", "5.1 h". */
void fdl_buf_duration(struct fdl_buf *b, double seconds);

#endif
