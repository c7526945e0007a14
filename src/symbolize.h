/* symbolize.h — turns raw return addresses into module, function and file:line when a report
 * is written: function names from the ELF symbol tables (static functions too, from .symtab),
 * file:line from addr2line where the module carries debug info. Normal context only: it
 * allocates, maps files and may start addr2line. Not thread-safe per symbolizer. */
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

struct fdl_symbolizer *fdl_sym_new(void);
/* Queue pc; names are looked up in one batch by fdl_sym_resolve. */
void fdl_sym_add(struct fdl_symbolizer *s, uintptr_t pc);
void fdl_sym_resolve(struct fdl_symbolizer *s);
/* Fills *out for pc (queued and resolved before); strings live until fdl_sym_free. */
void fdl_sym_lookup(struct fdl_symbolizer *s, uintptr_t pc, struct fdl_frame *out);
void fdl_sym_free(struct fdl_symbolizer *s);

#endif
