/* sleeper.c - how moat's certificate threads wait: a nap on the monotonic
 * clock that a wake (SIGHUP, `moat cert renew`) cuts short and a stop ends.
 * The threads themselves (client.c, ocsp.c) decide what to do between naps. */
#include <errno.h>
#include <time.h>

#include "internal.h"

void moat__sleeper_init(moat__sleeper *s)
{
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    s->wake = s->stop = false;
}

void moat__sleeper_destroy(moat__sleeper *s)
{
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
}

bool moat__sleeper_stopping(moat__sleeper *s)
{
    pthread_mutex_lock(&s->lock);
    bool stop = s->stop;
    pthread_mutex_unlock(&s->lock);
    return stop;
}

bool moat__sleeper_nap(moat__sleeper *s, uint64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->lock);
    while (!s->stop && !s->wake && pthread_cond_timedwait(&s->cond, &s->lock, &ts) != ETIMEDOUT) {
    }
    s->wake = false;
    bool go = !s->stop;
    pthread_mutex_unlock(&s->lock);
    return go;
}

static void set(moat__sleeper *s, bool stop)
{
    pthread_mutex_lock(&s->lock);
    if (stop)
        s->stop = true;
    else
        s->wake = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

void moat__sleeper_wake(moat__sleeper *s)
{
    set(s, false);
}

void moat__sleeper_stop(moat__sleeper *s)
{
    set(s, true);
}
