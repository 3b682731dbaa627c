/* netns.c - see netns.h. */
#include "support/netns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    int st;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

bool pt_netns_setup(struct pt_netns *n, const char *tag, unsigned npairs)
{
    memset(n, 0, sizeof *n);
    snprintf(n->a, sizeof n->a, "pt%ld%sa", (long)getpid(), tag);
    snprintf(n->b, sizeof n->b, "pt%ld%sb", (long)getpid(), tag);
    n->npairs = npairs;
    if (sh("ip netns add %s && ip netns add %s", n->a, n->b) != 0)
        goto fail;
    n->up = true;
    for (unsigned i = 0; i < npairs; i++)
        if (!pt_netns_pair_add(n, i))
            goto fail;
    return true;
fail:
    pt_netns_teardown(n);
    return false;
}

bool pt_netns_pair_add(const struct pt_netns *n, unsigned i)
{
    unsigned x = 2 * i, y = 2 * i + 1;

    if (sh("ip link add veth%u netns %s type veth peer name veth%u netns %s", x, n->a, y, n->b) !=
        0)
        return false;
    if (sh("ip netns exec %s sysctl -qw net.ipv6.conf.veth%u.disable_ipv6=1 && "
           "ip netns exec %s sysctl -qw net.ipv6.conf.veth%u.disable_ipv6=1",
           n->a, x, n->b, y) != 0)
        return false;
    return sh("ip -n %s addr add 10.99.%u.1/24 dev veth%u && ip -n %s link set veth%u up && "
              "ip -n %s addr add 10.99.%u.2/24 dev veth%u && ip -n %s link set veth%u up",
              n->a, i, x, n->a, x, n->b, i, y, n->b, y) == 0;
}

bool pt_netns_pair_del(const struct pt_netns *n, unsigned i)
{
    return sh("ip -n %s link del veth%u", n->a, 2 * i) == 0;
}

bool pt_netns_link_set(const struct pt_netns *n, const char *ifname, bool up)
{
    return sh("ip -n %s link set %s %s", n->a, ifname, up ? "up" : "down") == 0;
}

void pt_netns_teardown(struct pt_netns *n)
{
    if (!n->up)
        return;
    sh("ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null; true", n->a, n->b);
    n->up = false;
}

static uint16_t csum(const uint8_t *p, size_t len)
{
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        s += (uint32_t)p[len - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static uint8_t *put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return p + 2;
}

size_t pt_netns_udp_frame(uint8_t *buf, size_t cap, const struct pt_udp_spec *s)
{
    static const uint8_t mac_a[6] = {2, 0x99, 0, 0, 0, 1}, mac_b[6] = {2, 0x99, 0, 0, 0, 2};
    size_t need = 14 + 8 + 20 + 8 + s->payload;
    uint8_t *p = buf, *ip;
    uint16_t iplen = (uint16_t)(20 + 8 + s->payload);

    if (need > cap)
        return 0;
    memcpy(p, s->reverse_macs ? mac_b : mac_a, 6);
    memcpy(p + 6, s->reverse_macs ? mac_a : mac_b, 6);
    p += 12;
    if (s->outer_tpid) {
        p = put16(p, s->outer_tpid);
        p = put16(p, s->outer_vid & 0x0fff);
        if (s->inner_vid) {
            p = put16(p, 0x8100);
            p = put16(p, s->inner_vid & 0x0fff);
        }
    }
    p = put16(p, 0x0800);
    ip = p;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    put16(ip + 2, iplen);
    put16(ip + 4, 0x1234);
    ip[8] = 64;
    ip[9] = 17;
    memcpy(ip + 12, s->src_ip, 4);
    memcpy(ip + 16, s->dst_ip, 4);
    put16(ip + 10, csum(ip, 20));
    p = ip + 20;
    p = put16(p, s->sport);
    p = put16(p, s->dport);
    p = put16(p, (uint16_t)(8 + s->payload));
    p = put16(p, 0); /* no UDP checksum (allowed over IPv4) */
    for (unsigned i = 0; i < s->payload; i++)
        *p++ = (uint8_t)i;
    return (size_t)(p - buf);
}

static int enter_ns(const char *name)
{
    char path[128];
    int fd, rc;

    snprintf(path, sizeof path, "/run/netns/%s", name);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return -1;
    rc = setns(fd, CLONE_NEWNET);
    close(fd);
    return rc;
}

static int send_all(const char *ifname, uint8_t *const *frames, const size_t *lens, unsigned count)
{
    struct sockaddr_ll sll;
    int fd = socket(AF_PACKET, SOCK_RAW, 0), sent = 0;

    if (fd < 0)
        return -1;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = (int)if_nametoindex(ifname);
    sll.sll_halen = 6;
    if (sll.sll_ifindex == 0)
        return -1;
    for (unsigned i = 0; i < count; i++) {
        int tries = 0;
        while (sendto(fd, frames[i], lens[i], 0, (struct sockaddr *)&sll, sizeof sll) < 0) {
            struct timespec ts = {0, 1000000};
            if ((errno != ENOBUFS && errno != EAGAIN && errno != EINTR) || ++tries > 100)
                goto out;
            nanosleep(&ts, NULL);
        }
        sent++;
        if (sent % 32 == 0) { /* pacing: the receive backlog holds 1000 frames */
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
    }
out:
    close(fd);
    return sent;
}

int pt_netns_send(const struct pt_netns *n, const char *ifname, uint8_t *const *frames,
                  const size_t *lens, unsigned count)
{
    int fds[2], sent = -1;
    pid_t pid;

    if (pipe(fds) < 0)
        return -1;
    if ((pid = fork()) < 0)
        return -1;
    if (pid == 0) {
        int r = -1;
        close(fds[0]);
        if (enter_ns(n->b) == 0)
            r = send_all(ifname, frames, lens, count);
        if (write(fds[1], &r, sizeof r) != sizeof r)
            _exit(1);
        _exit(0);
    }
    close(fds[1]);
    if (read(fds[0], &sent, sizeof sent) != sizeof sent)
        sent = -1;
    close(fds[0]);
    pt_test_wait_exit(pid, 10000);
    return sent;
}

pid_t pt_netns_spawn(const struct pt_netns *n, char *const argv[], const char *errpath)
{
    pid_t pid = fork();

    if (pid != 0)
        return pid;
    {
        int e = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int o = open("/dev/null", O_WRONLY);
        if (e < 0 || o < 0 || enter_ns(n->a) != 0)
            _exit(126);
        dup2(o, 1);
        dup2(e, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

bool pt_test_wait_file(const char *path, pid_t pid, int timeout_ms)
{
    for (int t = 0; t < timeout_ms; t += 10) {
        struct stat sb;
        siginfo_t si;

        if (stat(path, &sb) == 0)
            return true;
        memset(&si, 0, sizeof si);
        if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid)
            return false;
        sleep_ms(10);
    }
    return false;
}

int pt_test_wait_exit(pid_t pid, int timeout_ms)
{
    int st;

    for (int t = 0; t < timeout_ms; t += 10) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        if (r < 0)
            return -1;
        sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}
