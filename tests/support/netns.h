/* netns.h - a network-namespace test bed for the live capture tests.
 *
 * A bed is two namespaces, "pt<pid><tag>a" and "pt<pid><tag>b", joined by
 * npairs veth pairs: pair i is veth<2i> in a (10.99.<i>.1/24) and veth<2i+1>
 * in b (10.99.<i>.2/24), IPv6 disabled, links up. The sensor runs in a;
 * frames are sent from b. Deleting the namespaces removes the veths. Needs
 * root (CAP_SYS_ADMIN, CAP_NET_ADMIN) and iproute2. */
#ifndef PT_TEST_NETNS_H
#define PT_TEST_NETNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct pt_netns {
    char a[48], b[48];
    unsigned npairs;
    bool up;
};

/* Build the bed; false (and whatever was made torn down) on failure. */
bool pt_netns_setup(struct pt_netns *n, const char *tag, unsigned npairs);

/* Create veth pair @i (veth<2i> in a, veth<2i+1> in b) as setup does:
 * IPv6 off, addresses, both ends up. Also re-creates a deleted pair. */
bool pt_netns_pair_add(const struct pt_netns *n, unsigned i);

/* Delete veth pair @i (from namespace a; the peer goes with it). */
bool pt_netns_pair_del(const struct pt_netns *n, unsigned i);

/* `ip link set IF up|down` for @ifname in namespace a. */
bool pt_netns_link_set(const struct pt_netns *n, const char *ifname, bool up);

/* Delete both namespaces (and with them the veths). Safe to call twice. */
void pt_netns_teardown(struct pt_netns *n);

/* A UDP/IPv4 frame from 10.99.0.2 (src MAC 02:99:00:00:00:02) to 10.99.0.1
 * (dst MAC 02:99:00:00:00:01, not the veth's: the receiving stack ignores
 * it, as a SPAN port's frames are ignored). */
struct pt_udp_spec {
    uint8_t src_ip[4], dst_ip[4];
    uint16_t sport, dport;
    uint16_t outer_tpid; /* 0 = untagged; 0x8100 or 0x88a8 */
    uint16_t outer_vid;
    uint16_t inner_vid; /* with outer_tpid: a second 0x8100 tag when non-zero */
    uint16_t payload;   /* bytes of payload */
    bool reverse_macs;  /* swap the MAC addresses (the other direction) */
};

#define PT_NETNS_SRC_MAC "02:99:00:00:00:02"
#define PT_NETNS_DST_MAC "02:99:00:00:00:01"

/* Write the frame into @buf; returns its length (0 when @cap is too small). */
size_t pt_netns_udp_frame(uint8_t *buf, size_t cap, const struct pt_udp_spec *s);

/* Send @count frames (@frames[i] of @lens[i] bytes) out of @ifname in
 * namespace b, from a child process (setns + AF_PACKET socket), paced so no
 * queue overflows. Returns the number sent, -1 on setup failure. */
int pt_netns_send(const struct pt_netns *n, const char *ifname, uint8_t *const *frames,
                  const size_t *lens, unsigned count);

/* Start @argv (argv[0] a path) inside namespace a in the background, stderr
 * to @errpath, stdout to /dev/null. Returns the pid, -1 on failure. */
pid_t pt_netns_spawn(const struct pt_netns *n, char *const argv[], const char *errpath);

/* Wait until @path exists (true), or @pid has exited or @timeout_ms passed
 * (false). Does not reap @pid. */
bool pt_test_wait_file(const char *path, pid_t pid, int timeout_ms);

/* Reap @pid within @timeout_ms; kill it (SIGKILL) after that. Returns its
 * exit status, or -1 when it was killed or did not exit normally. */
int pt_test_wait_exit(pid_t pid, int timeout_ms);

#endif
