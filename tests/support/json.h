/* json.h - test-only strict JSON reader, for checking the records the
 * writers produce (never in the product).
 *
 * Strict RFC 8259: one value, optional white space around it, nothing after;
 * strings must be valid UTF-8 with no raw control characters; numbers follow
 * the grammar exactly (kept as their text, so "0.000214" compares as text);
 * an object with a repeated key is an error. Escapes decode as RFC 8259 says,
 * except \u0000..\u00ff, which decode to the single byte 0x00..0xff: that is
 * how the writers escape bytes that are not UTF-8 (pt/obuf.h), so a decoded
 * string gives back the wire bytes exactly. Keys keep their order. */
#ifndef PT_TEST_JSON_H
#define PT_TEST_JSON_H

#include <stdbool.h>
#include <stddef.h>

enum pt_tj_type { PT_TJ_NULL, PT_TJ_BOOL, PT_TJ_NUM, PT_TJ_STR, PT_TJ_ARR, PT_TJ_OBJ };

struct pt_tj {
    enum pt_tj_type t;
    bool b;          /* BOOL */
    char *s;         /* STR: decoded bytes, NUL-terminated; NUM: the literal */
    size_t len;      /* bytes in s */
    size_t n;        /* ARR/OBJ: items */
    struct pt_tj *v; /* ARR/OBJ: the items (values) */
    char **k;        /* OBJ: the keys, decoded, NUL-terminated */
};

/* Parse @len bytes of @text into @out (free with pt_tj_free()). Returns true,
 * or false with *@err naming the first fault and *@at its offset. */
bool pt_tj_parse(const char *text, size_t len, struct pt_tj *out, const char **err, size_t *at);
void pt_tj_free(struct pt_tj *v);

/* Member @key of object @o, or NULL (also when @o is not an object). */
const struct pt_tj *pt_tj_get(const struct pt_tj *o, const char *key);

/* Index of member @key in object @o, or -1. */
long pt_tj_index(const struct pt_tj *o, const char *key);

#endif
