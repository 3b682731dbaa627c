/* fuzz_reader.c - libFuzzer target for the capture file reader: classic
 * pcap (mapped) and pcapng (our block reader) parse untrusted files.
 *
 * Each input is a whole file, put in a memfd (a regular file, so the mmap
 * path is the one exercised) and read to the end; every byte of every
 * record handed out is touched so ASan sees any read past the file. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pt/capture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    struct pt_reader_rec rec;
    struct pt_reader *r;
    char msg[256];
    unsigned sum = 0;
    int err;

    if (fd < 0) {
        fd = memfd_create("fuzz-capture", 0);
        if (fd < 0)
            return 0;
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        return 0;
    r = pt_reader_open(path, &err, msg, sizeof msg);
    if (!r)
        return 0;
    for (int n = 0; n < 100000 && pt_reader_next(r, &rec, msg, sizeof msg) == 1; n++) {
        for (uint32_t i = 0; i < rec.caplen; i++)
            sum += rec.data[i];
        (void)pt_reader_ifname(r, rec.ifidx);
    }
    pt_reader_close(r);
    return (int)(sum & 0); /* sum only keeps the reads from being optimised away */
}
