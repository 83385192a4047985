/*
 * hv_internal.h - the contract between the files of the simulated hypervisor:
 *   hv.c         sockets, connections, RPC dispatch (hv.h's five functions)
 *   hv_domain.c  domain slots, their memory files, the shared domain table
 *   hv_evtchn.c  event-channel ports and their eventfds
 *   hv_grant.c   maptrack: pins of closed connections, references to dying domains
 *   hv_vcpu.c    the vCPU map tests set: placement and accruing steal
 *   hv_pool.c    cpupools: physical CPUs, pools, each domain's pool
 * Everything runs on xensimd's single thread; no locking inside the daemon
 * (the active-entry locks are taken only against mapping processes).
 * Functions return 0 / a non-negative value, or a negative errno.
 */
#ifndef XENSIM_HV_INTERNAL_H
#define XENSIM_HV_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "hv.h"
#include "xensim.h"
#include "xensim_abi.h"

#define hv_log(fmt, ...) fprintf(stderr, "hv: " fmt "\n", ##__VA_ARGS__)

/* What an epoll event's data.ptr points at. */
enum hv_ep_kind {
    HV_EP_LISTEN,   /* a domain's listening socket */
    HV_EP_CONN,     /* a client connection */
    HV_EP_TIMER,    /* the reaper of dying domains */
};
struct hv_ep {
    enum hv_ep_kind kind;
};

enum hv_port_state {
    HV_PORT_FREE = 0,   /* not allocated */
    HV_PORT_UNBOUND,    /* allocated; waits for remote_dom to bind */
    HV_PORT_INTERDOMAIN,/* connected to remote_dom:remote_port */
};

struct hv_conn;

struct hv_port {
    uint8_t state;          /* enum hv_port_state */
    domid_t remote_dom;
    evtchn_port_t remote_port;
    int efd;                /* the eventfd kicks to this port land in; -1 if free */
    struct hv_conn *conn;   /* owner (the connection and handle that bound it) */
    uint32_t handle;
};

struct hv_domain {
    struct hv_ep ep;        /* HV_EP_LISTEN; data for listen_fd */
    struct hv *hv;
    domid_t domid;
    enum xsim_domain_state state;
    uint32_t incarnation;
    uint64_t mem_pages;
    char name[XSIM_NAME_MAX];
    int listen_fd;
    int mem_fd, gnt_fd, act_fd;
    grant_entry_v1_t *gnt;  /* the daemon's own mappings, for dropping pins */
    uint32_t *act;
    struct hv_port *ports;  /* XSIM_NR_PORTS, port 0 never used */
    struct hv_vcpu *vcpus;  /* XSIM_MAX_VCPUS once one is set; NULL: all defaults */
    uint32_t pool;          /* its cpupool's id */
    uint32_t nr_vcpus;
};

/* One vCPU's entry: steal up to since_ns is steal_base_ns; after it, it
 * accrues at info.steal_permille. */
struct hv_vcpu {
    struct xsim_vcpu_info info;
    uint64_t steal_base_ns;
    uint64_t since_ns;
    bool pool_override;     /* info's pool fields are a test's, not the domain's pool */
};

struct hv_pool {
    bool used;
    char name[XSIM_POOL_NAME_MAX];
    char sched[XSIM_SCHED_NAME_MAX];
    uint64_t cpus;
};

struct hv_conn {
    struct hv_ep ep;        /* HV_EP_CONN */
    struct hv *hv;
    int fd;
    domid_t domid;
    uint32_t incarnation;   /* of domid when connected */
    int mt_fd;
    struct xsim_maptrack *mt;
    struct hv_conn *next, *prev;
};

struct hv {
    char dir[4096 - 64];
    struct xsd *xsd;
    int epfd;
    struct hv_ep timer_ep;
    int timer_fd;
    bool timer_armed;
    int domtab_fd;
    struct xsim_domtab_entry *domtab;
    int portgen_fd;
    uint32_t *portgen;
    domid_t last_domid;
    uint32_t next_handle;
    struct hv_conn *conns;
    struct hv_conn *closed;     /* closed this dispatch round, freed at its end */
    struct hv_domain dom[XSIM_MAX_DOMAINS];
    uint32_t nr_pcpus;
    uint32_t scheds_missing;  /* bits of hv_pool.c's table a pool may not use */
    struct hv_pool pools[XSIM_MAX_POOLS];   /* index = id */
};

/* hv.c */
void hv_conn_close(struct hv *hv, struct hv_conn *c);

/* hv_domain.c */
int hv_domains_init(struct hv *hv);
void hv_domains_fini(struct hv *hv);
/* Allocates a slot, its files and socket; introduces it to xenstored. */
int hv_domain_create(struct hv *hv, const char *name, uint32_t mem_mb);
/* Dom0 exists from the start, in slot 0. */
int hv_domain_create_dom0(struct hv *hv, uint32_t mem_mb);
int hv_domain_destroy(struct hv *hv, domid_t domid);
/* Frees dying domains nobody pins any more; re-arms the reaper timer. */
void hv_domain_reap(struct hv *hv);
struct hv_domain *hv_domain_running(struct hv *hv, uint32_t domid);

/* hv_evtchn.c (each returns the local port or 0, or negative errno;
 * fds handed out stay owned by the daemon) */
int hv_evtchn_alloc_unbound(struct hv *hv, struct hv_conn *c, uint32_t handle,
                            uint32_t remote, int *efd);
int hv_evtchn_bind_interdomain(struct hv *hv, struct hv_conn *c, uint32_t handle,
                               uint32_t remote, uint32_t rport, int *efd, int *peer_efd,
                               uint32_t *gen);
int hv_evtchn_unbind(struct hv *hv, struct hv_conn *c, uint32_t handle, uint32_t port);
int hv_evtchn_peer(struct hv *hv, struct hv_conn *c, uint32_t handle, uint32_t port,
                   int *peer_efd, uint32_t *gen);
/* Closes the ports of one handle (handle != 0) or of the whole connection. */
void hv_evtchn_close_owner(struct hv *hv, struct hv_conn *c, uint32_t handle);
void hv_evtchn_close_domain(struct hv *hv, domid_t domid);

/* hv_grant.c */
/* Drops every pin recorded in the connection's maptrack. */
void hv_maptrack_release(struct hv *hv, struct hv_conn *c);
/* Whether any connection still pins a grant of domid's incarnation. */
bool hv_maptrack_references(struct hv *hv, domid_t domid, uint32_t incarnation);

/* hv_vcpu.c */
int hv_vcpu_get(struct hv *hv, uint32_t domid, uint32_t vcpu, struct xsim_vcpu_info *out);
int hv_vcpu_set(struct hv *hv, uint32_t domid, uint32_t vcpu, const struct xsim_vcpu_info *in);
/* Forgets a domain's map (its slot is freed). */
void hv_vcpu_free(struct hv_domain *d);
/* cpu >= 0: hard affinity to it alone (in the domain's pool); -1: none. */
int hv_vcpu_pin(struct hv *hv, uint32_t domid, uint32_t vcpu, int32_t cpu);
/* After a domain moved pools: affinity reset, vCPUs on the pool's CPUs. */
void hv_vcpu_moved(struct hv *hv, struct hv_domain *d);
/* Pins to `cpu` (which left the domain's pool) are dropped. */
void hv_vcpu_cpu_gone(struct hv *hv, struct hv_domain *d, uint32_t cpu);

/* hv_pool.c (Dom0-only checks are the dispatcher's) */
void hv_pools_init(struct hv *hv, uint32_t nr_pcpus);
void hv_pool_list(struct hv *hv, struct xsim_pools *out);
int hv_pool_create(struct hv *hv, const char *name, const char *sched);
int hv_pool_destroy(struct hv *hv, uint32_t id);
int hv_pool_cpu(struct hv *hv, uint32_t id, uint32_t cpu, bool add);
int hv_pool_move_domain(struct hv *hv, uint32_t id, uint32_t domid);
int hv_domain_sched(struct hv *hv, uint32_t domid, uint32_t *pool, uint32_t *nr_vcpus);
int hv_domain_set_vcpus(struct hv *hv, uint32_t domid, uint32_t nr);
/* The pool's name and scheduler into a vCPU's info. */
void hv_pool_describe(struct hv *hv, uint32_t id, struct xsim_vcpu_info *info);

#endif
