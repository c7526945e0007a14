/* wrap_pipe.c — pipes. libunwind opens its own pipe through pipe2 too; the core recognises it
 * by the caller and keeps it out of the program's way. */
#include "wrap.h"

#include <unistd.h>

FDL_EXPORT int pipe(int fds[2])
{
    int r = REAL(pipe)(fds);
    if (r == 0)
        fdl_created_pair(fds, __func__, FDL_CALLER);
    return r;
}

FDL_EXPORT int pipe2(int fds[2], int flags)
{
    int r = REAL(pipe2)(fds, flags);
    if (r == 0)
        fdl_created_pair(fds, __func__, FDL_CALLER);
    return r;
}
