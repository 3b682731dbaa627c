/* iface.c - interface facts: state, counters, speed, merging offloads.
 *
 * DESIGN
 * 1. State, MTU, MAC and RX counters come from one rtnetlink dump (the
 *    libnl-route link cache), so every interface of a listing is read at
 *    the same moment. libnl's own error codes (NLE_*) become negative
 *    errnos at this boundary.
 * 2. Speed and offloads are not in rtnetlink: they come from the ethtool
 *    ioctl on an AF_INET datagram socket. The ioctl, not /sys/class/net/IF/
 *    speed, because sysfs shows the namespace it was mounted in while a
 *    socket always works in the calling thread's namespace (the tests enter
 *    a namespace with setns(2)).
 * 3. Speed: ETHTOOL_GLINKSETTINGS with the kernel's two-step handshake (ask
 *    with 0 mask words, it answers with -N, ask again with N); drivers
 *    without it fall back to the deprecated ETHTOOL_GSET. SPEED_UNKNOWN and
 *    0 are reported as -1.
 * 4. Offloads: the features API (the ETH_SS_FEATURES string set, then
 *    ETHTOOL_GFEATURES) by name, as `ethtool -k` reads them; it also says
 *    which active ones the driver will not change ("[fixed]"), so a warning
 *    never advises what cannot be done. rx-gro-hw exists only there. The
 *    legacy per-feature ioctls (GGRO, GFLAGS & ETH_FLAG_LRO, GGSO, GTSO) are
 *    asked first: they tell a missing interface apart, and stand alone when
 *    a driver has no feature strings. An offload a driver does not answer
 *    for (EOPNOTSUPP) is off. */
#include "internal.h"

#include <errno.h>
#include <linux/ethtool.h>
#include <linux/if.h>
#include <linux/sockios.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FEATURES 4096 /* feature strings we accept (the kernel has ~70) */

static int nl_to_errno(int nlerr)
{
    switch (nlerr < 0 ? -nlerr : nlerr) {
    case NLE_NOMEM:
        return -ENOMEM;
    case NLE_PERM:
        return -EPERM;
    case NLE_NODEV:
    case NLE_OBJ_NOTFOUND:
        return -ENODEV;
    default:
        return -EIO;
    }
}

static int ethtool_ioctl(int fd, const char *ifname, void *cmd)
{
    struct ifreq ifr;

    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
    ifr.ifr_data = cmd;
    while (ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}

static int64_t speed_of(int fd, const char *ifname)
{
    struct {
        struct ethtool_link_settings s;
        uint32_t masks[3 * 127]; /* supported, advertising, lp_advertising */
    } ls;
    struct ethtool_cmd gset;
    uint32_t speed;

    memset(&ls, 0, sizeof ls);
    ls.s.cmd = ETHTOOL_GLINKSETTINGS;
    if (ethtool_ioctl(fd, ifname, &ls) == 0 && ls.s.link_mode_masks_nwords < 0) {
        int8_t nwords = (int8_t)-ls.s.link_mode_masks_nwords;
        memset(&ls, 0, sizeof ls);
        ls.s.cmd = ETHTOOL_GLINKSETTINGS;
        ls.s.link_mode_masks_nwords = nwords;
        if (ethtool_ioctl(fd, ifname, &ls) == 0 && ls.s.link_mode_masks_nwords > 0) {
            speed = ls.s.speed;
            goto got;
        }
    }
    memset(&gset, 0, sizeof gset);
    gset.cmd = ETHTOOL_GSET;
    if (ethtool_ioctl(fd, ifname, &gset) < 0)
        return -1;
    speed = ethtool_cmd_speed(&gset);
got:
    return speed == 0 || speed == (uint32_t)SPEED_UNKNOWN ? -1 : (int64_t)speed;
}

static void fill_info(struct pt_iface_info *f, struct rtnl_link *l, int fd)
{
    struct nl_addr *a = rtnl_link_get_addr(l);
    const char *name = rtnl_link_get_name(l);
    unsigned flags = rtnl_link_get_flags(l);

    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", name ? name : "");
    f->index = rtnl_link_get_ifindex(l);
    f->admin_up = (flags & IFF_UP) != 0;
    f->carrier = (flags & IFF_LOWER_UP) != 0;
    f->oper = (enum pt_iface_oper)rtnl_link_get_operstate(l);
    if (f->oper > PT_IFACE_OPER_UP)
        f->oper = PT_IFACE_OPER_UNKNOWN;
    f->mtu = rtnl_link_get_mtu(l);
    if (a && nl_addr_get_len(a) == 6) {
        memcpy(f->mac, nl_addr_get_binary_addr(a), 6);
        f->mac_len = 6;
    }
    f->speed_mbps = fd >= 0 ? speed_of(fd, f->name) : -1;
    f->rx_packets = rtnl_link_get_stat(l, RTNL_LINK_RX_PACKETS);
    f->rx_bytes = rtnl_link_get_stat(l, RTNL_LINK_RX_BYTES);
    f->rx_dropped = rtnl_link_get_stat(l, RTNL_LINK_RX_DROPPED);
    f->rx_errors = rtnl_link_get_stat(l, RTNL_LINK_RX_ERRORS);
}

static int cmp_index(const void *x, const void *y)
{
    const struct pt_iface_info *a = x, *b = y;
    return (a->index > b->index) - (a->index < b->index);
}

/* One rtnetlink dump; with @only set, just that interface into @out[0]. */
static int collect(const char *only, struct pt_iface_info **out, unsigned *n)
{
    struct nl_sock *sk;
    struct nl_cache *cache = NULL;
    struct pt_iface_info *v = NULL;
    unsigned cnt = 0;
    int rc, fd;

    *out = NULL;
    *n = 0;
    if (!(sk = nl_socket_alloc()))
        return -ENOMEM;
    if ((rc = nl_connect(sk, NETLINK_ROUTE)) < 0) {
        rc = nl_to_errno(rc);
        goto err_sock;
    }
    if ((rc = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache)) < 0) {
        rc = nl_to_errno(rc);
        goto err_sock;
    }
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); /* no fd: speed unknown */
    if (!(v = calloc((size_t)nl_cache_nitems(cache) + 1, sizeof *v))) {
        rc = -ENOMEM;
        goto err_fd;
    }
    for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
        struct rtnl_link *l = (struct rtnl_link *)o;
        const char *name = rtnl_link_get_name(l);

        if (only && (!name || strcmp(name, only) != 0))
            continue;
        fill_info(&v[cnt++], l, fd);
    }
    if (only && cnt == 0) {
        rc = -ENODEV;
        goto err_free;
    }
    qsort(v, cnt, sizeof *v, cmp_index);
    if (cnt == 0) {
        free(v);
        v = NULL;
    }
    *out = v;
    *n = cnt;
    rc = 0;
    goto err_fd;
err_free:
    free(v);
err_fd:
    if (fd >= 0)
        close(fd);
    nl_cache_free(cache);
err_sock:
    nl_socket_free(sk);
    return rc;
}

int pt_iface_list(struct pt_iface_info **out, unsigned *n)
{
    return collect(NULL, out, n);
}

int pt_iface_get(const char *name, struct pt_iface_info *info)
{
    struct pt_iface_info *v;
    unsigned n;
    int rc;

    if (!name || !*name || strlen(name) >= IFNAMSIZ)
        return -ENODEV;
    if ((rc = collect(name, &v, &n)) < 0)
        return rc;
    *info = v[0];
    free(v);
    return 0;
}

const char *pt_iface_oper_name(enum pt_iface_oper oper)
{
    static const char *const names[] = {"unknown", "notpresent", "down", "lowerlayerdown",
                                        "testing", "dormant",    "up"};
    return (unsigned)oper < PT_ARRAY_LEN(names) ? names[oper] : "unknown";
}

const char *pt_iface_offload_name(unsigned bit)
{
    switch (bit) {
    case PT_OFFLOAD_GRO:
        return "gro";
    case PT_OFFLOAD_LRO:
        return "lro";
    case PT_OFFLOAD_GRO_HW:
        return "rx-gro-hw";
    case PT_OFFLOAD_GSO:
        return "gso";
    case PT_OFFLOAD_TSO:
        return "tso";
    default:
        return "?";
    }
}

/* The ETH_SS_FEATURES string set of @ifname: a malloc'd array of *@count
 * names of ETH_GSTRING_LEN bytes each (caller frees), NULL when the driver
 * has none or the kernel refuses. */
static char *feature_names(int fd, const char *ifname, uint32_t *count)
{
    struct {
        struct ethtool_sset_info hdr;
        uint32_t len;
    } si;
    struct ethtool_gstrings *gs;
    char *names;

    memset(&si, 0, sizeof si);
    si.hdr.cmd = ETHTOOL_GSSET_INFO;
    si.hdr.sset_mask = 1ull << ETH_SS_FEATURES;
    if (ethtool_ioctl(fd, ifname, &si) < 0 || !(si.hdr.sset_mask & (1ull << ETH_SS_FEATURES)))
        return NULL;
    *count = si.len;
    if (si.len == 0 || si.len > MAX_FEATURES)
        return NULL;
    if (!(gs = calloc(1, sizeof *gs + (size_t)si.len * ETH_GSTRING_LEN)))
        return NULL;
    gs->cmd = ETHTOOL_GSTRINGS;
    gs->string_set = ETH_SS_FEATURES;
    gs->len = si.len;
    if (ethtool_ioctl(fd, ifname, gs) < 0 || gs->len != si.len) {
        free(gs);
        return NULL;
    }
    names = (char *)gs; /* the names, moved to the front of the same block */
    memmove(names, gs->data, (size_t)si.len * ETH_GSTRING_LEN);
    return names;
}

/* Features API: which of @feat are active, and which of those the driver
 * does not let anyone change ("[fixed]" in `ethtool -k`). -1 when the driver
 * has no feature strings. */
static int offloads_by_feature(int fd, const char *ifname, unsigned *on, unsigned *fixed)
{
    static const struct {
        const char *name;
        unsigned bit;
    } feat[] = {
        {"rx-gro", PT_OFFLOAD_GRO},
        {"rx-lro", PT_OFFLOAD_LRO},
        {"rx-gro-hw", PT_OFFLOAD_GRO_HW},
        {"tx-generic-segmentation", PT_OFFLOAD_GSO},
        /* ethtool's "tso" summary covers every TCP segmentation feature */
        {"tx-tcp-segmentation", PT_OFFLOAD_TSO},
        {"tx-tcp-ecn-segmentation", PT_OFFLOAD_TSO},
        {"tx-tcp-mangleid-segmentation", PT_OFFLOAD_TSO},
        {"tx-tcp6-segmentation", PT_OFFLOAD_TSO},
    };
    struct {
        struct ethtool_gfeatures hdr;
        struct ethtool_get_features_block blk[MAX_FEATURES / 32];
    } gf;
    unsigned changeable = 0;
    uint32_t count = 0;
    char *names = feature_names(fd, ifname, &count);

    if (!names)
        return -1;
    memset(&gf, 0, sizeof gf);
    gf.hdr.cmd = ETHTOOL_GFEATURES;
    gf.hdr.size = (count + 31) / 32;
    if (ethtool_ioctl(fd, ifname, &gf) < 0) {
        free(names);
        return -1;
    }
    *on = 0;
    for (uint32_t i = 0; i < count; i++) {
        const struct ethtool_get_features_block *b = &gf.blk[i / 32];
        uint32_t m = 1u << (i % 32);
        for (size_t k = 0; k < PT_ARRAY_LEN(feat); k++) {
            if (strncmp(names + (size_t)i * ETH_GSTRING_LEN, feat[k].name, ETH_GSTRING_LEN))
                continue;
            if (b->active & m)
                *on |= feat[k].bit;
            if ((b->active & m) && (b->available & m))
                changeable |= feat[k].bit;
        }
    }
    *fixed = *on & ~changeable;
    free(names);
    return 0;
}

/* One legacy "get" ioctl: 1 on, 0 off or unsupported, negative errno when
 * the interface itself is the problem. */
static int legacy_get(int fd, const char *ifname, uint32_t cmd, uint32_t mask)
{
    struct ethtool_value ev = {.cmd = cmd};
    int rc = ethtool_ioctl(fd, ifname, &ev);

    if (rc == -ENODEV || rc == -EPERM || rc == -EFAULT)
        return rc;
    if (rc < 0)
        return 0;
    return (ev.data & mask) != 0;
}

int pt_iface_offloads(const char *ifname, unsigned *on, unsigned *fixed)
{
    static const struct {
        uint32_t cmd, mask;
        unsigned bit;
    } legacy[] = {
        {ETHTOOL_GGRO, ~0u, PT_OFFLOAD_GRO},
        {ETHTOOL_GFLAGS, ETH_FLAG_LRO, PT_OFFLOAD_LRO},
        {ETHTOOL_GGSO, ~0u, PT_OFFLOAD_GSO},
        {ETHTOOL_GTSO, ~0u, PT_OFFLOAD_TSO},
    };
    unsigned bits = 0, fx = 0;
    int fd, rc = 0;

    *on = 0;
    if (fixed)
        *fixed = 0;
    if (!ifname || !*ifname || strlen(ifname) >= IFNAMSIZ)
        return -ENODEV;
    if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
        return -errno;
    /* The legacy GRO ioctl also tells a missing interface (-ENODEV) apart. */
    for (size_t i = 0; i < PT_ARRAY_LEN(legacy); i++) {
        int r = legacy_get(fd, ifname, legacy[i].cmd, legacy[i].mask);
        if (r < 0) {
            rc = r;
            goto out_close;
        }
        if (r)
            bits |= legacy[i].bit;
    }
    if (offloads_by_feature(fd, ifname, &bits, &fx) < 0)
        fx = 0; /* no feature strings: the legacy answers stand, none known fixed */
    *on = bits;
    if (fixed)
        *fixed = fx;
out_close:
    close(fd);
    return rc;
}

void pt_iface_warn_offloads(const char *ifname)
{
    static const char *const why[] = {
        "merges received frames in software",       "the NIC merges received frames",
        "the NIC merges received frames",           "locally sent frames are captured unsegmented",
        "locally sent TCP is captured unsegmented",
    };
    unsigned on, fixed;
    int rc = pt_iface_offloads(ifname, &on, &fixed);

    if (rc == -ENODEV) /* the capture setup names the unknown interface itself */
        return;
    if (rc < 0) {
        pt_log(PT_LOG_WARN, "interface %s: cannot read offloads: %s", ifname, pt_strerror(rc));
        return;
    }
    for (unsigned i = 0; i < PT_ARRAY_LEN(why); i++) {
        unsigned bit = 1u << i;
        if ((on & bit) && (fixed & bit))
            pt_log(PT_LOG_WARN,
                   "interface %s: offload %s is on (%s: packet counts, sizes and timing are "
                   "wrong) and the driver does not let it be turned off",
                   ifname, pt_iface_offload_name(bit), why[i]);
        else if (on & bit)
            pt_log(PT_LOG_WARN,
                   "interface %s: offload %s is on (%s: packet counts, sizes and timing are "
                   "wrong); turn it off with tuning/tune-capture-iface.sh %s "
                   "(or ethtool -K %s %s off)",
                   ifname, pt_iface_offload_name(bit), why[i], ifname, ifname,
                   pt_iface_offload_name(bit));
    }
}
