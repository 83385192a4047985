/*
 * netgen.h - simnetfront's traffic engine over a connected netfront device
 * (libsimfront.a):
 *   gen   sends test frames (netframe.h) of one size, round robin over
 *         flows, flow f on queue f % queues, paced or as fast as the rings
 *         take them; frames above the MTU go as TCP with a GSO extra;
 *   sink  only receives;
 *   echo  reflects every frame to its source MAC, offloads kept.
 * gen and sink verify every test frame they receive (checksums, each
 * payload byte) and follow each sender's flows: a gap is a loss, an old
 * sequence number a duplicate or reordering; a frame of their own coming
 * back (from an echo peer) gives a latency.
 *
 * One thread.  ng_drive() returns when the work is done, *stop is set or
 * the backend closes.  Returns 0 or -errno.
 */
#ifndef SC_SIMFRONT_NETGEN_H
#define SC_SIMFRONT_NETGEN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "netframe.h"
#include "netfront.h"

enum ng_mode { NG_GEN, NG_SINK, NG_ECHO };

struct ng_opts {
    enum ng_mode mode;
    uint32_t size;                  /* gen: frame bytes, Ethernet header included */
    uint8_t dst_mac[NFR_ETH_ALEN];
    bool ipv6;
    uint8_t src_ip[16], dst_ip[16]; /* IPv4: the first 4 bytes */
    unsigned flows;                 /* 1..NFR_MAX_FLOWS */
    double rate;                    /* frames per second, 0: as fast as possible */
    uint64_t count;                 /* gen: frames to send; sink: messages to take;
                                       echo: frames to reflect; 0: no bound */
    double seconds;                 /* 0: no bound */
    unsigned linger_ms;             /* gen: receive this long after the last frame */
    bool expect_echo;               /* gen: done when every frame came back */
    uint64_t expect;                /* messages expected from peers (0: unknown) */
    bool quiet;                     /* no per-error lines on stderr */
    volatile sig_atomic_t *stop;
    /* gen: when set, sending ends as if --seconds were up, and the run ends
     * as usual (the linger, the echoes counted); NULL: never. */
    volatile sig_atomic_t *finish;
};

struct ng_result {
    uint64_t sent, sent_bytes;
    uint64_t received, received_bytes;      /* test frames */
    uint64_t bad_csum, bad_data, other;     /* other: not test frames */
    uint64_t echoes;                        /* own messages back */
    uint64_t peer_messages;
    uint64_t out_of_order;                  /* duplicates or reordered */
    uint64_t lost;                          /* gaps; with expect_echo or expect, the
                                               shortfall */
    uint64_t echoed, echo_dropped;          /* echo mode */
    double p50_us, p99_us;                  /* own messages' round trips */
};

struct ng_run;

/* -EINVAL (with a line on stderr) if the size cannot go with what was
 * negotiated; -ENOMEM. */
int ng_create(struct nf_dev *d, const struct ng_opts *o, struct ng_run **out);
int ng_drive(struct ng_run *r);
void ng_get_result(const struct ng_run *r, struct ng_result *out);
void ng_destroy(struct ng_run *r);

#endif /* SC_SIMFRONT_NETGEN_H */
