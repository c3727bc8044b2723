/* deadline.c - timeouts that move often (every read pushes one back)
 * without touching libuv's timer heap each time. The uv timer stays armed
 * for the earliest time it was started for; when it fires before the
 * current due time it re-arms for what is left, and a stopped deadline
 * only forgets its due time. Like nginx's lazy timers: a keep-alive request
 * used to start and stop timers six times, each an O(log n) heap edit.
 * Leaves to the caller what happens when a deadline passes. */
#include "net.h"

static void on_fire(uv_timer_t *t)
{
    moat_deadline *d = (moat_deadline *)t; /* the timer is its first member */
    d->armed_at = 0;
    if (!d->due) return; /* stopped since it was armed */
    uint64_t now = uv_now(t->loop);
    if (now < d->due) {
        d->armed_at = d->due;
        uv_timer_start(&d->timer, on_fire, d->due - now, 0);
        return;
    }
    d->due = 0;
    d->cb(d);
}

void moat_deadline_init(uv_loop_t *loop, moat_deadline *d, void *data)
{
    uv_timer_init(loop, &d->timer);
    d->timer.data = data; /* as for the owner's other handles (close callbacks) */
    d->data = data;
    d->due = d->armed_at = 0;
    d->cb = NULL;
}

void moat_deadline_set(moat_deadline *d, uint64_t ms, moat_deadline_cb cb)
{
    if (ms == 0) {
        moat_deadline_stop(d);
        return;
    }
    d->cb = cb;
    d->due = uv_now(d->timer.loop) + ms;
    /* armed for earlier (or the same time): it re-arms itself when it fires */
    if (d->armed_at && d->armed_at <= d->due) return;
    d->armed_at = d->due;
    uv_timer_start(&d->timer, on_fire, ms, 0);
}

void moat_deadline_stop(moat_deadline *d)
{
    d->due = 0;
}
