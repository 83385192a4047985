/*
 * net_switch.c - the switch's forwarding database, port registry,
 * multicast filters and counters (contract in net_switch.h).
 *
 * The table.  Buckets of 8 entries, each bucket one cache line of 8 key
 * words followed by one line of 8 last-seen words; a MAC hashes (keyed by
 * a per-switch random seed, so a guest cannot aim its MACs at one bucket)
 * to two buckets and lives in either.  Why not linear probing: removing
 * from a probe chain needs tombstones, tombstones can only be turned back
 * into empty slots by moving entries under the readers' feet, and without
 * that cleanup every miss (every unknown unicast) ends up scanning the
 * whole table.  Two fixed buckets need no tombstones: a removal is one
 * compare-and-swap to 0 and a miss reads two cache lines.  Inserting into
 * the emptier bucket fills about 3/4 of the table before the first
 * refusal (measured with random seeds, first refusal on average at 0.93
 * full for 64 entries, 0.80 for 4096, 0.76 for 65536, never below 0.70),
 * and refusals stay rare past that (4096 entries offered 0.85, 0.90, 1.0
 * times as many MACs refuse 0.2%, 0.7%, 4% of them): size fdb_size at 1.5
 * times the MACs expected.  Cuckoo moves would fill more but make entries
 * move under lock-free readers.
 *
 * A key word is the MAC (bits 0..47, first octet most significant) and
 * port + 1 (bits 48..63); 0 is an empty slot (a MAC of 0 is never learned).
 * MAC and port in one word make a move one CAS and mean a reader can never
 * combine one MAC with another's port, and an insert, a move, a removal
 * and a replacement each are one CAS, so a late writer that lost its slot
 * fails instead of writing into a newcomer's entry.  The price is that
 * the word has no room for a port generation: a deleted port's entries
 * stop matching because lookup checks the port's state, and are swept by
 * the control thread at port_del and again at port_release (after the
 * grace period, when no learn for that port can still be in flight), so
 * a reused id never inherits an entry.
 *
 * Memory ordering of the table:
 * - Writers store `seen` first (relaxed), then CAS the key (seq_cst, which
 *   includes release): a reader whose acquire load of the key returns the
 *   new value sees that seen or a later one.  The seen store lands before
 *   the CAS even when the CAS then fails: every value ever written is
 *   some thread's recent now_ns, so a loser only makes the winner's (or an
 *   emptied slot's) time a little different.  One benign effect: a lookup
 *   of an expired entry that a learner is replacing may read the
 *   learner's fresh time and return the expired entry's (live) port once.
 * - A reader loads the key (acquire), then seen (acquire, so that the
 *   next load cannot move before it), then the key again: if it changed,
 *   seen may belong to a newcomer and the slot is read again.
 * - Every key CAS is seq_cst (one locked instruction on x86 whatever the
 *   order) and the duplicate scan after an insert loads seq_cst: of two
 *   inserts of one MAC, the one later in the single total order sees the
 *   earlier's entry and removes the copy in the higher position (bucket
 *   order, then way), so no duplicate outlives the inserts.  Duplicates
 *   are rare: inserts take the lowest free slot of the emptier bucket, so
 *   two inserts of one MAC choose different slots only when a removal
 *   (ageing, a sweep, a replacement) changed what they saw in between
 *   (measured: 4 in 100000 rounds of four threads racing, dedupe off).
 * - Port state is stored with release by the control thread (after the
 *   owner and name) and loaded with acquire by everyone.
 * - Counters are relaxed fetch-adds: nothing is published through them.
 */
#include "net_switch.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define CACHELINE 64
#define WAYS      8u  /* entries per bucket */
#define SLOTS     (2 * WAYS) /* a MAC's candidate slots: both buckets */
/* Inserts that lose every race give up (the next frame learns again):
 * learning must not spin on a hostile guest's churn. */
#define LEARN_ATTEMPTS 4

#define MAC_MASK       ((1ull << 48) - 1)
#define MAC_GROUP_BIT  (1ull << 40) /* the I/G bit of the first octet */
#define KEY_PORT_SHIFT 48

struct fdb_bucket {
    _Atomic uint64_t key[WAYS];  /* MAC | (port + 1) << 48, or 0 */
    _Atomic uint64_t seen[WAYS]; /* last-seen now_ns of key[i] */
};
_Static_assert(sizeof(struct fdb_bucket) == 2 * CACHELINE, "a bucket is two cache lines");

enum port_state {
    PORT_FREE,    /* id available to port_add */
    PORT_LIVE,    /* a destination: lookup, flood, owner */
    PORT_DELETED, /* gone for new callers, awaiting port_release */
};

/* Counters the port's own sidecores write (frames from the port). */
enum { RX_PACKETS, RX_BYTES, RX_FLOODS, RX_UNKNOWN_UNICAST, RX_DROPS, RX_LEARN_FAILURES, N_RX };
/* Counters every sidecore forwarding to the port writes. */
enum { TX_PACKETS, TX_BYTES, N_TX };

struct port {
    /* Read by every data-path thread; written rarely. */
    _Atomic int state;                 /* enum port_state; control thread, release */
    atomic_bool mcast_on;              /* filter applies; sidecore or control */
    _Atomic unsigned mcast_hw;         /* mcast[hw..] are all 0; raised by adders */
    _Atomic(void *) owner;             /* control thread, while not live */
    char name[NET_SWITCH_NAME_MAX];    /* control thread only */
    _Alignas(CACHELINE) _Atomic uint64_t rx[N_RX];
    _Alignas(CACHELINE) _Atomic uint64_t tx[N_TX];
    /* Group addresses (MAC as in a key, never 0), or 0: adders claim the
     * lowest free slot by CAS, so the scan up to mcast_hw stays short. */
    _Alignas(CACHELINE) _Atomic uint64_t mcast[NET_SWITCH_MCAST_MAX];
};

struct net_switch {
    /* Read-only after create. */
    struct fdb_bucket *buckets;
    struct port *ports;
    uint32_t bucket_mask;
    unsigned max_ports;
    unsigned fdb_size;
    uint64_t seed;
    uint64_t age_ns;
    uint64_t refresh_ns; /* last-seen is rewritten only when older than this */
    char name[NET_SWITCH_NAME_MAX];
    _Atomic unsigned port_hw; /* ids >= port_hw were never added; control raises */
    /* Floods from outside any port (NET_SWITCH_NO_PORT); any thread. */
    _Alignas(CACHELINE) _Atomic uint64_t ext_floods;
    _Atomic uint64_t ext_unknown_unicast;
    /* Control thread only: the counts of released ports. */
    _Alignas(CACHELINE) uint64_t retired_floods;
    uint64_t retired_unknown_unicast;
    uint64_t retired_learn_failures;
};

/* ---- helpers ---- */

static inline uint64_t mac48(const uint8_t a[6])
{
    return (uint64_t)a[0] << 40 | (uint64_t)a[1] << 32 | (uint64_t)a[2] << 24 |
           (uint64_t)a[3] << 16 | (uint64_t)a[4] << 8 | (uint64_t)a[5];
}

static void mac_str(uint64_t m, char buf[18])
{
    snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", (unsigned)(m >> 40) & 0xff,
             (unsigned)(m >> 32) & 0xff, (unsigned)(m >> 24) & 0xff, (unsigned)(m >> 16) & 0xff,
             (unsigned)(m >> 8) & 0xff, (unsigned)m & 0xff);
}

static inline bool learnable(uint64_t m)
{
    return m != 0 && !(m & MAC_GROUP_BIT);
}

static inline uint64_t key_make(uint64_t m, int port)
{
    return m | (uint64_t)(port + 1) << KEY_PORT_SHIFT;
}

static inline int key_port(uint64_t k)
{
    return (int)(k >> KEY_PORT_SHIFT) - 1;
}

static inline struct port *port_at(struct net_switch *sw, int port)
{
    return port >= 0 && (unsigned)port < sw->max_ports ? &sw->ports[port] : NULL;
}

static inline int port_state(struct port *p)
{
    return atomic_load_explicit(&p->state, memory_order_acquire);
}

static inline bool port_live(struct port *p)
{
    return port_state(p) == PORT_LIVE;
}

/* A clock a little behind another thread's (now < seen) is not an age. */
static inline bool expired(const struct net_switch *sw, uint64_t seen, uint64_t now)
{
    return now > seen && now - seen > sw->age_ns;
}

static inline void count(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline uint64_t read_counter(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* A MAC's two buckets (splitmix64's finaliser over the seeded MAC: each
 * output bit depends on every input bit). */
static void buckets_of(const struct net_switch *sw, uint64_t m, struct fdb_bucket *b[2])
{
    uint64_t z = m ^ sw->seed;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    uint32_t b1 = (uint32_t)z & sw->bucket_mask;
    uint32_t b2 = (uint32_t)(z >> 32) & sw->bucket_mask;
    if (b2 == b1)
        b2 = b1 ^ 1; /* at least two buckets (NET_SWITCH_FDB_MIN) */
    b[0] = &sw->buckets[b1];
    b[1] = &sw->buckets[b2];
}

#define SLOT_KEY(b, i)  (&(b)[(i) / WAYS]->key[(i) % WAYS])
#define SLOT_SEEN(b, i) (&(b)[(i) / WAYS]->seen[(i) % WAYS])

/* ---- create / destroy ---- */

struct net_switch *net_switch_create(const char *name, unsigned max_ports, unsigned fdb_size,
                                     uint64_t age_ns)
{
    if (max_ports < 1 || max_ports > NET_SWITCH_MAX_PORTS || fdb_size < NET_SWITCH_FDB_MIN ||
        fdb_size > NET_SWITCH_FDB_MAX || (fdb_size & (fdb_size - 1)) || age_ns == 0) {
        errno = EINVAL;
        return NULL;
    }
    size_t sw_size = (sizeof(struct net_switch) + CACHELINE - 1) & ~(size_t)(CACHELINE - 1);
    struct net_switch *sw = aligned_alloc(CACHELINE, sw_size);
    if (!sw) {
        errno = ENOMEM;
        return NULL;
    }
    /* All-zero bytes are each atomic's initial value (empty keys, free
     * ports, zero counters); nothing else can see the memory yet. */
    memset(sw, 0, sw_size);
    sw->buckets = aligned_alloc(CACHELINE, (size_t)fdb_size / WAYS * sizeof(struct fdb_bucket));
    sw->ports = aligned_alloc(CACHELINE, (size_t)max_ports * sizeof(struct port));
    if (!sw->buckets || !sw->ports) {
        net_switch_destroy(sw);
        errno = ENOMEM;
        return NULL;
    }
    memset(sw->buckets, 0, (size_t)fdb_size / WAYS * sizeof(struct fdb_bucket));
    memset(sw->ports, 0, (size_t)max_ports * sizeof(struct port));
    sw->bucket_mask = fdb_size / WAYS - 1;
    sw->max_ports = max_ports;
    sw->fdb_size = fdb_size;
    sw->age_ns = age_ns;
    sw->refresh_ns = age_ns / 8;
    snprintf(sw->name, sizeof(sw->name), "%s", name ? name : "switch");
    if (getrandom(&sw->seed, sizeof(sw->seed), GRND_NONBLOCK) != sizeof(sw->seed)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        sw->seed = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec ^
                   (uint64_t)(uintptr_t)sw;
    }
    return sw;
}

void net_switch_destroy(struct net_switch *sw)
{
    if (!sw)
        return;
    free(sw->buckets);
    free(sw->ports);
    free(sw);
}

/* ---- ports ---- */

/* Control thread: forgets every entry of port. */
static void sweep_port(struct net_switch *sw, int port)
{
    for (uint32_t b = 0; b <= sw->bucket_mask; b++)
        for (unsigned w = 0; w < WAYS; w++) {
            _Atomic uint64_t *kp = &sw->buckets[b].key[w];
            uint64_t k = atomic_load_explicit(kp, memory_order_acquire);
            /* A failed CAS means a learner moved or replaced the entry:
             * it is no longer this port's. */
            if (k && key_port(k) == port)
                atomic_compare_exchange_strong_explicit(kp, &k, 0, memory_order_seq_cst,
                                                        memory_order_relaxed);
        }
}

int net_switch_port_add(struct net_switch *sw, void *owner, const char *port_name)
{
    if (!owner)
        return -EINVAL;
    for (unsigned i = 0; i < sw->max_ports; i++) {
        struct port *p = &sw->ports[i];
        if (port_state(p) != PORT_FREE)
            continue;
        /* Counters and filter are zero: from create or port_release. */
        if (port_name)
            snprintf(p->name, sizeof(p->name), "%s", port_name);
        else
            snprintf(p->name, sizeof(p->name), "port%u", i);
        atomic_store_explicit(&p->owner, owner, memory_order_relaxed);
        atomic_store_explicit(&p->state, PORT_LIVE, memory_order_release);
        if (atomic_load_explicit(&sw->port_hw, memory_order_relaxed) < i + 1)
            atomic_store_explicit(&sw->port_hw, i + 1, memory_order_release);
        return (int)i;
    }
    return -ENOSPC;
}

void net_switch_port_del(struct net_switch *sw, int port)
{
    struct port *p = port_at(sw, port);
    if (!p || port_state(p) != PORT_LIVE)
        return;
    atomic_store_explicit(&p->state, PORT_DELETED, memory_order_release);
    /* Lookups already refuse the entries; sweeping frees their slots now
     * rather than at the next ageing.  A learn that read "live" before the
     * store may still insert one: port_release sweeps again. */
    sweep_port(sw, port);
}

void net_switch_port_release(struct net_switch *sw, int port)
{
    struct port *p = port_at(sw, port);
    if (!p || port_state(p) != PORT_DELETED)
        return;
    /* After the grace period nobody learns, counts or filters on the port. */
    sweep_port(sw, port);
    sw->retired_floods += read_counter(&p->rx[RX_FLOODS]);
    sw->retired_unknown_unicast += read_counter(&p->rx[RX_UNKNOWN_UNICAST]);
    sw->retired_learn_failures += read_counter(&p->rx[RX_LEARN_FAILURES]);
    for (unsigned c = 0; c < N_RX; c++)
        atomic_store_explicit(&p->rx[c], 0, memory_order_relaxed);
    for (unsigned c = 0; c < N_TX; c++)
        atomic_store_explicit(&p->tx[c], 0, memory_order_relaxed);
    for (unsigned i = 0; i < NET_SWITCH_MCAST_MAX; i++)
        atomic_store_explicit(&p->mcast[i], 0, memory_order_relaxed);
    atomic_store_explicit(&p->mcast_hw, 0, memory_order_relaxed);
    atomic_store_explicit(&p->mcast_on, false, memory_order_relaxed);
    atomic_store_explicit(&p->owner, NULL, memory_order_relaxed);
    p->name[0] = '\0';
    atomic_store_explicit(&p->state, PORT_FREE, memory_order_release);
}

void *net_switch_port_owner(struct net_switch *sw, int port)
{
    struct port *p = port_at(sw, port);
    if (!p || !port_live(p))
        return NULL;
    return atomic_load_explicit(&p->owner, memory_order_relaxed);
}

/* ---- forwarding database ---- */

/* Removes every copy of m in its two buckets but the first (see the top
 * comment); retries while another thread changes a copy under it. */
static void fdb_dedupe(struct fdb_bucket *b[2], uint64_t m)
{
    bool lost;
    do {
        bool seen_first = false;
        lost = false;
        for (unsigned i = 0; i < SLOTS; i++) {
            uint64_t k = atomic_load_explicit(SLOT_KEY(b, i), memory_order_seq_cst);
            if ((k & MAC_MASK) != m)
                continue;
            if (!seen_first) {
                seen_first = true;
                continue;
            }
            if (!atomic_compare_exchange_strong_explicit(SLOT_KEY(b, i), &k, 0,
                                                         memory_order_seq_cst,
                                                         memory_order_relaxed))
                lost = true;
        }
    } while (lost);
}

/* An entry a learn may replace and net_switch_age removes. */
static bool reclaimable(struct net_switch *sw, uint64_t k, uint64_t seen, uint64_t now)
{
    return expired(sw, seen, now) || !port_live(&sw->ports[key_port(k)]);
}

void net_switch_learn(struct net_switch *sw, int port, const uint8_t mac[6], uint64_t now_ns)
{
    struct port *p = port_at(sw, port);
    uint64_t m = mac48(mac);
    if (!p || !learnable(m) || !port_live(p))
        return;
    const uint64_t want = key_make(m, port);
    struct fdb_bucket *b[2];
    buckets_of(sw, m, b);

    for (int attempt = 0; attempt < LEARN_ATTEMPTS; attempt++) {
        /* One pass: the MAC if it is there, else where it could go. */
        int empty[2] = { -1, -1 };
        unsigned nempty[2] = { 0, 0 };
        int stale = -1;
        uint64_t stale_key = 0;
        bool lost = false;
        for (unsigned i = 0; i < SLOTS && !lost; i++) {
            _Atomic uint64_t *kp = SLOT_KEY(b, i);
            _Atomic uint64_t *sp = SLOT_SEEN(b, i);
            uint64_t k = atomic_load_explicit(kp, memory_order_acquire);
            if (k == 0) {
                if (empty[i / WAYS] < 0)
                    empty[i / WAYS] = (int)i;
                nempty[i / WAYS]++;
            } else if (k == want) {
                /* Known here: keep the line clean unless the time moved. */
                uint64_t seen = atomic_load_explicit(sp, memory_order_relaxed);
                if (now_ns > seen && now_ns - seen > sw->refresh_ns)
                    atomic_store_explicit(sp, now_ns, memory_order_relaxed);
                return;
            } else if ((k & MAC_MASK) == m) {
                /* Moved to this port (or its old port is gone). */
                atomic_store_explicit(sp, now_ns, memory_order_relaxed);
                if (atomic_compare_exchange_strong_explicit(kp, &k, want, memory_order_seq_cst,
                                                            memory_order_relaxed))
                    return;
                lost = true;
            } else if (stale < 0 &&
                       reclaimable(sw, k, atomic_load_explicit(sp, memory_order_relaxed),
                                   now_ns)) {
                stale = (int)i;
                stale_key = k;
            }
        }
        if (lost)
            continue;

        int slot;
        uint64_t expect;
        if (nempty[0] || nempty[1]) {
            slot = nempty[1] > nempty[0] ? empty[1] : empty[0];
            expect = 0;
        } else if (stale >= 0) {
            slot = stale;
            expect = stale_key;
        } else {
            count(&p->rx[RX_LEARN_FAILURES], 1);
            return;
        }
        atomic_store_explicit(SLOT_SEEN(b, slot), now_ns, memory_order_relaxed);
        if (atomic_compare_exchange_strong_explicit(SLOT_KEY(b, slot), &expect, want,
                                                    memory_order_seq_cst,
                                                    memory_order_relaxed)) {
            /* Another thread may have inserted m meanwhile. */
            fdb_dedupe(b, m);
            return;
        }
    }
}

int net_switch_lookup(struct net_switch *sw, const uint8_t mac[6], uint64_t now_ns)
{
    uint64_t m = mac48(mac);
    if (!learnable(m))
        return NET_SWITCH_NO_PORT;
    struct fdb_bucket *b[2];
    buckets_of(sw, m, b);
    for (unsigned i = 0; i < SLOTS; i++) {
        _Atomic uint64_t *kp = SLOT_KEY(b, i);
        uint64_t k = atomic_load_explicit(kp, memory_order_acquire);
        while ((k & MAC_MASK) == m) {
            uint64_t seen = atomic_load_explicit(SLOT_SEEN(b, i), memory_order_acquire);
            uint64_t again = atomic_load_explicit(kp, memory_order_relaxed);
            if (again != k) { /* moved or replaced while reading seen */
                k = again;
                continue;
            }
            int port = key_port(k);
            if (!expired(sw, seen, now_ns) && port_live(&sw->ports[port]))
                return port;
            break;
        }
    }
    return NET_SWITCH_NO_PORT;
}

unsigned net_switch_age(struct net_switch *sw, uint64_t now_ns)
{
    unsigned n = 0;
    for (uint32_t bi = 0; bi <= sw->bucket_mask; bi++)
        for (unsigned w = 0; w < WAYS; w++) {
            _Atomic uint64_t *kp = &sw->buckets[bi].key[w];
            uint64_t k = atomic_load_explicit(kp, memory_order_acquire);
            if (!k)
                continue;
            uint64_t seen = atomic_load_explicit(&sw->buckets[bi].seen[w], memory_order_relaxed);
            /* A learn may refresh seen between the load and the CAS: the
             * entry goes anyway and the next frame learns it again. */
            if (reclaimable(sw, k, seen, now_ns) &&
                atomic_compare_exchange_strong_explicit(kp, &k, 0, memory_order_seq_cst,
                                                        memory_order_relaxed))
                n++;
        }
    return n;
}

/* ---- multicast filter ---- */

static bool mcast_holds(struct port *p, uint64_t m)
{
    unsigned hw = atomic_load_explicit(&p->mcast_hw, memory_order_acquire);
    for (unsigned i = 0; i < hw && i < NET_SWITCH_MCAST_MAX; i++)
        if (atomic_load_explicit(&p->mcast[i], memory_order_relaxed) == m)
            return true;
    return false;
}

void net_switch_mcast_filter(struct net_switch *sw, int port, bool enabled)
{
    struct port *p = port_at(sw, port);
    if (p && port_live(p))
        atomic_store_explicit(&p->mcast_on, enabled, memory_order_relaxed);
}

int net_switch_mcast_add(struct net_switch *sw, int port, const uint8_t mac[6])
{
    struct port *p = port_at(sw, port);
    uint64_t m = mac48(mac);
    if (!p || !port_live(p) || !(m & MAC_GROUP_BIT))
        return -EINVAL;
    for (;;) {
        int free_slot = -1;
        for (unsigned i = 0; i < NET_SWITCH_MCAST_MAX; i++) {
            uint64_t v = atomic_load_explicit(&p->mcast[i], memory_order_seq_cst);
            if (v == m)
                return 0;
            if (v == 0 && free_slot < 0)
                free_slot = (int)i;
        }
        if (free_slot < 0)
            return -ENOSPC;
        uint64_t expect = 0;
        if (!atomic_compare_exchange_strong_explicit(&p->mcast[free_slot], &expect, m,
                                                     memory_order_seq_cst,
                                                     memory_order_relaxed))
            continue; /* the other writer took it */
        unsigned hw = atomic_load_explicit(&p->mcast_hw, memory_order_relaxed);
        while (hw < (unsigned)free_slot + 1 &&
               !atomic_compare_exchange_weak_explicit(&p->mcast_hw, &hw, (unsigned)free_slot + 1,
                                                      memory_order_release,
                                                      memory_order_relaxed))
            ;
        /* Both writers may have added m at once: keep the lowest slot, as
         * the fdb does (the later CAS's scan sees the earlier). */
        bool seen_first = false;
        for (unsigned i = 0; i < NET_SWITCH_MCAST_MAX; i++) {
            uint64_t v = atomic_load_explicit(&p->mcast[i], memory_order_seq_cst);
            if (v != m)
                continue;
            if (seen_first)
                atomic_compare_exchange_strong_explicit(&p->mcast[i], &v, 0,
                                                        memory_order_seq_cst,
                                                        memory_order_relaxed);
            seen_first = true;
        }
        return 0;
    }
}

int net_switch_mcast_del(struct net_switch *sw, int port, const uint8_t mac[6])
{
    struct port *p = port_at(sw, port);
    uint64_t m = mac48(mac);
    if (!p || !port_live(p))
        return -EINVAL;
    bool found = false;
    for (unsigned i = 0; i < NET_SWITCH_MCAST_MAX; i++) {
        uint64_t v = m;
        if (atomic_compare_exchange_strong_explicit(&p->mcast[i], &v, 0, memory_order_seq_cst,
                                                    memory_order_relaxed))
            found = true;
    }
    return found ? 0 : -ENOENT;
}

/* ---- flooding ---- */

unsigned net_switch_flood(struct net_switch *sw, int except, const uint8_t dst[6],
                          void (*fn)(int port, void *owner, void *arg), void *arg)
{
    uint64_t d = mac48(dst);
    bool group = d & MAC_GROUP_BIT;
    bool filtered = group && d != MAC_MASK; /* multicast, not broadcast */
    struct port *ex = port_at(sw, except);
    if (ex) {
        count(&ex->rx[RX_FLOODS], 1);
        if (!group)
            count(&ex->rx[RX_UNKNOWN_UNICAST], 1);
    } else {
        count(&sw->ext_floods, 1);
        if (!group)
            count(&sw->ext_unknown_unicast, 1);
    }
    unsigned hw = atomic_load_explicit(&sw->port_hw, memory_order_acquire);
    unsigned n = 0;
    for (unsigned i = 0; i < hw; i++) {
        struct port *p = &sw->ports[i];
        if ((int)i == except || !port_live(p))
            continue;
        if (filtered && atomic_load_explicit(&p->mcast_on, memory_order_relaxed) &&
            !mcast_holds(p, d))
            continue;
        fn((int)i, atomic_load_explicit(&p->owner, memory_order_relaxed), arg);
        n++;
    }
    return n;
}

/* ---- counters ---- */

void net_switch_count_rx(struct net_switch *sw, int port, unsigned packets, uint64_t bytes)
{
    struct port *p = port_at(sw, port);
    if (!p)
        return;
    count(&p->rx[RX_PACKETS], packets);
    count(&p->rx[RX_BYTES], bytes);
}

void net_switch_count_tx(struct net_switch *sw, int port, unsigned packets, uint64_t bytes)
{
    struct port *p = port_at(sw, port);
    if (!p)
        return;
    count(&p->tx[TX_PACKETS], packets);
    count(&p->tx[TX_BYTES], bytes);
}

void net_switch_count_drop(struct net_switch *sw, int port, unsigned packets)
{
    struct port *p = port_at(sw, port);
    if (p)
        count(&p->rx[RX_DROPS], packets);
}

int net_switch_port_stats(struct net_switch *sw, int port, struct net_switch_port_stats *out)
{
    struct port *p = port_at(sw, port);
    if (!p || port_state(p) == PORT_FREE)
        return -ENOENT;
    *out = (struct net_switch_port_stats){
        .rx_packets = read_counter(&p->rx[RX_PACKETS]),
        .rx_bytes = read_counter(&p->rx[RX_BYTES]),
        .tx_packets = read_counter(&p->tx[TX_PACKETS]),
        .tx_bytes = read_counter(&p->tx[TX_BYTES]),
        .flood_packets = read_counter(&p->rx[RX_FLOODS]),
        .unknown_unicast = read_counter(&p->rx[RX_UNKNOWN_UNICAST]),
        .drops = read_counter(&p->rx[RX_DROPS]),
        .learn_failures = read_counter(&p->rx[RX_LEARN_FAILURES]),
    };
    return 0;
}

void net_switch_stats(struct net_switch *sw, struct net_switch_stats *out)
{
    *out = (struct net_switch_stats){
        .learn_failures = sw->retired_learn_failures,
        .flood_packets = sw->retired_floods + read_counter(&sw->ext_floods),
        .unknown_unicast = sw->retired_unknown_unicast + read_counter(&sw->ext_unknown_unicast),
    };
    for (unsigned i = 0; i < sw->max_ports; i++) {
        struct port *p = &sw->ports[i];
        if (port_state(p) == PORT_FREE)
            continue;
        out->learn_failures += read_counter(&p->rx[RX_LEARN_FAILURES]);
        out->flood_packets += read_counter(&p->rx[RX_FLOODS]);
        out->unknown_unicast += read_counter(&p->rx[RX_UNKNOWN_UNICAST]);
    }
}

/* ---- describe ---- */

/* Sets o[key] = v (stealing v); false (o unchanged) if v is NULL or the set fails. */
static bool put(json_t *o, const char *key, json_t *v)
{
    return v && json_object_set_new(o, key, v) == 0;
}

static bool put_int(json_t *o, const char *key, uint64_t v)
{
    return put(o, key, json_integer((json_int_t)v));
}

static json_t *describe_port(struct net_switch *sw, int i)
{
    struct port *p = &sw->ports[i];
    struct net_switch_port_stats st;
    int state = port_state(p);
    if (state == PORT_FREE || net_switch_port_stats(sw, i, &st) < 0)
        return NULL;
    json_t *o = json_object();
    json_t *mc = json_array();
    bool ok = o && mc;
    unsigned hw = atomic_load_explicit(&p->mcast_hw, memory_order_acquire);
    for (unsigned s = 0; ok && s < hw && s < NET_SWITCH_MCAST_MAX; s++) {
        uint64_t v = atomic_load_explicit(&p->mcast[s], memory_order_relaxed);
        char buf[18];
        if (!v)
            continue;
        mac_str(v, buf);
        ok = json_array_append_new(mc, json_string(buf)) == 0;
    }
    ok = ok && put_int(o, "port", (uint64_t)i) && put(o, "name", json_string(p->name)) &&
         put(o, "state", json_string(state == PORT_LIVE ? "live" : "deleted")) &&
         put_int(o, "rx_packets", st.rx_packets) && put_int(o, "rx_bytes", st.rx_bytes) &&
         put_int(o, "tx_packets", st.tx_packets) && put_int(o, "tx_bytes", st.tx_bytes) &&
         put_int(o, "flood_packets", st.flood_packets) &&
         put_int(o, "unknown_unicast", st.unknown_unicast) && put_int(o, "drops", st.drops) &&
         put_int(o, "learn_failures", st.learn_failures) &&
         put(o, "mcast_filter",
             json_boolean(atomic_load_explicit(&p->mcast_on, memory_order_relaxed)));
    if (ok) {
        ok = put(o, "mcast", mc);
        mc = NULL; /* stolen, even on failure */
    }
    if (!ok) {
        json_decref(mc);
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *describe_fdb(struct net_switch *sw, uint64_t now_ns, unsigned *entries)
{
    json_t *fdb = json_array();
    *entries = 0;
    for (uint32_t bi = 0; fdb && bi <= sw->bucket_mask; bi++)
        for (unsigned w = 0; w < WAYS; w++) {
            uint64_t k = atomic_load_explicit(&sw->buckets[bi].key[w], memory_order_acquire);
            if (!k)
                continue;
            uint64_t seen = atomic_load_explicit(&sw->buckets[bi].seen[w], memory_order_relaxed);
            int port = key_port(k);
            if (expired(sw, seen, now_ns) || !port_live(&sw->ports[port]))
                continue;
            char buf[18];
            mac_str(k & MAC_MASK, buf);
            json_t *e = json_pack("{s:s, s:i, s:I}", "mac", buf, "port", port, "age_ms",
                                  (json_int_t)(now_ns > seen ? (now_ns - seen) / 1000000 : 0));
            if (json_array_append_new(fdb, e) < 0) {
                json_decref(fdb);
                return NULL;
            }
            (*entries)++;
        }
    return fdb;
}

json_t *net_switch_describe(struct net_switch *sw, uint64_t now_ns)
{
    struct net_switch_stats st;
    net_switch_stats(sw, &st);
    unsigned entries;
    json_t *o = json_object();
    json_t *ports = json_array();
    json_t *fdb = describe_fdb(sw, now_ns, &entries);
    bool ok = o && ports && fdb;
    unsigned hw = atomic_load_explicit(&sw->port_hw, memory_order_acquire);
    for (unsigned i = 0; ok && i < hw; i++)
        if (port_state(&sw->ports[i]) != PORT_FREE)
            ok = json_array_append_new(ports, describe_port(sw, (int)i)) == 0;
    ok = ok && put(o, "name", json_string(sw->name)) && put_int(o, "max_ports", sw->max_ports) &&
         put_int(o, "fdb_size", sw->fdb_size) && put_int(o, "age_ms", sw->age_ns / 1000000) &&
         put_int(o, "fdb_entries", entries) && put_int(o, "learn_failures", st.learn_failures) &&
         put_int(o, "flood_packets", st.flood_packets) &&
         put_int(o, "unknown_unicast", st.unknown_unicast);
    if (ok) {
        ok = put(o, "ports", ports);
        ports = NULL;
    }
    if (ok) {
        ok = put(o, "fdb", fdb);
        fdb = NULL;
    }
    if (!ok) {
        json_decref(ports);
        json_decref(fdb);
        json_decref(o);
        return NULL;
    }
    return o;
}
