/* lineage.h — descriptors that cross exec keep their creation site: before exec the process
 * names each crossing descriptor's site in an environment variable of the new program
 * (FDLEAK_LINEAGE), which reads it at start-up and lists those descriptors as inherited
 * "from the parent", with the parent's function. Report sequence numbers cross exec the same
 * way, so reports of one pid before and after exec get distinct file names. */
#ifndef FDL_LINEAGE_H
#define FDL_LINEAGE_H

#include <stddef.h>

struct fdl_region;

struct fdl_parent_site {
    int fd, pid, line;
    const char *via, *function, *module, *file; /* NULL when unknown */
};

/* Reads and removes FDLEAK_LINEAGE from the environment (start-up, single-threaded). Returns
 * the number the image before exec gave its next report, for the report numbering to continue
 * from (lifecycle.c sets it), or 0 when there is none. */
unsigned fdl_lineage_load(void);

/* The parent's site for an inherited fd, or NULL. */
const struct fdl_parent_site *fdl_lineage_find(int fd);

/* A copy of envp (in region r) with FDLEAK_LINEAGE describing every descriptor that will cross
 * exec, and the next report number. Returns envp unchanged if there is nothing to add or no
 * memory. Async-signal-safe (region memory, raw syscalls): usable in a vfork child. */
char **fdl_lineage_env(struct fdl_region *r, char *const envp[], unsigned next_seq);

#endif
