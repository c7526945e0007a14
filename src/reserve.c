/* reserve.c — the report's way out of a full descriptor table: slots held below the soft
 * limit and given up one at a time to fdleak's own opens, else a lift of the soft limit. */
#include "reserve.h"
#include "core.h"
#include "tls.h"
#include "util.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/resource.h>

/* Two: the most a report holds at once (/proc/self/fd and its listing; a pipe). */
#define RESERVE 2
static int reserve[RESERVE] = {-1, -1}; /* -1 when given up, or taken over by the program */
static _Atomic int depth;               /* reports running: one, or one and its nested ones */
static _Atomic int given;               /* slots given up since the first of them began */
static struct rlimit lifted_from;       /* the soft limit before a lift … */
static _Atomic int lifted;              /* … while one is in effect */

static bool soft_limit(struct rlimit *rl) { return !fdl_sys(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, rl); }

/* fdl_own_open's hook: one more slot for a report that found the table full. */
static bool spare(void)
{
    if (fdl_in_vfork_child() || !__atomic_load_n(&depth, __ATOMIC_ACQUIRE))
        return false; /* outside a report (start-up reads) the table is the program's business */
    struct rlimit rl = {0}; /* filled by the kernel (the analyzer cannot see into fdl_sys) */
    bool known = soft_limit(&rl);
    for (int i = 0; i < RESERVE; i++) {
        int fd = __atomic_exchange_n(&reserve[i], -1, __ATOMIC_ACQ_REL);
        if (fd < 0)
            continue;
        if (known && (rlim_t)fd >= rl.rlim_cur) { /* above a limit lowered since: frees nothing usable */
            __atomic_store_n(&reserve[i], fd, __ATOMIC_RELEASE);
            continue;
        }
        fdl_drop_internal(fd);
        __atomic_fetch_add(&given, 1, __ATOMIC_RELAXED);
        return true;
    }
    if (!known || rl.rlim_cur >= rl.rlim_max || __atomic_exchange_n(&lifted, 1, __ATOMIC_ACQ_REL))
        return false;
    struct rlimit more = rl;
    more.rlim_cur = rl.rlim_max - rl.rlim_cur > 16 ? rl.rlim_cur + 16 : rl.rlim_max;
    lifted_from = rl;
    if (fdl_sys(SYS_prlimit64, 0, RLIMIT_NOFILE, &more, 0)) {
        __atomic_store_n(&lifted, 0, __ATOMIC_RELEASE);
        return false;
    }
    return true;
}

void fdl_reserve_fill(void)
{
    if (fdl_in_vfork_child())
        return;
    fdl_own_spare = spare;
    for (int i = 0; i < RESERVE; i++) {
        if (__atomic_load_n(&reserve[i], __ATOMIC_ACQUIRE) >= 0)
            continue;
        int fd = (int)fdl_sys(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return;
        int high = fdl_internal_dup(fd, &reserve[i]);
        if (high >= 0)
            fdl_sys(SYS_close, fd);
        else /* the table had this one slot: it is the reserve */
            high = fdl_internal_keep(fd, &reserve[i]);
        __atomic_store_n(&reserve[i], high, __ATOMIC_RELEASE);
    }
}

void fdl_reserve_begin(void)
{
    if (!fdl_in_vfork_child())
        __atomic_fetch_add(&depth, 1, __ATOMIC_ACQ_REL);
}

void fdl_reserve_end(void)
{
    if (fdl_in_vfork_child() || __atomic_sub_fetch(&depth, 1, __ATOMIC_ACQ_REL))
        return;
    if (__atomic_load_n(&lifted, __ATOMIC_ACQUIRE)) {
        fdl_sys(SYS_prlimit64, 0, RLIMIT_NOFILE, &lifted_from, 0);
        __atomic_store_n(&lifted, 0, __ATOMIC_RELEASE);
    }
    if (__atomic_exchange_n(&given, 0, __ATOMIC_ACQ_REL))
        fdl_reserve_fill();
}

unsigned long fdl_reserve_soft_limit(void)
{
    struct rlimit rl = {0}; /* filled by the kernel (the analyzer cannot see into fdl_sys) */
    if (__atomic_load_n(&lifted, __ATOMIC_ACQUIRE))
        return (unsigned long)lifted_from.rlim_cur;
    return soft_limit(&rl) ? (unsigned long)rl.rlim_cur : 0;
}
