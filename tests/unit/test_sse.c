/* The server-sent-events parser of trawl watch: the events a stream holds come out the same
 * whatever pieces it arrives in, with the line ends, fields, comments and ids the standard
 * describes, and an event past the size cap is discarded while the ones around it survive. */
#include "cli/sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

/* The events seen, one "id|event|data" line each (data's "\n" written as "\\n"). */
struct seen {
    char text[8192];
    size_t n;
};

static void on_event(void *ctx, const char *id, const char *event, const char *data)
{
    struct seen *s = ctx;
    size_t o = strlen(s->text);
    o += (size_t)snprintf(s->text + o, sizeof s->text - o, "%s|%s|", id, event);
    for (const char *c = data; *c && o + 3 < sizeof s->text; c++) {
        if (*c == '\n') {
            s->text[o++] = '\\';
            s->text[o++] = 'n';
        } else {
            s->text[o++] = *c;
        }
    }
    snprintf(s->text + o, sizeof s->text - o, "\n");
    s->n++;
}

/* Feed the stream in one piece and byte by byte; both must give want. Returns the count of
 * discarded events (the same both ways). */
static size_t expect_events(const char *stream, size_t len, const char *want)
{
    struct seen whole = {0}, bytes = {0};
    struct sse_parser p;
    sse_init(&p);
    size_t d1 = sse_feed(&p, stream, len, on_event, &whole);
    sse_release(&p);
    sse_init(&p);
    size_t d2 = 0;
    for (size_t i = 0; i < len; i++)
        d2 += sse_feed(&p, stream + i, 1, on_event, &bytes);
    sse_release(&p);
    cr_expect_str_eq(whole.text, want, "in one piece:\n%s\nwant:\n%s", whole.text, want);
    cr_expect_str_eq(bytes.text, want, "byte by byte:\n%s\nwant:\n%s", bytes.text, want);
    cr_expect_eq(d1, d2, "discarded %zu in one piece, %zu byte by byte", d1, d2);
    return d1;
}

#define EXPECT(stream, want) expect_events(stream, sizeof(stream) - 1, want)

Test(sse, what_trawl_serve_sends)
{
    EXPECT(": subscribed\nretry: 2000\n\n"
           "id: 1795462325913462\nevent: job\ndata: {\"id\":\"a\",\"to\":\"processing\"}\n\n"
           ": ping\n\n"
           "id: 1795462325913463\nevent: batch\ndata: {\"batchId\":\"b1\"}\n\n",
           "1795462325913462|job|{\"id\":\"a\",\"to\":\"processing\"}\n"
           "1795462325913463|batch|{\"batchId\":\"b1\"}\n");
}

Test(sse, crlf_and_cr_line_ends)
{
    EXPECT("id: 1\r\nevent: job\r\ndata: crlf\r\n\r\n"
           "id: 2\revent: job\rdata: cr\r\r"
           "id: 3\nevent: job\ndata: lf\n\n",
           "1|job|crlf\n2|job|cr\n3|job|lf\n");
}

Test(sse, crlf_split_between_pieces_is_one_line_end)
{
    struct seen s = {0};
    struct sse_parser p;
    sse_init(&p);
    sse_feed(&p, "data: a\r", 8, on_event, &s);
    sse_feed(&p, "\n", 1, on_event, &s); /* the LF of the CRLF: not a blank line */
    cr_expect_eq(s.n, 0, "a CRLF cut in two dispatched the event early");
    sse_feed(&p, "data: b\r\n\r\n", 11, on_event, &s);
    cr_expect_str_eq(s.text, "|message|a\\nb\n");
    sse_release(&p);
}

Test(sse, data_lines_joined_with_newline)
{
    EXPECT("data: one\ndata: two\ndata:\ndata: four\n\n", "|message|one\\ntwo\\n\\nfour\n");
}

Test(sse, only_one_space_after_the_colon_is_dropped)
{
    EXPECT("data:no space\n\ndata:  two spaces\n\ndata\n\n",
           "|message|no space\n|message| two spaces\n|message|\n");
}

Test(sse, comments_and_unknown_fields_ignored)
{
    EXPECT(": a comment\ndata: x\n: another: with colon\nfoo: bar\n\n:only a comment\n\n",
           "|message|x\n");
}

Test(sse, event_without_data_is_not_dispatched)
{
    EXPECT("event: job\n\nid: 7\n\ndata: y\n\n", "7|message|y\n");
}

Test(sse, event_type_defaults_to_message_and_resets)
{
    EXPECT("event: job\ndata: 1\n\ndata: 2\n\n", "|job|1\n|message|2\n");
}

Test(sse, id_persists_until_changed)
{
    EXPECT("id: 10\ndata: a\n\ndata: b\n\nid: 11\ndata: c\n\nid\ndata: d\n\n",
           "10|message|a\n10|message|b\n11|message|c\n|message|d\n");
}

Test(sse, last_id_is_kept_across_a_reset_and_a_partial_event_is_not)
{
    struct seen s = {0};
    struct sse_parser p;
    sse_init(&p);
    static const char a[] = "id: 5\ndata: a\n\nid: 6\ndata: cut";
    sse_feed(&p, a, sizeof a - 1, on_event, &s);
    cr_expect_str_eq(sse_last_id(&p), "5", "an unfinished event's id counted");
    sse_reset(&p); /* the connection broke: a new stream */
    static const char b[] = "data: b\n\n";
    sse_feed(&p, b, sizeof b - 1, on_event, &s);
    cr_expect_str_eq(s.text, "5|message|a\n5|message|b\n");
    sse_release(&p);
}

Test(sse, retry_field)
{
    struct sse_parser p;
    struct seen s = {0};
    sse_init(&p);
    cr_expect_eq(p.retry_ms, -1);
    sse_feed(&p, "retry: 2000\n\n", 13, on_event, &s);
    cr_expect_eq(p.retry_ms, 2000);
    sse_feed(&p, "retry: 2x\n\nretry:\n\n", 19, on_event, &s);
    cr_expect_eq(p.retry_ms, 2000, "an invalid retry changed it");
    sse_release(&p);
}

Test(sse, leading_bom_dropped)
{
    EXPECT("\xef\xbb\xbf"
           "data: x\n\n",
           "|message|x\n");
    /* a first byte that only looks like a BOM's start is text */
    EXPECT("\xef"
           "data: y\n\ndata: z\n\n",
           "|message|z\n");
}

Test(sse, event_over_the_cap_discarded_and_the_next_one_kept)
{
    size_t big = SSE_EVENT_MAX + 100;
    static const char head[] = "id: 1\ndata: small\n\nevent: job\ndata: ";
    static const char tail[] = "\ndata: more\n\nid: 3\ndata: after\n\n";
    size_t len = sizeof head - 1 + big + sizeof tail - 1;
    char *stream = malloc(len);
    cr_assert_not_null(stream);
    memcpy(stream, head, sizeof head - 1);
    memset(stream + sizeof head - 1, 'x', big);
    memcpy(stream + sizeof head - 1 + big, tail, sizeof tail - 1);
    size_t discarded = expect_events(stream, len, "1|message|small\n3|message|after\n");
    cr_expect_eq(discarded, 1);
    free(stream);
}

Test(sse, many_lines_over_the_cap_discarded)
{
    /* no single line is long, but the event is: data lines with no blank line between */
    size_t lines = SSE_EVENT_MAX / 8 + 10;
    size_t len = lines * 8 + 20;
    char *stream = malloc(len + 1);
    cr_assert_not_null(stream);
    size_t o = 0;
    for (size_t i = 0; i < lines; i++)
        o += (size_t)sprintf(stream + o, "data: x\n");
    o += (size_t)sprintf(stream + o, "\ndata: ok\n\n");
    struct seen s = {0};
    struct sse_parser p;
    sse_init(&p);
    cr_expect_eq(sse_feed(&p, stream, o, on_event, &s), 1);
    cr_expect_str_eq(s.text, "|message|ok\n");
    cr_expect(p.data.alloc <= SSE_EVENT_MAX + 2, "the data buffer grew to %zu", p.data.alloc);
    sse_release(&p);
    free(stream);
}

Test(sse, event_just_under_the_cap_kept)
{
    /* "data: " + payload + "\n" is exactly the cap */
    size_t payload = SSE_EVENT_MAX - 7;
    size_t len = 6 + payload + 2;
    char *stream = malloc(len);
    cr_assert_not_null(stream);
    memcpy(stream, "data: ", 6);
    memset(stream + 6, 'y', payload);
    memcpy(stream + 6 + payload, "\n\n", 2);
    struct sse_parser p;
    sse_init(&p);
    struct seen s = {0};
    cr_expect_eq(sse_feed(&p, stream, len, on_event, &s), 0);
    cr_expect_eq(s.n, 1, "an event of exactly the cap was discarded");
    sse_release(&p);
    free(stream);
}
