/* accesslog.c - one line per finished exchange, JSON lines or the combined
 * format, written with a single write(2) so lines from workers never mix.
 * Paths are logged without their query (queries carry secrets too often). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static void json_str(moat_buf *b, const char *s)
{
    moat_buf_put_json_string(b, s ? s : "", s ? strlen(s) : 0);
}

void moat__access_log(moat_request *r)
{
    const moat_runtime *rt = r->rt;
    if (rt->access_fd < 0 || r->status == 0) return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    uint64_t total = moat_now_ms() - r->start_ms;
    const char *method = r->head ? r->head->method : "-";
    const char *path = r->path ? r->path : "-";
    moat_buf b;
    moat_buf_init(&b);
    if (rt->access_json) {
        moat_buf_printf(&b,
                        "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ\",\"request_id\":\"%s\","
                        "\"client\":",
                        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                        tm.tm_sec, ts.tv_nsec / 1000, r->id);
        json_str(&b, r->c->peer);
        moat_buf_puts(&b, ",\"method\":");
        json_str(&b, method);
        moat_buf_puts(&b, ",\"path\":");
        json_str(&b, path);
        moat_buf_printf(&b, ",\"status\":%d,\"bytes\":%llu,\"upstream_ms\":", r->status,
                        (unsigned long long)r->bytes_out);
        if (r->upstream_ms || r->upstream_start_ms)
            moat_buf_printf(&b, "%llu", (unsigned long long)r->upstream_ms);
        else
            moat_buf_puts(&b, "null");
        moat_buf_printf(&b, ",\"total_ms\":%llu", (unsigned long long)total);
        if (r->error_reason) {
            moat_buf_puts(&b, ",\"reason\":");
            json_str(&b, r->error_reason);
        }
        moat_buf_puts(&b, "}\n");
    } else {
        static const char *mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        moat_http_header *ref = r->head ? moat_http_head_find(r->head, "Referer") : NULL;
        moat_http_header *ua = r->head ? moat_http_head_find(r->head, "User-Agent") : NULL;
        moat_buf_printf(&b, "%s - - [%02d/%s/%04d:%02d:%02d:%02d +0000] \"", r->c->peer, tm.tm_mday,
                        mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
        moat_buf_printf(&b, "%s %s %s\" %d %llu ", method, path,
                        r->c->h2                          ? "HTTP/2.0"
                        : r->head && !r->head->http_minor ? "HTTP/1.0"
                                                          : "HTTP/1.1",
                        r->status, (unsigned long long)r->bytes_out);
        json_str(&b, ref ? ref->value : "-");
        moat_buf_putc(&b, ' ');
        json_str(&b, ua ? ua->value : "-");
        moat_buf_printf(&b, " %s %llu\n", r->id, (unsigned long long)total);
    }
    ssize_t w = write(rt->access_fd, b.data, b.len);
    (void)w;
    moat_buf_free(&b);
}
