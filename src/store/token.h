/* The stored shape of an API token: a workspace's key to the HTTP API. Only a SHA-256 hash of
 * the token is stored; the token itself is shown once, when it is made. */
#ifndef TRAWL_TOKEN_H
#define TRAWL_TOKEN_H

#include "base/uuid.h"

#include <stddef.h>
#include <stdint.h>

#define TOKEN_HASH_LEN 32

/* Strings are owned by the token and freed by api_token_release(). */
struct api_token {
    char id[UUID_STR_LEN];
    char *workspace;
    char *name; /* NULL: none */
    unsigned char hash[TOKEN_HASH_LEN];
    int64_t created_at;
    int64_t revoked_at; /* 0: live */
};

/* Free the strings and zero the token. Accepts NULL. */
void api_token_release(struct api_token *t);
void api_token_array_free(struct api_token *t, size_t n);

#endif
