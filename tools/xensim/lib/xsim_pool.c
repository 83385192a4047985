/*
 * xsim_pool.c - cpupools (xensim.h, "cpupools"): one RPC each.
 */
#include <errno.h>
#include <string.h>

#include "xsim_internal.h"

static int pool_rpc(struct xsim *xs, struct xsim_req *req, struct xsim_rsp *rsp)
{
    int fds[XSIM_RPC_MAX_FDS];
    return xsim_rpc(xs, req, rsp, fds);
}

int xsim_pool_list(struct xsim *xs, struct xsim_pools *out)
{
    struct xsim_req req = { .op = XSIM_OP_POOL_LIST };
    struct xsim_rsp rsp;
    int ret = pool_rpc(xs, &req, &rsp);
    if (ret < 0)
        return ret;
    *out = rsp.u.pools;
    if (out->nr_pools > XSIM_MAX_POOLS)
        out->nr_pools = XSIM_MAX_POOLS;
    for (uint32_t i = 0; i < out->nr_pools; i++) {
        out->pool[i].name[XSIM_POOL_NAME_MAX - 1] = '\0';
        out->pool[i].sched[XSIM_SCHED_NAME_MAX - 1] = '\0';
    }
    return 0;
}

int xsim_pool_create(struct xsim *xs, const char *name, const char *sched)
{
    struct xsim_req req = { .op = XSIM_OP_POOL_CREATE };
    struct xsim_rsp rsp;
    if (strlen(name) >= sizeof(req.u.pool.name) || strlen(sched) >= sizeof(req.u.pool.sched))
        return -EINVAL;
    strcpy(req.u.pool.name, name);
    strcpy(req.u.pool.sched, sched);
    return pool_rpc(xs, &req, &rsp);
}

int xsim_pool_destroy(struct xsim *xs, uint32_t pool)
{
    struct xsim_req req = { .op = XSIM_OP_POOL_DESTROY, .u.pool = { .id = pool } };
    struct xsim_rsp rsp;
    return pool_rpc(xs, &req, &rsp);
}

int xsim_pool_cpu(struct xsim *xs, uint32_t pool, uint32_t cpu, bool add)
{
    struct xsim_req req = { .op = XSIM_OP_POOL_CPU,
                            .u.pool = { .id = pool, .cpu = cpu, .add = add } };
    struct xsim_rsp rsp;
    return pool_rpc(xs, &req, &rsp);
}

int xsim_pool_move_domain(struct xsim *xs, uint32_t pool, domid_t domid)
{
    struct xsim_req req = { .op = XSIM_OP_POOL_MOVE_DOMAIN,
                            .u.pool = { .id = pool, .domid = domid } };
    struct xsim_rsp rsp;
    return pool_rpc(xs, &req, &rsp);
}

int xsim_domain_sched(struct xsim *xs, domid_t domid, uint32_t *pool, uint32_t *nr_vcpus)
{
    struct xsim_req req = { .op = XSIM_OP_DOMAIN_SCHED, .u.pool = { .domid = domid } };
    struct xsim_rsp rsp;
    int ret = pool_rpc(xs, &req, &rsp);
    if (ret < 0)
        return ret;
    *pool = rsp.u.sched.pool;
    *nr_vcpus = rsp.u.sched.nr_vcpus;
    return 0;
}

int xsim_domain_set_vcpus(struct xsim *xs, domid_t domid, uint32_t nr_vcpus)
{
    struct xsim_req req = { .op = XSIM_OP_DOMAIN_SET_VCPUS,
                            .u.pool = { .domid = domid, .cpu = nr_vcpus } };
    struct xsim_rsp rsp;
    return pool_rpc(xs, &req, &rsp);
}

int xsim_vcpu_pin(struct xsim *xs, domid_t domid, uint32_t vcpu, int cpu)
{
    struct xsim_req req = { .op = XSIM_OP_VCPU_PIN,
                            .u.pool = { .domid = domid, .cpu = vcpu, .add = cpu } };
    struct xsim_rsp rsp;
    return pool_rpc(xs, &req, &rsp);
}
