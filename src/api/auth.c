/* Bearer tokens: making and hashing them (OpenSSL), and the short-lived cache that spares the
 * store a lookup per request. A revoked token stops working within AUTH_CACHE_MS. */
#include "api/auth.h"

#include "api/api_int.h"
#include "base/clock.h"
#include "base/rand.h"
#include "base/xalloc.h"
#include "store/token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUTH_CACHE_MS    2000
#define AUTH_CACHE_SLOTS 64

void auth_token_hash(const char *token, unsigned char hash[TOKEN_HASH_LEN])
{
    unsigned int n = 0;
    EVP_Digest(token, strlen(token), hash, &n, EVP_sha256(), NULL);
}

void auth_token_new(char out[AUTH_TOKEN_LEN + 1], unsigned char hash[TOKEN_HASH_LEN])
{
    unsigned char raw[32];
    rand_bytes(raw, sizeof raw);
    unsigned char b64[48];
    EVP_EncodeBlock(b64, raw, sizeof raw); /* 44 characters, the last one '=' */
    for (int i = 0; i < 43; i++)
        b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
    snprintf(out, AUTH_TOKEN_LEN + 1, "trawl_%.43s", (const char *)b64);
    auth_token_hash(out, hash);
}

bool auth_hash_equal(const unsigned char a[TOKEN_HASH_LEN], const unsigned char b[TOKEN_HASH_LEN])
{
    return CRYPTO_memcmp(a, b, TOKEN_HASH_LEN) == 0;
}

struct auth_slot {
    unsigned char hash[TOKEN_HASH_LEN];
    char workspace[256];
    int64_t until_ms; /* monotonic; 0: empty */
};

struct auth_cache {
    pthread_mutex_t lock;
    struct auth_slot slot[AUTH_CACHE_SLOTS];
};

struct auth_cache *auth_cache_new(void)
{
    struct auth_cache *c = xcalloc(1, sizeof *c);
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

void auth_cache_free(struct auth_cache *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    free(c);
}

int auth_lookup(struct auth_cache *c, struct engine *eng, const char *token, char *ws, size_t n,
                struct err *e)
{
    unsigned char hash[TOKEN_HASH_LEN];
    auth_token_hash(token, hash);
    /* the slot is chosen by the hash, which no caller controls */
    struct auth_slot *s = &c->slot[hash[0] % AUTH_CACHE_SLOTS];
    int64_t now = clock_mono_ms();
    pthread_mutex_lock(&c->lock);
    bool hit = s->until_ms > now && auth_hash_equal(s->hash, hash);
    if (hit)
        snprintf(ws, n, "%s", s->workspace);
    pthread_mutex_unlock(&c->lock);
    if (hit)
        return 0;
    struct api_token t;
    int rc = store_token_find(engine_store(eng), hash, &t, e);
    if (rc)
        return rc;
    if (!auth_hash_equal(t.hash, hash)) {
        api_token_release(&t);
        return err_set(e, TRAWL_ENOTFOUND, false, "no such token");
    }
    snprintf(ws, n, "%s", t.workspace);
    pthread_mutex_lock(&c->lock);
    memcpy(s->hash, hash, TOKEN_HASH_LEN);
    snprintf(s->workspace, sizeof s->workspace, "%s", t.workspace);
    s->until_ms = now + AUTH_CACHE_MS;
    pthread_mutex_unlock(&c->lock);
    api_token_release(&t);
    return 0;
}
