/* fuzz_oui.c - libFuzzer target for the OUI registry loader and lookup.
 *
 * DESIGN: input = 3 bytes that cut the rest into four texts (MA-L, MA-M,
 * MA-S, IAB CSV: byte i * rest / 256 is where text i ends), each copied to
 * an exactly-sized heap buffer so ASan sees any read past it; then
 * pt_oui_create_mem() and lookups of MACs taken from the input. Seeds
 * (run.sh): the head of each registry CSV. Links src/enrich (Makefile rule
 * build/fuzz/%). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pt/enrich.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text[4] = {0};
    size_t len[4], at = 3, rest;
    struct pt_oui *o;
    char err[PT_OUI_ERR_MAX];

    if (size < 3 || size > 0x100000)
        return 0;
    rest = size - 3;
    for (int i = 0; i < 4; i++) {
        size_t end = i < 3 ? 3 + (size_t)data[i] * rest / 256 : size;
        if (end < at)
            end = at;
        len[i] = end - at;
        text[i] = malloc(len[i] ? len[i] : 1);
        if (!text[i])
            goto out;
        memcpy(text[i], data + at, len[i]);
        at = end;
    }
    o = pt_oui_create_mem((const char *const *)text, len, err);
    if (!o && !err[0])
        abort(); /* a failure always says why */
    for (size_t i = 3; i + 6 <= size && i < 3 + 6 * 64; i += 6) {
        struct pt_oui_match m;
        if (pt_oui_lookup(o, data + i, &m) >= PT_OUI_KIND_MAX || m.vendor_len >= PT_OUI_NAME_MAX ||
            strlen(m.vendor) > m.vendor_len)
            abort();
    }
    pt_oui_destroy(o);
out:
    for (int i = 0; i < 4; i++)
        free(text[i]);
    return 0;
}
