/* region_hash.h — uthash with its memory from an fdl_region (never malloc: reports run in
 * signal handlers and vfork children). Before including it, define FDL_HASH_REGION as the
 * expression naming the region at every HASH_ADD (e.g. `s->region`); nothing is ever freed
 * one by one, the region goes as a whole. */
#ifndef FDL_REGION_HASH_H
#define FDL_REGION_HASH_H

#ifndef FDL_HASH_REGION
#error "define FDL_HASH_REGION (the region uthash allocates from) before including region_hash.h"
#endif

#include "util.h"

#define HASH_NONFATAL_OOM 1 /* out of memory: the add fails (hh.tbl NULL), the table stays usable */
#define uthash_malloc(sz) fdl_region_alloc(FDL_HASH_REGION, sz)
#define uthash_free(ptr, sz) ((void)(ptr), (void)(sz))
#include <uthash.h>

#endif
