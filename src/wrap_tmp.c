/* wrap_tmp.c — calls that open a descriptor inside libc, out of an interposer's sight:
 * temporary files, pseudo-terminals, POSIX shared memory. */
#include "wrap.h"

#include <stdlib.h>
#include <sys/mman.h>

FDL_WRAP_FD_LIBC(mkstemp, (char *t), (t))
FDL_WRAP_FD_LIBC(mkstemp64, (char *t), (t))
FDL_WRAP_FD_LIBC(mkostemp, (char *t, int f), (t, f))
FDL_WRAP_FD_LIBC(mkostemp64, (char *t, int f), (t, f))
FDL_WRAP_FD_LIBC(mkstemps, (char *t, int s), (t, s))
FDL_WRAP_FD_LIBC(mkstemps64, (char *t, int s), (t, s))
FDL_WRAP_FD_LIBC(mkostemps, (char *t, int s, int f), (t, s, f))
FDL_WRAP_FD_LIBC(mkostemps64, (char *t, int s, int f), (t, s, f))
FDL_WRAP_FD_LIBC(posix_openpt, (int f), (f))
FDL_WRAP_FD_LIBC(getpt, (void), ())
FDL_WRAP_FD_LIBC(shm_open, (const char *n, int f, mode_t m), (n, f, m))
