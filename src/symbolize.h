/* symbolize.h — turns raw return addresses into module, function and file:line when a report
 * is written: function names from the ELF symbol tables (static functions too, from .symtab),
 * file:line from addr2line where the module carries debug info. Memory comes from the caller's
 * region and addr2line runs as a clone child that sends no SIGCHLD, so this works in a signal
 * handler, a vfork child or _exit (modules come from /proc/self/maps, not from the loader's
 * locked list). Not thread-safe per symbolizer. */
#ifndef FDL_SYMBOLIZE_H
#define FDL_SYMBOLIZE_H

#include <stdint.h>

struct fdl_frame {
    uintptr_t pc;
    const char *module;   /* path, or NULL */
    uintptr_t offset;     /* address within the module's file (what addr2line takes) */
    const char *function; /* NULL when unknown */
    const char *file;     /* NULL when unknown */
    int line;             /* 0 when unknown */
};

struct fdl_symbolizer;
struct fdl_region;

/* Start-up (normal context): finds addr2line on PATH. Without it, no file:line. */
void fdl_sym_init(void);

/* All memory, including the strings handed out, lives in r until the caller frees it. */
struct fdl_symbolizer *fdl_sym_new(struct fdl_region *r);
/* Queue pc; names are looked up in one batch by fdl_sym_resolve. */
void fdl_sym_add(struct fdl_symbolizer *s, uintptr_t pc);
void fdl_sym_resolve(struct fdl_symbolizer *s);
/* Fills *out for pc (queued and resolved before). */
void fdl_sym_lookup(struct fdl_symbolizer *s, uintptr_t pc, struct fdl_frame *out);
/* Unmaps the module files it mapped (the region holds the rest). */
void fdl_sym_free(struct fdl_symbolizer *s);

#endif
