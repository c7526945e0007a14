/* wrap_dir.c — DIR* streams, tracked like FILE* streams through dirfd(). */
#include "wrap.h"

#include <dirent.h>

FDL_EXPORT DIR *opendir(const char *path)
{
    FDL_NEED(opendir, NULL);
    DIR *d = REAL(opendir)(path);
    if (d)
        fdl_ret_fd(dirfd(d), __func__, FDL_F_DIR);
    else
        fdl_creation_failed();
    return d;
}

FDL_EXPORT DIR *fdopendir(int fd)
{
    FDL_NEED(fdopendir, NULL);
    DIR *d = REAL(fdopendir)(fd);
    if (d)
        fdl_note_flags(fd, FDL_F_DIR);
    return d;
}

FDL_EXPORT int closedir(DIR *d)
{
    FDL_NEED(closedir, -1);
    fdl_release(dirfd(d), FDL_REL_STREAM, FDL_CALLER); /* closedir(NULL) crashes in libc too */
    return REAL(closedir)(d);
}
