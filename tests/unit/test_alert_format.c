/* Alert formats: Sentry DSNs parsed as Sentry's SDKs parse them and refused with a message that
 * names the problem, envelopes read back line by line as Relay reads them, and webhook signatures
 * checked against the RFC 4231 test vectors. */
#include "alert/format.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- DSN ---- */

struct good_dsn {
    const char *in;
    const char *scheme, *key, *host, *path, *project, *url;
};

Test(alert_format, dsn_good_forms)
{
    static const struct good_dsn t[] = {
        {"https://abc123@o1.ingest.sentry.io/42", "https", "abc123", "o1.ingest.sentry.io", "",
         "42", "https://o1.ingest.sentry.io/api/42/envelope/"},
        {"http://key@localhost:9000/7", "http", "key", "localhost:9000", "", "7",
         "http://localhost:9000/api/7/envelope/"},
        {"https://pub:sekrit@sentry.example.com/prefix/sub/12345", "https", "pub",
         "sentry.example.com", "/prefix/sub", "12345",
         "https://sentry.example.com/prefix/sub/api/12345/envelope/"},
        {"http://k@[::1]:8080/1", "http", "k", "[::1]:8080", "", "1",
         "http://[::1]:8080/api/1/envelope/"},
        {"http://k@[2001:db8::7]/2", "http", "k", "[2001:db8::7]", "", "2",
         "http://[2001:db8::7]/api/2/envelope/"},
        {"HTTPS://k@Sentry.Example/3", "https", "k", "Sentry.Example", "", "3",
         "https://Sentry.Example/api/3/envelope/"},
        {"http://k@127.0.0.1:65535/sentry/9", "http", "k", "127.0.0.1:65535", "/sentry", "9",
         "http://127.0.0.1:65535/sentry/api/9/envelope/"},
    };
    for (size_t i = 0; i < N(t); i++) {
        struct sentry_dsn d;
        struct err e = {0};
        int rc = sentry_dsn_parse(t[i].in, &d, &e);
        cr_expect_eq(rc, 0, "'%s': refused: %s", t[i].in, e.msg);
        if (rc != 0)
            continue;
        cr_expect_str_eq(d.scheme, t[i].scheme, "'%s': scheme", t[i].in);
        cr_expect_str_eq(d.public_key, t[i].key, "'%s': public key", t[i].in);
        cr_expect_str_eq(d.host, t[i].host, "'%s': host", t[i].in);
        cr_expect_str_eq(d.path, t[i].path, "'%s': path", t[i].in);
        cr_expect_str_eq(d.project_id, t[i].project, "'%s': project id", t[i].in);
        cr_expect_str_eq(d.envelope_url, t[i].url, "'%s': envelope url", t[i].in);
        cr_expect_str_eq(d.dsn, t[i].in, "'%s': dsn kept as given", t[i].in);
    }
}

struct bad_dsn {
    const char *in;
    const char *msg; /* a substring of the message */
};

Test(alert_format, dsn_refusals_name_the_problem)
{
    static const struct bad_dsn t[] = {
        {"", "is empty"},
        {"abc@sentry.io/1", "has no scheme"},
        {"://abc@sentry.io/1", "has no scheme"},
        {"ftp://abc@sentry.io/1", "unsupported scheme 'ftp'"},
        {"https://sentry.io/1", "has no public key"},
        {"https://@sentry.io/1", "has no public key"},
        {"https://:secret@sentry.io/1", "has no public key"},
        {"https://k@/1", "has no host"},
        {"https://k@:80/1", "has no host"},
        {"https://k@[]/1", "has no host"},
        {"https://k@sentry.io:0/1", "bad port '0'"},
        {"https://k@sentry.io:65536/1", "bad port '65536'"},
        {"https://k@sentry.io:/1", "bad port ''"},
        {"https://k@sentry.io:8o/1", "bad port '8o'"},
        {"https://k@[::1/1", "bad host"},
        {"https://k@[::1]x/1", "bad host"},
        {"https://k@[fe80::zz]/1", "bad host"},
        {"https://k@sen*try.io/1", "bad host"},
        {"https://k@sentry.io", "has no project id"},
        {"https://k@sentry.io/", "has no project id"},
        {"https://k@sentry.io/prefix/", "has no project id"},
        {"https://k@sentry.io/abc", "project id 'abc' is not a number"},
        {"https://k@sentry.io/12a", "project id '12a' is not a number"},
        {"https://k@sentry.io/1?x=1", "query or fragment"},
        {"https://k@sentry.io/1#top", "query or fragment"},
        {"https://k@sen try.io/1", "space or control character at byte 13"},
        {" https://k@sentry.io/1", "space or control character at byte 0"},
        {"https://k@sentry.io/1\n", "space or control character"},
        {"https://k@sentry.io/1\t", "space or control character"},
        {"https://k@s\xc3\xa9ntry.io/1", "non-ascii character"},
    };
    for (size_t i = 0; i < N(t); i++) {
        struct sentry_dsn d;
        memset(&d, 'x', sizeof d);
        struct err e = {0};
        int rc = sentry_dsn_parse(t[i].in, &d, &e);
        cr_expect_eq(rc, TRAWL_EINVAL, "'%s': rc %d, want TRAWL_EINVAL", t[i].in, rc);
        cr_expect_eq(e.code, TRAWL_EINVAL, "'%s': err code %d", t[i].in, e.code);
        cr_expect(strstr(e.msg, t[i].msg) != NULL, "'%s': message '%s' lacks '%s'", t[i].in, e.msg,
                  t[i].msg);
        cr_expect(strstr(e.msg, "sentry dsn") != NULL, "'%s': message '%s' does not say what",
                  t[i].in, e.msg);
        cr_expect_str_empty(d.envelope_url, "'%s': envelope url set on error", t[i].in);
    }
}

Test(alert_format, dsn_too_long_refused)
{
    char in[1200];
    int n = snprintf(in, sizeof in, "https://k@sentry.io/");
    memset(in + n, '1', sizeof in - (size_t)n - 1);
    in[sizeof in - 1] = '\0';
    struct sentry_dsn d;
    struct err e = {0};
    cr_assert_eq(sentry_dsn_parse(in, &d, &e), TRAWL_EINVAL);
    cr_expect(strstr(e.msg, "too long") != NULL, "message: %s", e.msg);

    /* a 200-byte public key fits the dsn but not the key field */
    n = snprintf(in, sizeof in, "https://");
    memset(in + n, 'a', 200);
    snprintf(in + n + 200, sizeof in - (size_t)n - 200, "@sentry.io/1");
    cr_assert_eq(sentry_dsn_parse(in, &d, &e), TRAWL_EINVAL);
    cr_expect(strstr(e.msg, "public key is too long") != NULL, "message: %s", e.msg);
}

Test(alert_format, auth_header)
{
    struct sentry_dsn d;
    cr_assert_eq(sentry_dsn_parse("https://abc123:sekrit@sentry.io/42", &d, NULL), 0);
    char *h = sentry_auth_header(&d);
    const char *pre = "Sentry sentry_version=7, sentry_client=trawl/";
    const char *post = ", sentry_key=abc123";
    cr_assert(strncmp(h, pre, strlen(pre)) == 0, "header: %s", h);
    size_t hn = strlen(h), pn = strlen(post);
    cr_assert(hn > strlen(pre) + pn && strcmp(h + hn - pn, post) == 0, "header: %s", h);
    /* the version between them is one token, and the secret is never sent */
    size_t vn = hn - strlen(pre) - pn;
    cr_expect(strcspn(h + strlen(pre), ", ") == vn, "header: %s", h);
    cr_expect(strstr(h, "sekrit") == NULL, "header leaks the secret: %s", h);
    free(h);
}

/* ---- envelope ---- */

static const char alert_json_[] =
    "{\"id\":\"0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B\",\"at\":1714566896789,\"kind\":\"job_failed\","
    "\"level\":\"warning\",\"message\":\"crawl failed\\nat stage fetching\","
    "\"tags\":{\"job_id\":\"j-1\",\"job_type\":\"crawl\",\"error_type\":\"timeout\","
    "\"stage\":\"fetching\",\"attempt\":3},"
    "\"context\":{\"job\":{\"id\":\"j-1\",\"args\":{\"url\":\"https://example.com/\"},"
    "\"attempt\":3},\"note\":\"just text\"},"
    "\"fingerprint\":[\"crawl-failed\",\"fetching\"],\"suppressed\":3}";

static json_t *alert_new(void)
{
    json_error_t je;
    json_t *a = json_loads(alert_json_, 0, &je);
    cr_assert_not_null(a, "test alert: %s", je.text);
    return a;
}

/* An envelope split as a reader would: its three lines, each a JSON value; the payload's line is
 * also returned as text, for its length. */
struct parsed_env {
    json_t *head, *item, *event;
    char *payload;
    size_t payload_len;
};

static void env_parse(const char *body, size_t len, struct parsed_env *p)
{
    cr_assert_eq(strlen(body), len, "length %zu but strlen %zu", len, strlen(body));
    cr_assert(len > 0 && body[len - 1] == '\n', "envelope does not end in a newline");
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += body[i] == '\n';
    cr_assert_eq(lines, 3, "envelope has %zu lines, want 3:\n%s", lines, body);
    const char *l2 = strchr(body, '\n') + 1;
    const char *l3 = strchr(l2, '\n') + 1;
    json_error_t je;
    p->head = json_loadb(body, (size_t)(l2 - 1 - body), 0, &je);
    cr_assert_not_null(p->head, "envelope header: %s", je.text);
    p->item = json_loadb(l2, (size_t)(l3 - 1 - l2), 0, &je);
    cr_assert_not_null(p->item, "item header: %s", je.text);
    p->payload_len = (size_t)(body + len - 1 - l3);
    p->payload = strndup(l3, p->payload_len);
    p->event = json_loads(p->payload, 0, &je);
    cr_assert_not_null(p->event, "payload: %s", je.text);
}

static void env_release(struct parsed_env *p)
{
    json_decref(p->head);
    json_decref(p->item);
    json_decref(p->event);
    free(p->payload);
}

static const char *str_at(const json_t *o, const char *path)
{
    json_t *v = json_object_get(o, path);
    cr_assert(json_is_string(v), "'%s' is not a string", path);
    return json_string_value(v);
}

Test(alert_format, envelope_read_back)
{
    struct sentry_dsn d;
    cr_assert_eq(sentry_dsn_parse("http://pubkey@127.0.0.1:9000/42", &d, NULL), 0);
    json_t *alert = alert_new();
    struct err e = {0};
    size_t len = 0;
    time_t before = time(NULL);
    char *body = sentry_envelope(&d, alert, "node-1", &len, &e);
    cr_assert_not_null(body, "refused: %s", e.msg);
    struct parsed_env p;
    env_parse(body, len, &p);

    const char *want_id = "0190a1b2c3d47e5f8a9b0c1d2e3f4a5b";
    cr_expect_str_eq(str_at(p.head, "event_id"), want_id);
    cr_expect_str_eq(str_at(p.head, "dsn"), "http://pubkey@127.0.0.1:9000/42");
    struct tm tm = {0};
    const char *sent_at = str_at(p.head, "sent_at");
    const char *rest = strptime(sent_at, "%Y-%m-%dT%H:%M:%S", &tm);
    cr_assert_not_null(rest, "sent_at '%s' is not RFC 3339", sent_at);
    cr_expect(rest[0] == '.' && strlen(rest) == 5 && rest[4] == 'Z', "sent_at '%s'", sent_at);
    time_t sent = timegm(&tm);
    cr_expect(sent >= before - 1 && sent <= time(NULL) + 1, "sent_at '%s' is not now", sent_at);

    cr_expect_str_eq(str_at(p.item, "type"), "event");
    cr_expect_str_eq(str_at(p.item, "content_type"), "application/json");
    json_t *length = json_object_get(p.item, "length");
    cr_assert(json_is_integer(length), "item length is not an integer");
    cr_expect_eq((size_t)json_integer_value(length), p.payload_len,
                 "item length %lld, payload is %zu bytes", (long long)json_integer_value(length),
                 p.payload_len);

    json_t *ev = p.event;
    cr_expect_str_eq(str_at(ev, "event_id"), want_id);
    cr_expect_str_eq(str_at(ev, "timestamp"), "2024-05-01T12:34:56.789Z");
    cr_expect_str_eq(str_at(ev, "platform"), "c");
    cr_expect_str_eq(str_at(ev, "level"), "warning");
    cr_expect_str_eq(str_at(ev, "logger"), "trawl");
    cr_expect_str_eq(str_at(ev, "server_name"), "node-1");
    cr_expect(strncmp(str_at(ev, "release"), "trawl@", 6) == 0, "release %s",
              str_at(ev, "release"));
    cr_expect_str_eq(str_at(json_object_get(ev, "message"), "formatted"),
                     "crawl failed\nat stage fetching");

    json_t *tags = json_object_get(ev, "tags");
    cr_expect_str_eq(str_at(tags, "job_id"), "j-1");
    cr_expect_str_eq(str_at(tags, "job_type"), "crawl");
    cr_expect_str_eq(str_at(tags, "error_type"), "timeout");
    cr_expect_str_eq(str_at(tags, "stage"), "fetching");
    cr_expect_str_eq(str_at(tags, "attempt"), "3", "a number tag becomes text");
    cr_expect_str_eq(str_at(tags, "alert_kind"), "job_failed");
    cr_expect_eq(json_object_size(tags), 6);

    json_t *want_fp = json_pack("[ss]", "crawl-failed", "fetching");
    cr_expect(json_equal(json_object_get(ev, "fingerprint"), want_fp), "fingerprint");
    json_decref(want_fp);

    json_t *contexts = json_object_get(ev, "contexts");
    cr_expect(json_equal(json_object_get(contexts, "job"),
                         json_object_get(json_object_get(alert, "context"), "job")),
              "contexts.job is the alert's context.job");
    json_t *want_note = json_pack("{s:s}", "value", "just text");
    cr_expect(json_equal(json_object_get(contexts, "note"), want_note),
              "a context that is not an object is wrapped");
    json_decref(want_note);

    json_t *extra = json_object_get(ev, "extra");
    cr_expect_eq(json_integer_value(json_object_get(extra, "suppressed")), 3);

    env_release(&p);
    free(body);
    json_decref(alert);
}

Test(alert_format, envelope_minimal_alert)
{
    struct sentry_dsn d;
    cr_assert_eq(sentry_dsn_parse("https://k@sentry.io/1", &d, NULL), 0);
    json_t *alert = json_pack("{s:s,s:I,s:s,s:s,s:s,s:i}", "id",
                              "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "at", (json_int_t)0, "kind",
                              "stuck_job", "level", "error", "message", "stuck", "suppressed", 0);
    size_t len;
    struct err e = {0};
    char *body = sentry_envelope(&d, alert, NULL, &len, &e);
    cr_assert_not_null(body, "refused: %s", e.msg);
    struct parsed_env p;
    env_parse(body, len, &p);
    cr_expect_str_eq(str_at(p.event, "timestamp"), "1970-01-01T00:00:00.000Z");
    cr_expect_null(json_object_get(p.event, "server_name"));
    cr_expect_null(json_object_get(p.event, "extra"), "suppressed 0 adds no extra");
    cr_expect_null(json_object_get(p.event, "contexts"));
    cr_expect_null(json_object_get(p.event, "fingerprint"));
    json_t *want_tags = json_pack("{s:s}", "alert_kind", "stuck_job");
    cr_expect(json_equal(json_object_get(p.event, "tags"), want_tags));
    json_decref(want_tags);
    env_release(&p);
    free(body);
    json_decref(alert);
}

Test(alert_format, envelope_tag_values_fit_sentry)
{
    struct sentry_dsn d;
    cr_assert_eq(sentry_dsn_parse("https://k@sentry.io/1", &d, NULL), 0);
    json_t *alert = alert_new();
    /* 300 two-byte characters, and a newline */
    char long_value[601];
    for (int i = 0; i < 300; i++)
        memcpy(long_value + 2 * i, "\xc3\xa9", 2);
    long_value[600] = '\0';
    json_t *tags = json_object_get(alert, "tags");
    json_object_set_new(tags, "url", json_string(long_value));
    json_object_set_new(tags, "error", json_string("line one\nline two"));
    size_t len;
    struct err e = {0};
    char *body = sentry_envelope(&d, alert, "n", &len, &e);
    cr_assert_not_null(body, "refused: %s", e.msg);
    struct parsed_env p;
    env_parse(body, len, &p);
    json_t *out = json_object_get(p.event, "tags");
    cr_expect_eq(strlen(str_at(out, "url")), 400, "200 characters of 2 bytes, got %zu bytes",
                 strlen(str_at(out, "url")));
    cr_expect_str_eq(str_at(out, "error"), "line one line two");
    env_release(&p);
    free(body);
    json_decref(alert);
}

Test(alert_format, envelope_drops_contexts_past_sentry_limit)
{
    struct sentry_dsn d;
    cr_assert_eq(sentry_dsn_parse("https://k@sentry.io/1", &d, NULL), 0);
    json_t *alert = alert_new();
    size_t big = SENTRY_EVENT_MAX + 1000;
    char *blob = malloc(big + 1);
    memset(blob, 'a', big);
    blob[big] = '\0';
    json_object_set_new(json_object_get(alert, "context"), "log", json_string(blob));
    free(blob);
    size_t len;
    struct err e = {0};
    char *body = sentry_envelope(&d, alert, "n", &len, &e);
    cr_assert_not_null(body, "refused: %s", e.msg);
    struct parsed_env p;
    env_parse(body, len, &p);
    cr_expect_leq(p.payload_len, SENTRY_EVENT_MAX);
    cr_expect_null(json_object_get(p.event, "contexts"));
    json_t *extra = json_object_get(p.event, "extra");
    cr_expect_gt(json_integer_value(json_object_get(extra, "contexts_dropped_bytes")),
                 SENTRY_EVENT_MAX);
    cr_expect_eq(json_integer_value(json_object_get(extra, "suppressed")), 3);
    cr_expect_str_eq(str_at(json_object_get(p.event, "tags"), "job_id"), "j-1");
    env_release(&p);
    free(body);

    /* a message that alone is too large cannot be helped */
    char *msg = malloc(SENTRY_EVENT_MAX + 2);
    memset(msg, 'm', SENTRY_EVENT_MAX + 1);
    msg[SENTRY_EVENT_MAX + 1] = '\0';
    json_object_set_new(alert, "message", json_string(msg));
    free(msg);
    body = sentry_envelope(&d, alert, "n", &len, &e);
    cr_expect_null(body);
    cr_expect_eq(e.code, TRAWL_ETOOBIG);
    cr_expect(strstr(e.msg, "too large") != NULL, "message: %s", e.msg);
    free(body);
    json_decref(alert);
}

struct bad_alert {
    const char *field;
    const char *json; /* the value to set it to; NULL removes it */
    const char *msg;
};

Test(alert_format, envelope_refuses_malformed_alerts)
{
    static const struct bad_alert t[] = {
        {"id", NULL, "'id' is not a uuid"},
        {"id", "\"not-a-uuid\"", "'id' is not a uuid"},
        {"at", NULL, "'at'"},
        {"at", "\"2024-05-01\"", "'at'"},
        {"at", "-5", "'at'"},
        {"kind", NULL, "'kind' is missing"},
        {"level", NULL, "'level'"},
        {"level", "\"critical\"", "'level' is not fatal, error, warning, info or debug"},
        {"message", "7", "'message' is not a string"},
        {"tags", "[]", "'tags' is not an object"},
        {"tags", "{\"job\":{\"id\":1}}", "tag 'job' is not a string"},
        {"context", "\"text\"", "'context' is not an object"},
        {"fingerprint", "\"one\"", "'fingerprint' is not an array of strings"},
        {"fingerprint", "[\"a\",2]", "'fingerprint' is not an array of strings"},
        {"suppressed", "-1", "'suppressed' is not a count"},
    };
    struct sentry_dsn d;
    cr_assert_eq(sentry_dsn_parse("https://k@sentry.io/1", &d, NULL), 0);
    for (size_t i = 0; i < N(t); i++) {
        json_t *alert = alert_new();
        if (t[i].json)
            json_object_set_new(alert, t[i].field, json_loads(t[i].json, JSON_DECODE_ANY, NULL));
        else
            json_object_del(alert, t[i].field);
        struct err e = {0};
        size_t len = 12345;
        char *body = sentry_envelope(&d, alert, "n", &len, &e);
        cr_expect_null(body, "%s=%s: accepted", t[i].field, t[i].json);
        cr_expect_eq(e.code, TRAWL_EINVAL, "%s=%s: code %d", t[i].field, t[i].json, e.code);
        cr_expect(strstr(e.msg, t[i].msg) != NULL, "%s=%s: message '%s' lacks '%s'", t[i].field,
                  t[i].json, e.msg, t[i].msg);
        free(body);
        json_decref(alert);
    }
    struct err e = {0};
    size_t len;
    json_t *arr = json_array();
    cr_expect_null(sentry_envelope(&d, arr, "n", &len, &e));
    cr_expect_eq(e.code, TRAWL_EINVAL);
    json_decref(arr);
}

/* ---- webhook ---- */

Test(alert_format, webhook_body_is_the_alert)
{
    json_t *alert = alert_new();
    size_t len = 0;
    char *body = alert_webhook_body(alert, &len);
    cr_assert_not_null(body);
    cr_expect_eq(len, strlen(body));
    cr_expect(strchr(body, '\n') == NULL, "compact json has no raw newline: %s", body);
    json_t *back = json_loads(body, 0, NULL);
    cr_expect(json_equal(back, alert), "body is not the alert: %s", body);
    json_decref(back);
    free(body);
    json_decref(alert);

    json_t *s = json_string("x");
    cr_expect_null(alert_webhook_body(s, &len), "a string is not an alert");
    json_decref(s);
}

Test(alert_format, sign_rfc4231_vectors)
{
    char sig[ALERT_SIGNATURE_LEN];
    static const char data2[] = "what do ya want for nothing?";
    alert_sign("Jefe", data2, strlen(data2), sig);
    cr_expect_str_eq(sig,
                     "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

    char key1[21];
    memset(key1, 0x0b, 20);
    key1[20] = '\0';
    alert_sign(key1, "Hi There", 8, sig);
    cr_expect_str_eq(sig,
                     "sha256=b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

Test(alert_format, sign_covers_every_byte_and_the_secret)
{
    char a[ALERT_SIGNATURE_LEN], b[ALERT_SIGNATURE_LEN], c[ALERT_SIGNATURE_LEN];
    alert_sign("s3cret", "{\"id\":1}", 8, a);
    alert_sign("s3cret", "{\"id\":2}", 8, b);
    alert_sign("s3creT", "{\"id\":1}", 8, c);
    cr_expect_eq(strlen(a), 71);
    cr_expect_str_neq(a, b);
    cr_expect_str_neq(a, c);
    /* the body is bytes: a NUL inside it counts */
    alert_sign("s3cret", "ab\0c", 4, b);
    alert_sign("s3cret", "ab\0d", 4, c);
    cr_expect_str_neq(b, c);
}
