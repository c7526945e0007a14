/* report_metrics.c — the report for fleets: a Prometheus text file (node_exporter's textfile
 * collector reads it). Series are bounded: 20 sites by name — the first ones seen holding
 * descriptors, kept from then on so that counters never move between series — the rest summed
 * as site="other"; per site at most 5 (kind, peer) pairs, the rest as peer="other". Written by
 * the interval thread only. */
#include "report.h"
#include "names.h"
#include "sites.h"

#include <string.h>

#define FDL_HASH_REGION region /* a variable of that name is in scope at every HASH_ADD */
#include "region_hash.h"

#define TOP_SITES 20
#define TOP_PAIRS 5

struct pair {
    char kind[16], peer[128];
    uint64_t open;
};

struct group { /* one site label */
    char label[256];
    char key[17]; /* its place's stable key */
    uint64_t open, created, closed;
    struct pair pairs[TOP_PAIRS + 1]; /* the last: peer="other" */
    int npairs;
    UT_hash_handle hh;
};

/* A series is named by its site's place — the app frame for Python ("app.py:12 in handler"),
 * the program's own frames for native code — not by the interpreter's address every Python
 * site shares. */
static struct group *group_for(struct fdl_region *region, struct group **groups, const struct fdl_rep_site *s)
{
    char label[256];
    if (s->at && strlen(s->at) < sizeof label)
        strcpy(label, s->at);
    else
        fdl_site_label(s, label, sizeof label);
    struct group *g;
    HASH_FIND_STR(*groups, label, g);
    if (g)
        return g;
    g = fdl_region_alloc(region, sizeof *g);
    if (!g)
        return 0;
    strcpy(g->label, label);
    fdl_place_key(s, g->key);
    HASH_ADD_STR(*groups, label, g);
    return g;
}

static void count_fd(struct group *g, const struct fdl_rep_fd *e)
{
    char peer[128];
    struct fdl_buf pb;
    fdl_buf_init_mem(&pb, peer, sizeof peer);
    fdl_put_desc_peer(&pb, e->info.desc);
    fdl_buf_cstr(&pb);
    g->open++;
    for (int i = 0; i < g->npairs; i++)
        if (!strcmp(g->pairs[i].kind, e->info.kind) && !strcmp(g->pairs[i].peer, peer)) {
            g->pairs[i].open++;
            return;
        }
    struct pair *p = g->npairs < TOP_PAIRS ? &g->pairs[g->npairs++] : &g->pairs[TOP_PAIRS];
    if (!p->kind[0]) {
        bool rest = p == &g->pairs[TOP_PAIRS];
        struct fdl_buf kb, pb;
        fdl_buf_init_mem(&kb, p->kind, sizeof p->kind);
        fdl_buf_puts(&kb, rest ? "other" : e->info.kind);
        fdl_buf_cstr(&kb);
        fdl_buf_init_mem(&pb, p->peer, sizeof p->peer);
        fdl_buf_puts(&pb, rest ? "other" : peer);
        fdl_buf_cstr(&pb);
    }
    p->open++;
}

static int by_open(const void *a, const void *b)
{
    const struct group *x = *(struct group *const *)a, *y = *(struct group *const *)b;
    if (x->open != y->open)
        return x->open > y->open ? -1 : 1;
    return strcmp(x->label, y->label);
}

/* A label value: escaped, and valid UTF-8 (other bytes become '?'), as Prometheus requires. */
static void label_value(struct fdl_buf *b, const char *v)
{
    fdl_buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p >= 0x80) {
            size_t n = fdl_utf8_len(p);
            if (n) {
                fdl_buf_putn(b, (const char *)p, n);
                p += n - 1;
            } else {
                fdl_buf_putc(b, '?');
            }
            continue;
        }
        if (*p == '\\' || *p == '"')
            fdl_buf_putc(b, '\\');
        if (*p == '\n')
            fdl_buf_puts(b, "\\n");
        else if (*p < 0x20)
            fdl_buf_putc(b, '?');
        else
            fdl_buf_putc(b, (char)*p);
    }
    fdl_buf_putc(b, '"');
}

/* The sites shown by name, for the life of the process. */
static char chosen[TOP_SITES][256];
static size_t nchosen;

static bool is_chosen(const char *label)
{
    for (size_t i = 0; i < nchosen; i++)
        if (!strcmp(chosen[i], label))
            return true;
    return false;
}

static void series(struct fdl_buf *b, const char *name, const struct group *g, const struct pair *p, uint64_t v)
{
    fdl_buf_puts(b, name);
    fdl_buf_puts(b, "{site=");
    label_value(b, g->label);
    fdl_buf_puts(b, ",key=");
    label_value(b, g->key);
    if (p) {
        fdl_buf_puts(b, ",kind=");
        label_value(b, p->kind);
        fdl_buf_puts(b, ",peer=");
        label_value(b, p->peer);
    }
    fdl_buf_puts(b, "} ");
    fdl_buf_u64(b, v);
    fdl_buf_putc(b, '\n');
}

void fdl_report_write_metrics(const struct fdl_report *r, struct fdl_buf *b)
{
    struct fdl_region rg = {0}, *region = &rg;
    struct group *groups = 0;
    for (size_t k = 0; k < r->nsites; k++) {
        struct group *g = group_for(region, &groups, &r->sites[k]);
        if (g && r->sites[k].site) {
            g->created += r->sites[k].created;
            g->closed += r->sites[k].closed;
        }
    }
    for (size_t i = 0; i < r->nleaks; i++) {
        struct group *g = group_for(region, &groups, &r->sites[r->leaks[i].rank]);
        if (g)
            count_fd(g, &r->leaks[i]);
    }
    size_t n = HASH_COUNT(groups), k = 0;
    struct group **v = fdl_region_alloc(region, (n + 1) * sizeof *v);
    for (struct group *g = groups; v && g; g = g->hh.next)
        v[k++] = g;
    if (v)
        fdl_sort(v, k, sizeof *v, by_open);
    /* Newcomers, most descriptors first, while there is room (never "inherited" on its own). */
    for (size_t i = 0; v && i < k && nchosen < TOP_SITES; i++)
        if (v[i]->open && !is_chosen(v[i]->label) && strlen(v[i]->label) < sizeof chosen[0])
            strcpy(chosen[nchosen++], v[i]->label);
    struct group other = {.label = "other", .key = "other"};
    size_t shown = 0;
    for (size_t i = 0; v && i < k; i++) {
        if (is_chosen(v[i]->label)) {
            v[shown++] = v[i];
            continue;
        }
        other.open += v[i]->open;
        other.created += v[i]->created;
        other.closed += v[i]->closed;
    }
    k = shown;
    if (v && (other.created || other.open)) {
        other.npairs = 1;
        strcpy(other.pairs[0].kind, "other");
        strcpy(other.pairs[0].peer, "other");
        other.pairs[0].open = other.open;
        v[k++] = &other;
    }

    fdl_buf_puts(b, "# HELP fdleak_open_descriptors Descriptors the program created and holds open now.\n"
                    "# TYPE fdleak_open_descriptors gauge\n");
    for (size_t i = 0; v && i < k; i++)
        for (int j = 0; j <= TOP_PAIRS; j++)
            if (v[i]->pairs[j].open)
                series(b, "fdleak_open_descriptors", v[i], &v[i]->pairs[j], v[i]->pairs[j].open);
    fdl_buf_puts(b, "# HELP fdleak_created_total Descriptors created, by site.\n"
                    "# TYPE fdleak_created_total counter\n");
    for (size_t i = 0; v && i < k; i++)
        series(b, "fdleak_created_total", v[i], 0, v[i]->created);
    fdl_buf_puts(b, "# HELP fdleak_closed_total Descriptors closed again, by site.\n"
                    "# TYPE fdleak_closed_total counter\n");
    for (size_t i = 0; v && i < k; i++)
        series(b, "fdleak_closed_total", v[i], 0, v[i]->closed);
    fdl_buf_puts(b, "# HELP fdleak_process_open_descriptors Descriptors the process holds open now, whoever made "
                    "them.\n# TYPE fdleak_process_open_descriptors gauge\nfdleak_process_open_descriptors ");
    fdl_buf_u64(b, r->open + r->nsuppressed);
    fdl_buf_puts(b, "\n# HELP fdleak_limit The soft RLIMIT_NOFILE.\n# TYPE fdleak_limit gauge\nfdleak_limit ");
    fdl_buf_u64(b, r->limit);
    fdl_buf_puts(b, "\n# HELP fdleak_peak The most descriptors open at once.\n# TYPE fdleak_peak gauge\nfdleak_peak ");
    fdl_buf_u64(b, r->peak);
    fdl_buf_putc(b, '\n');
    if (r->exhaustion_s >= 0) { /* only while something grows: no series is no forecast */
        fdl_buf_puts(b, "# HELP fdleak_exhaustion_seconds Seconds until the soft limit is reached at the growing "
                        "places' rate.\n# TYPE fdleak_exhaustion_seconds gauge\nfdleak_exhaustion_seconds ");
        fdl_buf_fixed(b, r->exhaustion_s, 0);
        fdl_buf_puts(b, "\n# HELP fdleak_growth_per_hour Descriptors per hour the growing places add.\n"
                        "# TYPE fdleak_growth_per_hour gauge\nfdleak_growth_per_hour ");
        fdl_buf_fixed(b, r->growth_per_hour, 1);
        fdl_buf_puts(b, "\n# HELP fdleak_place_growth_per_hour Descriptors per hour a growing place adds.\n"
                        "# TYPE fdleak_place_growth_per_hour gauge\n");
        for (size_t i = 0; i < r->nfindings; i++) {
            const struct fdl_finding *f = &r->findings[i];
            if (strcmp(f->pattern, "growing") || !f->nsites || f->per_hour < 0)
                continue;
            const struct fdl_place *pl = &r->places[f->sites[0].place];
            char key[17];
            fdl_place_key(&r->sites[pl->first_site], key);
            fdl_buf_puts(b, "fdleak_place_growth_per_hour{site=");
            label_value(b, pl->at);
            fdl_buf_puts(b, ",key=");
            label_value(b, key);
            fdl_buf_puts(b, "} ");
            fdl_buf_fixed(b, f->per_hour, 1);
            fdl_buf_putc(b, '\n');
        }
    }
    fdl_region_free(region);
}
