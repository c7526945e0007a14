/* wrap_pipe.c — pipes. libunwind opens its own pipe through pipe2 too; the core recognises it
 * by the caller and keeps it out of the program's way. */
#include "wrap.h"

#include <unistd.h>

FDL_EXPORT int pipe(int fds[2])
{
    return fdl_ret_pair(REAL(pipe)(fds), fds, __func__, FDL_CALLER);
}

FDL_EXPORT int pipe2(int fds[2], int flags)
{
    return fdl_ret_pair(REAL(pipe2)(fds, flags), fds, __func__, FDL_CALLER);
}
