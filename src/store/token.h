/* API tokens in the store: a workspace's key to the HTTP API, and the store's tokens domain. Only
 * a SHA-256 hash of a token is stored; the token itself is shown once, when it is made. */
#ifndef TRAWL_TOKEN_H
#define TRAWL_TOKEN_H

#include "base/uuid.h"
#include "store/store.h"

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

#define STORE_TOKEN_VERSION 1
struct store_token_ops {
    int version; /* STORE_TOKEN_VERSION */
    int (*add)(struct store *s, const struct api_token *t, struct err *e);
    int (*find)(struct store *s, const unsigned char hash[TOKEN_HASH_LEN], struct api_token *out,
                struct err *e);
    int (*list)(struct store *s, struct api_token **out, size_t *n, struct err *e);
    int (*revoke)(struct store *s, const char *id, int64_t now, struct err *e);
};

/* Add a token (write). */
int store_token_add(struct store *s, const struct api_token *t, struct err *e);
/* The live (not revoked) token with this hash; TRAWL_ENOTFOUND when there is none. */
int store_token_find(struct store *s, const unsigned char hash[TOKEN_HASH_LEN],
                     struct api_token *out, struct err *e);
/* Every token, revoked ones too, oldest first. Returns the number listed. */
int store_token_list(struct store *s, struct api_token **out, size_t *n, struct err *e);
/* Revoke the token whose id is id or starts with id (at least 8 characters, and only one token
 * may match); TRAWL_ENOTFOUND, or TRAWL_EINVAL when the prefix is ambiguous (write). */
int store_token_revoke(struct store *s, const char *id, int64_t now, struct err *e);

#endif
