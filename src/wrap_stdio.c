/* wrap_stdio.c — FILE* streams. glibc opens and closes their descriptors with internal calls
 * no interposer sees, so streams are tracked at their own level: the descriptor is read with
 * fileno() after opening and before closing. */
#include "wrap.h"

#include <stdio.h>

static int stream_fd(FILE *f)
{
    int saved = errno;
    int fd = f ? fileno(f) : -1; /* -1 for memory streams: nothing to track */
    errno = saved;
    return fd;
}

static FILE *opened(FILE *f, const char *via)
{
    if (f)
        fdl_ret_fd(stream_fd(f), via, FDL_F_STREAM);
    else
        fdl_creation_failed();
    return f;
}

#define FDL_WRAP_STREAM(name, params, args) \
    FDL_EXPORT FILE *name params            \
    {                                       \
        FDL_NEED(name, NULL);               \
        return opened(REAL(name) args, #name); \
    }

FDL_WRAP_STREAM(fopen, (const char *path, const char *mode), (path, mode))
FDL_WRAP_STREAM(fopen64, (const char *path, const char *mode), (path, mode))
FDL_WRAP_STREAM(tmpfile, (void), ())
FDL_WRAP_STREAM(tmpfile64, (void), ())
FDL_WRAP_STREAM(popen, (const char *cmd, const char *mode), (cmd, mode))

/* The descriptor was created (and is tracked) already; the stream now owns it. */
FDL_EXPORT FILE *fdopen(int fd, const char *mode)
{
    FDL_NEED(fdopen, NULL);
    FILE *f = REAL(fdopen)(fd, mode);
    if (f)
        fdl_note_flags(fd, FDL_F_STREAM);
    return f;
}

/* freopen closes the stream's descriptor whatever happens next, then opens a new one. */
#define FDL_WRAP_FREOPEN(name)                                                     \
    FDL_EXPORT FILE *name(const char *path, const char *mode, FILE *f)             \
    {                                                                              \
        FDL_NEED(name, NULL);                                                      \
        fdl_release(stream_fd(f), FDL_REL_STREAM, FDL_CALLER);                                     \
        return opened(REAL(name)(path, mode, f), #name);                           \
    }
FDL_WRAP_FREOPEN(freopen)
FDL_WRAP_FREOPEN(freopen64)

#define FDL_WRAP_STREAM_CLOSE(name)                                                \
    FDL_EXPORT int name(FILE *f)                                                   \
    {                                                                              \
        FDL_NEED(name, EOF);                                                       \
        fdl_release(stream_fd(f), FDL_REL_STREAM, FDL_CALLER);                                     \
        return REAL(name)(f);                                                      \
    }
FDL_WRAP_STREAM_CLOSE(fclose)
FDL_WRAP_STREAM_CLOSE(pclose)
