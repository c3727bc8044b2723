/* gateway.h - the security gateway (`moat serve`): workers, the request
 * pipeline and its stages, the proxy to the upstream app. */
#ifndef MOAT_GATEWAY_H
#define MOAT_GATEWAY_H

#include "config/config.h"

/* Loads the config from src, binds the listeners, starts the workers and
 * serves until SIGTERM/SIGINT (drain, then return 0). SIGHUP reloads the
 * config from the same source. Returns non-zero when it cannot start (the
 * reason is already logged). */
int moat_gateway_serve(const moat_config_source *src);

#endif
