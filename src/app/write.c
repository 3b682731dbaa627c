/* write.c - app-layer records as JSON lines (include/pt/app.h, "writing").
 *
 * DESIGN: one writer per log, each formatting one record into a stack
 * struct pt_obuf with the same appenders as the conn records (pt/obuf.h), so
 * times, addresses and escaped strings read the same in every stream, then
 * one fwrite. The uid text lives here because every record of a flow carries
 * it: the conn record (src/flow/record.c) and the app records of the flow. */
#include <errno.h>

#include "pt/app.h"
#include "pt/obuf.h"

void pt_uid_format(char out[20], uint64_t v)
{
    static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    char tmp[16];
    int n = 0;

    do {
        tmp[n++] = b62[v % 62];
        v /= 62;
    } while (v);
    out[0] = 'C';
    for (int i = 0; i < n; i++)
        out[1 + i] = tmp[n - 1 - i];
    out[1 + n] = '\0';
}
