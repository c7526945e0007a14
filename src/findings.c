/* findings.c — the resource anti-patterns a report names. A finding is about a place — the
 * app frame, the line of the program's own code where descriptors are created — since one
 * line can make several sites (other native paths into it, the interpreter's specialised
 * instructions). What a place holds is named by at most one finding, decided in this order:
 *   growing             its open count rose over the last FDLEAK_GROWTH snapshots, is still
 *                       that high, and it holds descriptors of this process's own;
 *   pool-per-operation  it opened at least FDLEAK_CHURN_MIN stream connections to one peer,
 *                       closed nearly all (9 in 10), median life under FDLEAK_CHURN_LIFE,
 *                       ten times as many as were ever open at once;
 *   duplicate-clients   two or more places hold stream connections to one peer right now
 *                       (connections fdleak saw made, or sockets it saw created: not dups);
 *   never-closed        (exit reports) it still holds descriptors at exit.
 * pool-per-operation names what a place closed, so a churning place that also keeps some (a
 * Node.js program's one connecting place, whose churn passes the test or not by timing) still
 * has them named never-closed at exit. They are listed most urgent first: growing, never-closed, duplicate-clients, pool-per-op. */
#include "findings.h"
#include "capture_python.h"
#include "config.h"
#include "flows.h"
#include "names.h"
#include "sites.h"

#include <string.h>

#define FDL_HASH_REGION region /* a variable of that name is in scope at every HASH_ADD */
#include "region_hash.h"

#define AT_MAX 384
#define PEER_MAX 128

/* ---- before symbolization: flows and which sites need names ---- */

struct flow_acc {
    struct fdl_report *r;
    size_t cap;
};

static void count_flow(struct fdl_flow *f, void *arg)
{
    (void)f;
    ((struct flow_acc *)arg)->cap++;
}

static void collect_flow(struct fdl_flow *f, void *arg)
{
    struct flow_acc *a = arg;
    const struct fdl_rep_site *rs = fdl_report_site(a->r, f->site);
    if (!rs || a->r->nflows == a->cap)
        return; /* a site this report does not list, or a flow made since we counted */
    struct fdl_rep_flow *e = &a->r->flows[a->r->nflows++];
    e->flow = f;
    e->site = (size_t)(rs - a->r->sites);
    e->closed = __atomic_load_n(&f->closed, __ATOMIC_ACQUIRE); /* closed first: never above created */
    e->created = __atomic_load_n(&f->created, __ATOMIC_ACQUIRE);
    if (e->closed > e->created)
        e->closed = e->created;
}

static int cmp_flow(const void *a, const void *b)
{
    const struct fdl_rep_flow *x = a, *y = b;
    if (x->site != y->site)
        return x->site < y->site ? -1 : 1;
    return x->created > y->created ? -1 : x->created < y->created;
}

/* Its open count rose over the snapshots the growth test looks at: it may be (part of) a
 * growing place. */
static bool rising(const struct fdl_report *r, const struct fdl_rep_site *s)
{
    unsigned k = (unsigned)fdl_config()->growth_k, n = r->snap.n;
    return s->hist && n >= k && s->hist[n - 1] > s->hist[n - k];
}

/* The growth test, one for a site and for a place: hist its open count at each snapshot of
 * r->snap, floors[j] its floors at tier j (NULL: none); holds, whether it lists descriptors of
 * this process's own (a fork child's inherited ones are its parent's growth); now, its open
 * count at the report. Growing: the count rose at each of the last FDLEAK_GROWTH snapshots, or
 * — slower, under churn — the floors of the longest tier that has them rose (fdl_floor_growing;
 * its rate is over the longest time); either way it still holds that many now (a count that
 * fell since is not growing; against a floor, what it held at the lowest in the window before
 * the last: the last floor may count a descriptor another creation there was making just when
 * a snapshot was taken). Sets the rate, the snapshots the rule looked at and which rule. */
static bool growth(const struct fdl_report *r, const uint32_t *hist, const uint32_t *const floors[FDL_FLOOR_TIERS],
                   bool holds, uint64_t now, double *per_hour, unsigned *snaps, bool *by_floor)
{
    unsigned k = (unsigned)fdl_config()->growth_k, n = r->snap.n;
    *by_floor = false;
    *snaps = k;
    if (!holds)
        return false;
    if (hist && fdl_growing(hist, r->snap.t, n, k, per_hour) && now >= hist[n - 1])
        return true;
    for (int j = FDL_FLOOR_TIERS - 1; j >= 0; j--) {
        unsigned nf = r->snap.nf[j];
        if (floors[j] && nf >= 2 && fdl_floor_growing(floors[j], r->snap.tf[j], nf, per_hour) &&
            now >= floors[j][nf - 2]) {
            *by_floor = true;
            *snaps = FDL_FLOOR_SPAN * fdl_floor_window((unsigned)j);
            return true;
        }
    }
    return false;
}

void fdl_findings_prepare(struct fdl_report *r)
{
    /* Every site's history copied at once, right after the view: a snapshot taken while the
     * report is built must not mix into it. */
    uint32_t *h = r->sites ? fdl_region_alloc(&r->region, r->nsites * (FDL_SNAP_RING - 1) * sizeof *h) : 0;
    uint32_t *fl = r->sites ? fdl_region_alloc(&r->region, r->nsites * FDL_FLOOR_TIERS * (FDL_SNAP_RING - 1) * sizeof *fl) : 0;
    for (int tries = 0;; tries++) {
        fdl_snapshot_view(&r->snap);
        for (size_t k = 0; h && k < r->nsites; k++)
            if (r->sites[k].site) {
                r->sites[k].hist = h + k * r->snap.n;
                fdl_site_history(r->sites[k].site, &r->snap, r->sites[k].hist);
                for (unsigned j = 0; fl && j < FDL_FLOOR_TIERS; j++) {
                    r->sites[k].floors[j] = fl + (k * FDL_FLOOR_TIERS + j) * (FDL_SNAP_RING - 1);
                    fdl_site_floors(r->sites[k].site, &r->snap, j, r->sites[k].floors[j]);
                }
            }
        if (fdl_snapshot_view_held(&r->snap))
            break;
        if (tries == 3) { /* snapshots faster than we read: no growth in this report */
            r->snap.n = 0;
            break;
        }
    }
    if (r->o.since || !r->sites) /* a checkpoint report is about its window's descriptors only */
        return;
    struct flow_acc a = {r, 0};
    fdl_flows_foreach(count_flow, &a);
    r->flows = a.cap ? fdl_region_alloc(&r->region, a.cap * sizeof *r->flows) : 0;
    if (r->flows) {
        fdl_flows_foreach(collect_flow, &a);
        fdl_sort(r->flows, r->nflows, sizeof *r->flows, cmp_flow);
    }
    for (size_t i = r->nflows; i-- > 0;) {
        struct fdl_rep_site *s = &r->sites[r->flows[i].site];
        s->first_flow = i;
        s->nflows++;
        if (r->flows[i].flow->kind == FDL_FLOW_CLIENT && r->flows[i].closed)
            s->named = true;
    }
    for (size_t k = 0; k < r->nsites; k++) {
        struct fdl_rep_site *s = &r->sites[k];
        unsigned snaps;
        bool by_floor;
        s->growing = s->site && growth(r, s->hist, (const uint32_t *const *)s->floors, s->nleaks > 0,
                                       s->created - s->closed, &s->per_hour, &snaps, &by_floor);
        if (s->growing || rising(r, s))
            s->named = true;
    }
}

/* ---- places ---- */

struct place_ix {
    size_t index;
    UT_hash_handle hh;
};

struct ctx {
    struct fdl_report *r;
    struct fdl_region *region; /* uthash allocates here */
    struct place_ix *by_at;
    size_t cap;
    uint64_t (*hist)[FDL_SNAP_RING]; /* per place: summed open counts at the snapshots */
    uint64_t (*floors)[FDL_FLOOR_TIERS][FDL_SNAP_RING]; /* … and summed floors per tier */
};

/* Sites with one label are one place: for Python the app line, whatever native path led
 * there; for native code the two innermost own frames, so that two callers of one helper
 * stay apart while two stacks that differ only further out do not. */
static size_t place_of(struct ctx *c, const char *at)
{
    struct fdl_region *region = c->region;
    struct fdl_report *r = c->r;
    struct place_ix *p;
    HASH_FIND_STR(c->by_at, at, p);
    if (p)
        return p->index;
    if (r->nplaces == c->cap || !(p = fdl_region_alloc(region, sizeof *p)))
        return FDL_NO_PLACE;
    p->index = r->nplaces;
    HASH_ADD_KEYPTR(hh, c->by_at, at, strlen(at), p);
    if (!p->hh.tbl)
        return FDL_NO_PLACE; /* uthash ran out of memory */
    struct fdl_place *pl = &r->places[r->nplaces++];
    memset(pl, 0, sizeof *pl);
    pl->at = at;
    pl->first_site = FDL_NO_PLACE;
    return p->index;
}

static void build_places(struct ctx *c)
{
    struct fdl_report *r = c->r;
    c->cap = r->nsites;
    r->places = fdl_region_alloc(&r->region, (c->cap + 1) * sizeof *r->places);
    c->hist = fdl_region_alloc(&r->region, (c->cap + 1) * sizeof *c->hist);
    c->floors = fdl_region_alloc(&r->region, (c->cap + 1) * sizeof *c->floors);
    if (c->floors)
        memset(c->floors, 0, (c->cap + 1) * sizeof *c->floors);
    for (size_t k = r->nsites; k-- > 0;) { /* backwards: each place lists its sites in order */
        struct fdl_rep_site *s = &r->sites[k];
        s->place = s->next_in_place = FDL_NO_PLACE;
        if (!s->site || !r->places || !c->hist || (!s->frames && !fdl_site_pystack(s->site)))
            continue; /* no name: no place */
        char buf[AT_MAX];
        fdl_site_at(r, s, buf, sizeof buf);
        const char *at = s->at = fdl_region_strdup(&r->region, buf);
        if (!at)
            continue;
        size_t p = s->place = place_of(c, at);
        if (p == FDL_NO_PLACE)
            continue;
        struct fdl_place *pl = &r->places[p];
        const struct fdl_pystack *py = fdl_site_pystack(s->site);
        pl->foreign = py && !py->own;
        pl->created += s->created;
        pl->closed += s->closed;
        s->next_in_place = pl->first_site; /* the place's sites, for the writers */
        pl->first_site = k;
        for (unsigned i = 0; s->hist && i < r->snap.n; i++)
            c->hist[p][i] += s->hist[i];
        for (unsigned j = 0; c->floors && j < FDL_FLOOR_TIERS; j++)
            for (unsigned i = 0; s->floors[j] && i < r->snap.nf[j]; i++)
                c->floors[p][j][i] += s->floors[j][i];
    }
    if (!r->places || !c->hist)
        return; /* no memory: no site has a place */
    for (size_t i = 0; i < r->nleaks; i++) {
        const struct fdl_rep_fd *e = &r->leaks[i];
        size_t p = e->rec.site ? r->sites[e->rank].place : FDL_NO_PLACE;
        if (p == FDL_NO_PLACE)
            continue;
        r->places[p].open++;
        fdl_kind_count_add(&r->places[p].kinds, e->info.kind);
        if (e->age > r->places[p].oldest)
            r->places[p].oldest = e->age;
    }
    for (size_t p = 0; p < r->nplaces; p++) {
        uint32_t v[FDL_SNAP_RING], f[FDL_FLOOR_TIERS][FDL_SNAP_RING];
        const uint32_t *fp[FDL_FLOOR_TIERS];
        for (unsigned i = 0; i < r->snap.n; i++)
            v[i] = c->hist[p][i] > UINT32_MAX ? UINT32_MAX : (uint32_t)c->hist[p][i];
        for (unsigned j = 0; j < FDL_FLOOR_TIERS; j++) {
            for (unsigned i = 0; c->floors && i < r->snap.nf[j]; i++)
                f[j][i] = c->floors[p][j][i] > UINT32_MAX ? UINT32_MAX : (uint32_t)c->floors[p][j][i];
            fp[j] = c->floors ? f[j] : 0;
        }
        struct fdl_place *pl = &r->places[p];
        pl->growing = growth(r, v, fp, pl->open > 0, pl->created - pl->closed, &pl->per_hour, &pl->growth_snaps,
                             &pl->by_floor);
    }
}

/* ---- findings ---- */

/* The sites of place p that list descriptors of their own: what a finding about what the
 * place holds is about (the writers show these, the rest of the place's sites only counted). */
static void mark_holding_sites(struct fdl_report *r, size_t p)
{
    for (size_t k = r->places[p].first_site; k != FDL_NO_PLACE; k = r->sites[k].next_in_place)
        if (r->sites[k].nleaks)
            r->sites[k].holds = true;
}

static struct fdl_finding *add(struct fdl_report *r, const char *pattern, const char *advice)
{
    if (r->nfindings == r->capfindings) {
        struct fdl_finding *n = fdl_region_grow(&r->region, r->findings, r->nfindings, &r->capfindings, sizeof *n);
        if (!n)
            return 0;
        r->findings = n;
    }
    struct fdl_finding *f = &r->findings[r->nfindings++];
    memset(f, 0, sizeof *f);
    f->pattern = pattern;
    f->advice = advice;
    f->oldest = f->median = f->p90 = f->per_hour = f->exhaustion_s = -1;
    return f;
}

static void add_site(struct fdl_finding *f, size_t place, uint64_t open, uint64_t created, uint64_t closed)
{
    f->nplaces_total++;
    if (f->nsites < FDL_FINDING_SITES)
        f->sites[f->nsites++] = (struct fdl_finding_site){place, open, created, closed};
}

/* The remote end of an open descriptor, for grouping: its flow's endpoint when it has one,
 * else what follows "-> " in its description (the kernel's getpeername). "" when it is not
 * a stream client connection. */
static void client_peer(const struct fdl_rep_fd *e, char *out, size_t cap)
{
    out[0] = 0;
    const struct fdl_flow *f = fdl_flow_at(e->rec.flow);
    struct fdl_buf b;
    fdl_buf_init_mem(&b, out, cap);
    if (f) {
        if (f->kind == FDL_FLOW_CLIENT)
            fdl_describe_addr(&b, (const void *)f->endpoint, f->len);
    } else if (e->rec.via && !strcmp(e->rec.via, "socket") && !(e->rec.flags & (FDL_F_DGRAM | FDL_F_LISTEN)) &&
               strncmp(e->info.desc, "udp", 3)) {
        /* A socket() whose connect fdleak did not see: the kernel's peer. Never a dup of a
         * connection (dup, fromfd, fdopen(dup(…))): the same client, not another one. */
        fdl_put_desc_peer(&b, e->info.desc);
    }
    fdl_buf_cstr(&b);
}

/* Seconds until the process holds its soft limit of descriptors, growing by per_hour; -1 when
 * it does not grow or the limit is unknown. What is open now counts suppressed ones too. */
static double exhaustion(const struct fdl_report *r, double per_hour)
{
    uint64_t open = r->open + r->nsuppressed;
    if (per_hour <= 0 || !r->limit)
        return -1;
    return r->limit > open ? (double)(r->limit - open) * 3600.0 / per_hour : 0;
}

/* "; at this rate the process reaches its limit of 1,024 descriptors in about 3.2 days" */
static void put_forecast(struct fdl_buf *b, const struct fdl_report *r, double eta)
{
    if (eta < 0)
        return;
    fdl_buf_puts(b, "; at this rate the process reaches its limit of ");
    fdl_put_count(b, r->limit);
    fdl_buf_puts(b, r->limit == 1 ? " descriptor" : " descriptors");
    fdl_buf_puts(b, eta > 0 ? " in about " : " now");
    if (eta > 0)
        fdl_put_eta(b, eta);
}

static void growing(struct fdl_report *r)
{
    double total = 0;
    for (size_t p = 0; p < r->nplaces; p++) {
        struct fdl_place *pl = &r->places[p];
        if (!pl->growing)
            continue;
        struct fdl_finding *f = add(r, "growing", "bound what holds these (a cache of clients, a list of connections): "
                                                  "evict and close, or share one");
        if (!f)
            return;
        pl->claimed = true;
        mark_holding_sites(r, p);
        add_site(f, p, pl->created - pl->closed, pl->created, pl->closed);
        f->open = pl->created - pl->closed;
        f->created = pl->created;
        f->closed = pl->closed;
        f->per_hour = pl->per_hour;
        f->exhaustion_s = exhaustion(r, pl->per_hour);
        total += pl->per_hour > 0 ? pl->per_hour : 0;
        f->snapshots = pl->growth_snaps;
        struct fdl_buf b;
        fdl_buf_init_mem(&b, f->title, sizeof f->title);
        fdl_buf_puts(&b, "open descriptors at ");
        fdl_buf_puts(&b, pl->at);
        fdl_buf_puts(&b, " keep growing: ");
        if (pl->open == f->open) /* what they are, when the listing holds all of them */
            fdl_put_kind_counts(&b, &pl->kinds);
        else
            fdl_buf_u64(&b, f->open);
        fdl_buf_puts(&b, pl->by_floor ? " open, the lowest count rising over the last " : " open, rising over the last ");
        fdl_buf_u64(&b, pl->growth_snaps);
        fdl_buf_puts(&b, " snapshots (+");
        fdl_buf_fixed(&b, pl->per_hour, 0);
        fdl_buf_puts(&b, " per hour");
        put_forecast(&b, r, f->exhaustion_s);
        fdl_buf_puts(&b, ")");
        fdl_buf_cstr(&b);
    }
    r->growth_per_hour = total > 0 ? total : -1;
    r->exhaustion_s = exhaustion(r, total);
}

/* Connections per (place, peer), summed over the place's sites. */
struct churn {
    struct {
        size_t place;
        uint8_t len, endpoint[FDL_ENDPOINT_MAX];
    } key;
    const struct fdl_flow *sample;
    uint64_t created, closed, peak;
    struct fdl_life life;
    UT_hash_handle hh;
};

static void pool_per_operation(struct ctx *c)
{
    struct fdl_report *r = c->r;
    struct fdl_region *region = &r->region;
    struct churn *all = 0, *e;
    for (size_t i = 0; i < r->nflows; i++) {
        const struct fdl_rep_flow *rf = &r->flows[i];
        size_t p = r->sites[rf->site].place;
        if (rf->flow->kind != FDL_FLOW_CLIENT || !rf->closed || p == FDL_NO_PLACE || r->places[p].claimed)
            continue;
        struct churn k;
        memset(&k.key, 0, sizeof k.key);
        k.key.place = p;
        k.key.len = rf->flow->len;
        memcpy(k.key.endpoint, rf->flow->endpoint, rf->flow->len);
        HASH_FIND(hh, all, &k.key, sizeof k.key, e);
        if (!e) {
            if (!(e = fdl_region_alloc(region, sizeof *e)))
                continue;
            memset(e, 0, sizeof *e);
            e->key = k.key;
            e->sample = rf->flow;
            HASH_ADD(hh, all, key, sizeof e->key, e);
        }
        e->created += rf->created;
        e->closed += rf->closed;
        uint64_t peak = __atomic_load_n(&rf->flow->peak, __ATOMIC_RELAXED);
        e->peak = peak > e->peak ? peak : e->peak;
        fdl_life_merge(&e->life, &rf->flow->life);
    }
    const struct fdl_config *cfg = fdl_config();
    for (e = all; e; e = e->hh.next) {
        double median = fdl_life_quantile(&e->life, 0.5);
        /* Many connections, nearly all closed, short-lived, and made again and again: at least
         * ten times as many as were ever open at once (a pool built and torn down per
         * operation, not one pool of many connections, as a benchmark opens per test). */
        if (e->created < (uint64_t)cfg->churn_min || e->closed * 10 < e->created * 9 || median < 0 ||
            median >= cfg->churn_life || e->created < 10 * (e->peak ? e->peak : 1))
            continue;
        struct fdl_finding *f = add(r, "pool-per-operation",
                                    "create the client (its connection pool) once and reuse it: each new one pays "
                                    "a connect (DNS, handshake, auth) and churns connections");
        if (!f)
            return;
        struct fdl_buf b;
        fdl_buf_init_mem(&b, f->peer, sizeof f->peer);
        fdl_describe_addr(&b, (const void *)e->sample->endpoint, e->sample->len);
        fdl_buf_cstr(&b);
        add_site(f, e->key.place, e->created - e->closed, e->created, e->closed);
        r->places[e->key.place].churned = true;
        for (size_t i = 0; i < r->nflows; i++) { /* the place's sites that made these connections */
            const struct fdl_rep_flow *rf = &r->flows[i];
            if (r->sites[rf->site].place == e->key.place && rf->flow->len == e->key.len &&
                !memcmp(rf->flow->endpoint, e->key.endpoint, e->key.len))
                r->sites[rf->site].holds = true;
        }
        f->created = e->created;
        f->closed = e->closed;
        f->open = e->created - e->closed;
        f->median = median;
        f->p90 = fdl_life_quantile(&e->life, 0.9);
        fdl_buf_init_mem(&b, f->title, sizeof f->title);
        fdl_put_plural(&b, e->created, "connection", "connections");
        fdl_buf_puts(&b, " to ");
        fdl_buf_puts(&b, f->peer);
        fdl_buf_puts(&b, e->closed == e->created ? " opened and closed at " : " opened at ");
        fdl_buf_puts(&b, r->places[e->key.place].at);
        if (e->closed != e->created) {
            fdl_buf_puts(&b, ", ");
            fdl_buf_u64(&b, e->closed);
            fdl_buf_puts(&b, " closed again");
        }
        fdl_buf_puts(&b, " (median life ");
        fdl_buf_duration(&b, median);
        fdl_buf_puts(&b, ", p90 ");
        fdl_buf_duration(&b, f->p90);
        fdl_buf_puts(&b, ")");
        fdl_buf_cstr(&b);
    }
}

struct holder {
    const char *peer;
    size_t place, site;
};

static int cmp_holder(const void *a, const void *b)
{
    const struct holder *x = a, *y = b;
    int c = strcmp(x->peer, y->peer);
    return c ? c : x->place < y->place ? -1 : x->place > y->place;
}

static void duplicate_clients(struct fdl_report *r)
{
    struct holder *h = fdl_region_alloc(&r->region, (r->nleaks + 1) * sizeof *h);
    size_t n = 0;
    for (size_t i = 0; h && i < r->nleaks; i++) {
        const struct fdl_rep_fd *e = &r->leaks[i];
        size_t p = e->rec.site ? r->sites[e->rank].place : FDL_NO_PLACE;
        if (p == FDL_NO_PLACE || r->places[p].claimed || r->places[p].churned) /* its leftovers */
            continue;
        char peer[PEER_MAX];
        client_peer(e, peer, sizeof peer);
        if (!peer[0])
            continue;
        const char *copy = fdl_region_strdup(&r->region, peer);
        if (copy)
            h[n++] = (struct holder){copy, p, e->rank};
    }
    if (!h)
        return;
    fdl_sort(h, n, sizeof *h, cmp_holder);
    for (size_t i = 0, j; i < n; i = j) {
        size_t places = 0;
        for (j = i; j < n && !strcmp(h[j].peer, h[i].peer); j++)
            places += j == i || h[j].place != h[j - 1].place;
        if (places < 2)
            continue;
        struct fdl_finding *f = add(r, "duplicate-clients",
                                    "share one client (one connection pool) per service: create it once at start-up, "
                                    "pass it to the modules that need it, close it at shutdown");
        if (!f)
            return;
        struct fdl_buf b;
        fdl_buf_init_mem(&b, f->peer, sizeof f->peer);
        fdl_buf_puts(&b, h[i].peer);
        fdl_buf_cstr(&b);
        for (size_t k = i, m; k < j; k = m) {
            for (m = k; m < j && h[m].place == h[k].place; m++)
                ;
            const struct fdl_place *pl = &r->places[h[k].place];
            for (size_t x = k; x < m; x++)
                r->sites[h[x].site].holds = true;
            add_site(f, h[k].place, m - k, pl->created, pl->closed);
            f->open += m - k;
            f->created += pl->created;
            f->closed += pl->closed;
            r->places[h[k].place].claimed = true;
        }
        /* Connections counted as connections, places as places: "40 connections to X held
         * from 2 places: 20 at A and 20 at B" (each place may have made many clients). */
        fdl_buf_init_mem(&b, f->title, sizeof f->title);
        fdl_put_plural(&b, f->open, "connection to ", "connections to ");
        fdl_buf_puts(&b, f->peer);
        fdl_buf_puts(&b, " held from ");
        fdl_buf_u64(&b, f->nplaces_total);
        fdl_buf_puts(&b, " places: ");
        for (unsigned s = 0; s < f->nsites; s++) {
            if (s)
                fdl_buf_puts(&b, s + 1 == f->nsites && f->nsites == f->nplaces_total ? " and " : ", ");
            fdl_buf_u64(&b, f->sites[s].open);
            fdl_buf_puts(&b, " at ");
            fdl_buf_puts(&b, r->places[f->sites[s].place].at);
        }
        if (f->nsites < f->nplaces_total)
            fdl_buf_puts(&b, ", …");
        fdl_buf_cstr(&b);
    }
}

/* One never-closed finding for what place p holds (all of it, or what goes to one peer):
 * "5 connections to X" (one peer), else each kind counted with an example; then where, and how
 * old. False when there is no room for another finding. */
static bool never_closed_finding(struct fdl_report *r, size_t p, const char *peer, const struct fdl_kind_count *kinds,
                                 const struct fdl_rep_fd *first, uint64_t open, double oldest)
{
    struct fdl_finding *f = add(r, "never-closed",
                                "close it at shutdown (in a finally block, an async context manager, or the "
                                "owner's close), or keep it in one object whose close is called");
    if (!f)
        return false;
    const struct fdl_place *pl = &r->places[p];
    add_site(f, p, open, pl->created, pl->closed);
    f->open = open;
    f->created = pl->created;
    f->closed = pl->closed;
    f->oldest = oldest;
    struct fdl_buf b;
    fdl_buf_init_mem(&b, f->peer, sizeof f->peer);
    fdl_buf_puts(&b, peer ? peer : "");
    fdl_buf_cstr(&b);
    fdl_buf_init_mem(&b, f->title, sizeof f->title);
    if (f->peer[0]) {
        fdl_put_plural(&b, open, "connection to ", "connections to ");
        fdl_buf_puts(&b, f->peer);
    } else { /* each kind counted: "3 files and 3 sockets (e.g. /tmp/a)" */
        fdl_put_kind_counts(&b, kinds);
        fdl_buf_puts(&b, open == 1 ? " (" : " (e.g. ");
        fdl_buf_puts(&b, first ? first->info.desc : "?");
        fdl_buf_putc(&b, ')');
    }
    fdl_buf_puts(&b, " opened at ");
    fdl_buf_puts(&b, pl->at);
    fdl_buf_puts(&b, open == 1 ? " and never closed (open " : " and never closed (oldest open ");
    fdl_buf_duration(&b, oldest);
    fdl_buf_puts(&b, " at exit)");
    fdl_buf_cstr(&b);
    return true;
}

/* A place with no frame of the program's code is one library call for every caller: what it
 * holds to different peers are different mistakes (four connections to a service, two to
 * Redis), one finding per peer (descriptors with none together). False if there is no memory
 * for it (the place then gets one finding). */
static bool never_closed_by_peer(struct fdl_report *r, size_t p)
{
    struct group {
        const char *peer;
        const struct fdl_rep_fd *first;
        uint64_t open;
        double oldest;
        struct fdl_kind_count kinds;
    } *g = fdl_region_alloc(&r->region, (r->nleaks + 1) * sizeof *g);
    size_t n = 0;
    for (size_t i = 0; g && i < r->nleaks; i++) {
        const struct fdl_rep_fd *e = &r->leaks[i];
        if (!e->rec.site || r->sites[e->rank].place != p)
            continue;
        char peer[PEER_MAX];
        client_peer(e, peer, sizeof peer);
        size_t k = 0;
        while (k < n && strcmp(g[k].peer, peer))
            k++;
        if (k == n) {
            memset(&g[n], 0, sizeof g[n]);
            if (!(g[n].peer = fdl_region_strdup(&r->region, peer)))
                return false;
            g[n++].first = e;
        }
        g[k].open++;
        fdl_kind_count_add(&g[k].kinds, e->info.kind);
        if (e->age > g[k].oldest)
            g[k].oldest = e->age;
    }
    if (!g)
        return false;
    mark_holding_sites(r, p);
    for (size_t k = 0; k < n && never_closed_finding(r, p, g[k].peer, &g[k].kinds, g[k].first, g[k].open, g[k].oldest); k++)
        ;
    return true;
}

static void never_closed(struct fdl_report *r)
{
    /* What each place holds, in one pass: its first descriptor, and whether all go to its
     * first one's peer. */
    for (size_t i = 0; i < r->nleaks; i++) {
        const struct fdl_rep_fd *e = &r->leaks[i];
        size_t p = e->rec.site ? r->sites[e->rank].place : FDL_NO_PLACE;
        if (p == FDL_NO_PLACE || r->places[p].claimed)
            continue;
        struct fdl_place *pl = &r->places[p];
        char peer[PEER_MAX];
        client_peer(e, peer, sizeof peer);
        if (!pl->first) {
            pl->first = e;
            pl->peer = peer[0] ? fdl_region_strdup(&r->region, peer) : 0;
        } else if (pl->peer && strcmp(pl->peer, peer)) {
            pl->peer = 0;
        }
    }
    for (size_t p = 0; p < r->nplaces; p++) {
        struct fdl_place *pl = &r->places[p];
        if (!pl->open || pl->claimed)
            continue;
        if (pl->foreign && !pl->peer && never_closed_by_peer(r, p))
            continue;
        mark_holding_sites(r, p);
        if (!never_closed_finding(r, p, pl->peer, &pl->kinds, pl->first, pl->open, pl->oldest))
            return;
    }
}

/* The order a reader should act in: what will kill the process, what leaks, what wastes. */
static int rank(const struct fdl_finding *f)
{
    static const char *const order[] = {"growing", "never-closed", "duplicate-clients", "pool-per-operation"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(f->pattern, order[i]))
            return i;
    return 4;
}

static int cmp_finding(const void *a, const void *b)
{
    const struct fdl_finding *x = a, *y = b;
    if (rank(x) != rank(y))
        return rank(x) - rank(y);
    return x->open > y->open ? -1 : x->open < y->open ? 1 : (x->created < y->created) - (x->created > y->created);
}

void fdl_findings_build(struct fdl_report *r)
{
    r->growth_per_hour = r->exhaustion_s = -1;
    if (!r->sites)
        return;
    struct ctx c = {.r = r, .region = &r->region};
    build_places(&c);
    if (!r->places || r->o.since)
        return; /* a checkpoint report lists its window's descriptors; patterns need the whole run */
    growing(r);
    pool_per_operation(&c);
    duplicate_clients(r);
    if (!strcmp(r->o.trigger, "exit"))
        never_closed(r);
    fdl_sort(r->findings, r->nfindings, sizeof *r->findings, cmp_finding);
}
