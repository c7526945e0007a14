/* wrap_open.c — the open family: open, openat, creat, their 64 names and the fortify
 * variants (_FORTIFY_SOURCE turns open(p, f) into __open_2). */
#include "wrap.h"

int __open_2(const char *, int);
int __open64_2(const char *, int);
int __openat_2(int, const char *, int);
int __openat64_2(int, const char *, int);

FDL_EXPORT int open(const char *path, int flags, ...)
{
    FDL_VA_MODE(mode, flags, flags);
    return fdl_ret_fd(REAL(open)(path, flags, mode), __func__, 0);
}

FDL_EXPORT int open64(const char *path, int flags, ...)
{
    FDL_VA_MODE(mode, flags, flags);
    return fdl_ret_fd(REAL(open64)(path, flags, mode), __func__, 0);
}

FDL_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
    FDL_VA_MODE(mode, flags, flags);
    return fdl_ret_fd(REAL(openat)(dirfd, path, flags, mode), __func__, 0);
}

FDL_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
    FDL_VA_MODE(mode, flags, flags);
    return fdl_ret_fd(REAL(openat64)(dirfd, path, flags, mode), __func__, 0);
}

FDL_WRAP_FD(__open_2, (const char *path, int flags), (path, flags))
FDL_WRAP_FD(__open64_2, (const char *path, int flags), (path, flags))
FDL_WRAP_FD(__openat_2, (int dirfd, const char *path, int flags), (dirfd, path, flags))
FDL_WRAP_FD(__openat64_2, (int dirfd, const char *path, int flags), (dirfd, path, flags))
FDL_WRAP_FD(creat, (const char *path, mode_t mode), (path, mode))
FDL_WRAP_FD(creat64, (const char *path, mode_t mode), (path, mode))
FDL_WRAP_FD(open_by_handle_at, (int mountfd, struct file_handle *h, int flags), (mountfd, h, flags))
