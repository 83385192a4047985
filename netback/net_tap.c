/*
 * net_tap.c - the TAP uplink of a vif (net_tap.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net_tap.h"

static int tap_open(const char *name, short extra_flags)
{
    if (!name || !*name || strlen(name) >= IFNAMSIZ || strchr(name, '/'))
        return -EINVAL;
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE | extra_flags;
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int err = errno == EBUSY ? EEXIST : errno;
        close(fd);
        return -err;
    }
    return fd;
}

/* An ioctl on the interface through a throw-away socket. */
static int ifreq_ioctl(unsigned long req, struct ifreq *ifr)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    int rc = ioctl(s, req, ifr) < 0 ? -errno : 0;
    close(s);
    return rc;
}

int net_tap_set_mtu(const char *name, unsigned mtu)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    ifr.ifr_mtu = (int)mtu;
    return ifreq_ioctl(SIOCSIFMTU, &ifr);
}

static int set_mac_and_up(const char *name)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
    memset(ifr.ifr_hwaddr.sa_data, 0xff, 6);
    ifr.ifr_hwaddr.sa_data[0] = (char)0xfe;
    int rc = ifreq_ioctl(SIOCSIFHWADDR, &ifr);
    if (rc < 0)
        return rc;
    if ((rc = ifreq_ioctl(SIOCGIFFLAGS, &ifr)) < 0)
        return rc;
    ifr.ifr_flags |= IFF_UP;
    return ifreq_ioctl(SIOCSIFFLAGS, &ifr);
}

int net_tap_create(const char *name, unsigned mtu, bool *adopted)
{
    /* A new interface first; an existing one is an earlier daemon's, kept
     * (persistent) with its bridge and addresses for us: adopted if nobody
     * holds it (a busy one belongs to someone else). */
    *adopted = false;
    int fd = tap_open(name, IFF_TUN_EXCL);
    if (fd == -EEXIST) {
        fd = tap_open(name, 0);
        if (fd >= 0 && net_tap_queues(name) > 1) {
            close(fd);
            return -EEXIST;
        }
        *adopted = fd >= 0;
    }
    if (fd < 0)
        return fd;
    if (ioctl(fd, TUNSETPERSIST, 1) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    if (*adopted)
        return fd;
    int hdr = 10; /* struct virtio_net_hdr, without num_buffers */
    int rc = ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 ? -errno : 0;
    if (rc == 0 && mtu)
        rc = net_tap_set_mtu(name, mtu);
    if (rc == 0)
        rc = set_mac_and_up(name);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

int net_tap_open_queue(const char *name)
{
    return tap_open(name, 0);
}

int net_tap_destroy(int fd)
{
    int rc = ioctl(fd, TUNSETPERSIST, 0) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

int net_tap_queues(const char *name)
{
    /* /sys/class/net/<name>/queues/rx-<n> exist for the attached queues */
    char path[128];
    int n = 0;
    for (; n < 256; n++) {
        snprintf(path, sizeof(path), "/sys/class/net/%s/queues/rx-%d", name, n);
        if (access(path, F_OK) != 0)
            break;
    }
    return n;
}

int net_tap_set_offloads(int fd, bool csum, bool tso4, bool tso6)
{
    unsigned long off = 0;
    if (csum) {
        off |= TUN_F_CSUM;
        if (tso4)
            off |= TUN_F_TSO4;
        if (tso6)
            off |= TUN_F_TSO6;
    }
    return ioctl(fd, TUNSETOFFLOAD, off) < 0 ? -errno : 0;
}

int net_tap_set_carrier(int fd, bool up)
{
#ifdef TUNSETCARRIER
    int on = up;
    return ioctl(fd, TUNSETCARRIER, &on) < 0 ? -errno : 0;
#else
    (void)fd;
    (void)up;
    return -EINVAL;
#endif
}
