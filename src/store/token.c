/* The memory of API tokens, and the wrappers of the store's tokens domain. */
#include "store/token.h"

#include <stdlib.h>
#include <string.h>

void api_token_release(struct api_token *t)
{
    if (!t)
        return;
    free(t->workspace);
    free(t->name);
    memset(t, 0, sizeof *t);
}

void api_token_array_free(struct api_token *t, size_t n)
{
    for (size_t i = 0; t && i < n; i++)
        api_token_release(&t[i]);
    free(t);
}

/* ---- wrappers ---- */

int store_token_add(struct store *s, const struct api_token *t, struct err *e)
{
    STORE_WRAP(s, s->tokens, "tokens", s->tokens->add(s, t, e));
}

int store_token_find(struct store *s, const unsigned char hash[TOKEN_HASH_LEN],
                     struct api_token *out, struct err *e)
{
    STORE_WRAP(s, s->tokens, "tokens", s->tokens->find(s, hash, out, e));
}

int store_token_list(struct store *s, struct api_token **out, size_t *n, struct err *e)
{
    STORE_WRAP(s, s->tokens, "tokens", s->tokens->list(s, out, n, e));
}

int store_token_revoke(struct store *s, const char *id, int64_t now, struct err *e)
{
    STORE_WRAP(s, s->tokens, "tokens", s->tokens->revoke(s, id, now, e));
}
