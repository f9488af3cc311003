/* API tokens: made from 32 random bytes, shown once, stored only as their SHA-256. A token is
 * "trawl_" followed by 43 characters of URL-safe base64. */
#ifndef TRAWL_AUTH_H
#define TRAWL_AUTH_H

#include "store/token.h"

#include <stdbool.h>

#define AUTH_TOKEN_LEN 49 /* "trawl_" + 43, without the NUL */

/* A new token into out (AUTH_TOKEN_LEN + 1 bytes) and its hash. */
void auth_token_new(char out[AUTH_TOKEN_LEN + 1], unsigned char hash[TOKEN_HASH_LEN]);
/* The hash of a presented token (any string). */
void auth_token_hash(const char *token, unsigned char hash[TOKEN_HASH_LEN]);
/* Compare two hashes in constant time. */
bool auth_hash_equal(const unsigned char a[TOKEN_HASH_LEN], const unsigned char b[TOKEN_HASH_LEN]);

#endif
