/* regress: a library that keeps a log file open for the process lifetime and closes it in its
 * own destructor (after writing "!\n"), like logging libraries, sqlite, libcurl do. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
static int logfd = -1;
int pool_log(const char *path, const char *msg)
{
    if (logfd < 0)
        logfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (logfd >= 0 && write(logfd, msg, strlen(msg)) < 0)
        return -1;
    return logfd;
}
__attribute__((destructor)) static void pool_fini(void)
{
    if (logfd >= 0) {
        if (write(logfd, "!\n", 2) != 2)
            _exit(9);
        close(logfd);
    }
}
