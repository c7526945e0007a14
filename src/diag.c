/* diag.c — fdleak's own messages on the program's stderr, and the stderr copy that lets an exit
 * report arrive after the program closed fd 2 (see diag.h). */
#include "diag.h"
#include "config.h"
#include "core.h"
#include "table.h"
#include "util.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where stderr reports go once the program let go of its stderr, and the copy's holder. */
static int saved_stderr = -1;

void fdl_keep_stderr(void)
{
    if (fdl_config()->output[0] || __atomic_load_n(&saved_stderr, __ATOMIC_ACQUIRE) >= 0)
        return;
    int saved = errno;
    struct stat st;
    /* Never a pipe or socket: a reader waits for EOF there, and our copy would withhold it. */
    if (!fstat(2, &st) && !S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode)) {
        int fd = fdl_internal_dup(2, &saved_stderr);
        int expect = -1;
        if (fd >= 0 && !__atomic_compare_exchange_n(&saved_stderr, &expect, fd, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            fdl_drop_internal(fd); /* another thread kept one first */
    }
    errno = saved;
}

/* fd 2 while it is the program's stderr — the one it started with, or one it put there on
 * purpose (dup2, freopen) — else the copy kept when the program let go of it, else -1 (a data
 * file that landed on fd 2 after close(2) must not receive a report). */
int fdl_stderr_fd(void)
{
    struct fdl_slot *s = fdl_table_slot(2, false), rec;
    if (fdl_sys(SYS_fcntl, 2, F_GETFD) >= 0) {
        if (!s || __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != FDL_SLOT_OPEN || !fdl_slot_read(s, &rec) ||
            (rec.flags & (FDL_F_INHERITED | FDL_F_FORKED)) || fdl_is_redirect(rec.via) || rec.state != FDL_SLOT_OPEN)
            return 2;
    }
    return __atomic_load_n(&saved_stderr, __ATOMIC_ACQUIRE);
}

static int muted;

void fdl_diag_mute(void) { __atomic_store_n(&muted, 1, __ATOMIC_RELAXED); }

void fdl_say(const char *a, const char *b, const char *c)
{
    if (__atomic_load_n(&muted, __ATOMIC_RELAXED))
        return;
    char mem[2048];
    struct fdl_buf m;
    fdl_buf_init_mem(&m, mem, sizeof mem);
    fdl_buf_puts(&m, "fdleak: ");
    fdl_buf_puts(&m, a);
    fdl_buf_puts(&m, b);
    fdl_buf_puts(&m, c);
    fdl_buf_putc(&m, '\n');
    fdl_write_all(fdl_stderr_fd(), m.data, m.len);
}

void fdl_warn_once(int *flag, const char *msg)
{
    if (__atomic_exchange_n(flag, 1, __ATOMIC_RELAXED) || __atomic_load_n(&muted, __ATOMIC_RELAXED))
        return;
    int fd = fdl_stderr_fd(); /* never a data file that landed on fd 2 */
    fdl_write_all(fd, "fdleak: ", 8);
    fdl_write_all(fd, msg, strlen(msg));
    fdl_write_all(fd, "\n", 1);
}
