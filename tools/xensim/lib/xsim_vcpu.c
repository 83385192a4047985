/*
 * xsim_vcpu.c - the vCPU map (xensim.h, "vCPUs"): two RPCs.
 */
#include <errno.h>
#include <string.h>

#include "xsim_internal.h"

int xsim_vcpu_get(struct xsim *xs, domid_t domid, uint32_t vcpu, struct xsim_vcpu_info *info)
{
    struct xsim_req req = { .op = XSIM_OP_VCPU_GET, .u.vcpu = { .domid = domid, .vcpu = vcpu } };
    struct xsim_rsp rsp;
    int fds[XSIM_RPC_MAX_FDS];
    int ret = xsim_rpc(xs, &req, &rsp, fds);
    if (ret < 0)
        return ret;
    *info = rsp.u.vcpu;
    info->pool_name[sizeof(info->pool_name) - 1] = '\0';
    info->sched[sizeof(info->sched) - 1] = '\0';
    return 0;
}

int xsim_vcpu_set(struct xsim *xs, domid_t domid, uint32_t vcpu,
                  const struct xsim_vcpu_info *info)
{
    struct xsim_req req = { .op = XSIM_OP_VCPU_SET,
                            .u.vcpu = { .domid = domid, .vcpu = vcpu, .info = *info } };
    struct xsim_rsp rsp;
    int fds[XSIM_RPC_MAX_FDS];
    return xsim_rpc(xs, &req, &rsp, fds);
}
