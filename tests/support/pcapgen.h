/* pcapgen.h - synthetic captures for tests: classic pcap (nanosecond),
 * Ethernet frames carrying UDP over IPv4 with valid headers, optionally
 * 802.1Q tagged. For tests that need a given number of flows per second of
 * packet time (the store's no-gap and crash tests), never in the product. */
#ifndef PT_TEST_PCAPGEN_H
#define PT_TEST_PCAPGEN_H

#include <stdint.h>
#include <stdio.h>

/* Create @path with a pcap header (nanosecond magic, Ethernet). NULL on error. */
FILE *pt_gen_open(const char *path);

/* Append one UDP frame from 10.(src>>16).(src>>8).(src) to 10.200.(dst>>8).(dst)
 * with @payload bytes of payload; @vlan 0xffff = untagged. */
void pt_gen_udp(FILE *f, uint64_t ts_ns, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                uint16_t vlan, uint16_t payload);

/* Append one untagged UDP/IPv4 frame from @saddr:@sport to @daddr:@dport
 * (addresses in host order, 0x0a000001 = 10.0.0.1) carrying the @len bytes
 * at @data (at most 1472). */
void pt_gen_udp4(FILE *f, uint64_t ts_ns, uint32_t saddr, uint32_t daddr, uint16_t sport,
                 uint16_t dport, const uint8_t *data, uint16_t len);

/* Write @seconds seconds starting at epoch second @t0 with @per_sec new
 * one-packet UDP flows each (distinct 5-tuples, spread evenly in the
 * second, every 10th one tagged VLAN 100). Returns the number of frames
 * written, or 0 on error. */
uint64_t pt_gen_flows_file(const char *path, uint64_t t0, unsigned seconds, unsigned per_sec);

#endif
