#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include "pt/common.h"

Test(common, strerror_names_project_and_errno_codes)
{
    cr_assert_str_eq(pt_strerror(PT_E_TRUNC), "capture file truncated inside a record");
    cr_assert_str_eq(pt_strerror(PT_E_BADARG), "bad argument");
    cr_assert_str_eq(pt_strerror(-ENOMEM), strerror(ENOMEM));
    cr_assert_str_eq(pt_strerror(0), "success");
}

/* pt_digest() gives EVP_Digest()'s bytes for the digests we use (its
 * allocation-free path) and for one we do not (the per-thread context),
 * on inputs of every length around the block sizes; and the FIPS 180
 * vector for SHA-1 ("abc"). */
Test(common, digest_equals_evp_digest)
{
    const char *names[] = {"MD5", "SHA1", "SHA256", "SHA512"};
    uint8_t in[300], a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
    unsigned la, lb;

    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(i * 131 + 7);
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        EVP_MD *md = EVP_MD_fetch(NULL, names[k], NULL);
        cr_assert_not_null(md, "%s", names[k]);
        for (size_t n = 0; n <= sizeof in; n++) {
            cr_assert(EVP_Digest(in, n, a, &la, md, NULL));
            lb = pt_digest(md, n ? in : NULL, n, b);
            cr_assert_eq(lb, la, "%s, %zu bytes: length", names[k], n);
            cr_assert_arr_eq(b, a, la, "%s, %zu bytes", names[k], n);
        }
        EVP_MD_free(md);
    }
    EVP_MD *sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
    static const uint8_t abc[20] = {0xa9, 0x99, 0x3e, 0x36, 0x47, 0x06, 0x81, 0x6a, 0xba, 0x3e,
                                    0x25, 0x71, 0x78, 0x50, 0xc2, 0x6c, 0x9c, 0xd0, 0xd8, 0x9d};
    cr_assert_eq(pt_digest(sha1, "abc", 3, b), 20);
    cr_assert_arr_eq(b, abc, 20);
    cr_assert_eq(pt_digest(NULL, "abc", 3, b), 0, "no algorithm, no digest");
    EVP_MD_free(sha1);
}
