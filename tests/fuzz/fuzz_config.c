/* fuzz_config.c - libFuzzer target for the configuration loader: arbitrary
 * bytes as moat.toml must load or give an error message, never crash or
 * leak. The loader reads files, so each input goes through a private file. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static char path[64];
    if (!path[0]) snprintf(path, sizeof(path), "/tmp/moat-fuzz-%d.toml", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    moat_config_source src = {.path = path};
    moat_config *cfg = NULL;
    char *err = NULL;
    if (moat_config_load(&src, &cfg, &err) == 0) {
        moat_buf out;
        moat_buf_init(&out);
        moat_config_dump(cfg, &out);
        moat_buf_free(&out);
        moat_config_free(cfg);
    } else {
        free(err);
    }
    return 0;
}
