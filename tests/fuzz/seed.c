/* seed.c - write every packet of the given captures as a fuzz seed:
 * 2-byte big-endian link type + frame, one file per distinct input (named
 * by an FNV-1a hash, so duplicates collapse). Built and run by run.sh with
 * the system cc and libpcap; not part of the product or the test binary.
 * Usage: seed OUTDIR FILE... */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

static uint64_t fnv(const uint8_t *b, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

int main(int argc, char **argv)
{
    unsigned written = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: seed OUTDIR FILE...\n");
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        char eb[PCAP_ERRBUF_SIZE];
        pcap_t *pc = pcap_open_offline(argv[i], eb);
        struct pcap_pkthdr *h;
        const u_char *d;

        if (!pc) {
            fprintf(stderr, "seed: %s: %s (skipped)\n", argv[i], eb);
            continue;
        }
        uint8_t sel[2] = {(uint8_t)(pcap_datalink(pc) >> 8), (uint8_t)pcap_datalink(pc)};
        while (pcap_next_ex(pc, &h, &d) == 1) {
            char path[4096];
            uint64_t hash = fnv(d, h->caplen, fnv(sel, 2, 0xcbf29ce484222325ull));
            FILE *f;

            snprintf(path, sizeof path, "%s/%016llx", argv[1], (unsigned long long)hash);
            if (!(f = fopen(path, "wb")))
                continue;
            fwrite(sel, 1, 2, f);
            fwrite(d, 1, h->caplen, f);
            fclose(f);
            written++;
        }
        pcap_close(pc);
    }
    fprintf(stderr, "seed: %u packets -> %s\n", written, argv[1]);
    return 0;
}
