/* digest.c - one-shot digests without an allocation per call.
 *
 * DESIGN: EVP_Digest() creates and frees an EVP_MD_CTX on every call, and
 * OpenSSL 3.0 also allocates the provider's context on every
 * EVP_DigestInit, even into a reused EVP_MD_CTX: for the short inputs
 * hashed here (a Community ID tuple, a JA3 string), allocation and the
 * provider calls were half a digest's cost. So:
 * 1. MD5, SHA-1 and SHA-256, the digests we use, go through OpenSSL's
 *    low-level functions on a stack context: no allocation at all. They are
 *    deprecated in OpenSSL 3 (but built by every distribution), hence the
 *    guard: without them (OPENSSL_NO_DEPRECATED_3_0, a later major
 *    version), case 2 serves every digest.
 * 2. Any other digest: one EVP_MD_CTX per thread under a pthread key,
 *    created on the thread's first digest and freed by the key's destructor
 *    when the thread exits. Without key or context, EVP_Digest(). */
#define OPENSSL_SUPPRESS_DEPRECATED /* 1: MD5_Init & co, on purpose */

#include "pt/common.h"

#include <pthread.h>

#include <openssl/evp.h>
#include <openssl/md5.h>
#include <openssl/objects.h>
#include <openssl/opensslv.h>
#include <openssl/sha.h>

#if OPENSSL_VERSION_MAJOR == 3 && !defined(OPENSSL_NO_DEPRECATED_3_0)
#define PT_DIGEST_LOW_LEVEL 1
#endif

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t ctx_key;
static bool key_ok;

static void ctx_free(void *c)
{
    EVP_MD_CTX_free(c);
}

static void key_make(void)
{
    key_ok = pthread_key_create(&ctx_key, ctx_free) == 0;
}

/* This thread's context, NULL if none can be had. */
static EVP_MD_CTX *thread_ctx(void)
{
    EVP_MD_CTX *c;

    pthread_once(&key_once, key_make);
    if (!key_ok)
        return NULL;
    if ((c = pthread_getspecific(ctx_key)) != NULL)
        return c;
    if ((c = EVP_MD_CTX_new()) != NULL && pthread_setspecific(ctx_key, c) != 0) {
        EVP_MD_CTX_free(c);
        c = NULL;
    }
    return c;
}

unsigned pt_digest(const EVP_MD *md, const void *p, size_t n, uint8_t *out)
{
    EVP_MD_CTX *c;
    unsigned len = 0;

    if (!md)
        return 0;
#ifdef PT_DIGEST_LOW_LEVEL
    switch (EVP_MD_get_type(md)) {
    case NID_md5: {
        MD5_CTX m;
        if (!MD5_Init(&m) || !MD5_Update(&m, p, n) || !MD5_Final(out, &m))
            return 0;
        return MD5_DIGEST_LENGTH;
    }
    case NID_sha1: {
        SHA_CTX s;
        if (!SHA1_Init(&s) || !SHA1_Update(&s, p, n) || !SHA1_Final(out, &s))
            return 0;
        return SHA_DIGEST_LENGTH;
    }
    case NID_sha256: {
        SHA256_CTX s;
        if (!SHA256_Init(&s) || !SHA256_Update(&s, p, n) || !SHA256_Final(out, &s))
            return 0;
        return SHA256_DIGEST_LENGTH;
    }
    }
#endif
    if (!(c = thread_ctx()))
        return EVP_Digest(p, n, out, &len, md, NULL) ? len : 0;
    if (!EVP_DigestInit_ex2(c, md, NULL) || !EVP_DigestUpdate(c, p, n) ||
        !EVP_DigestFinal_ex(c, out, &len))
        return 0;
    return len;
}
