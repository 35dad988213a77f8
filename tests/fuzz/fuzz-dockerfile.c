/* Dockerfiles come from the user's context and from POST /build bodies:
 * parsing one, and expanding every instruction's words, must never crash,
 * and a refusal must say why (and name the file). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockerfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *lookup(const char *name, void *data)
{
        (void)data;
        return name[0] == 'A' ? "value with spaces" : name[0] == 'E' ? "" : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct gb_dockerfile df = {0};
        struct gb_error err = {0};

        if (gb_dockerfile_parse((const char *)data, size, "Dockerfile", &df, &err) < 0) {
                if (strncmp(err.msg, "Dockerfile", 10) != 0)
                        abort();
                return 0;
        }
        for (size_t i = 0; i < df.n; i++) {
                char **w = NULL;
                struct gb_error e2 = {0};
                if (!df.v[i].keyword || !df.v[i].rest || !df.v[i].flags || df.v[i].line == 0)
                        abort();
                if (gb_df_words(df.v[i].rest, df.escape, i % 2, lookup, NULL, &w, &e2) == 0) {
                        for (char **p = w; *p; p++)
                                if (strlen(*p) > 16 * size + 1024)
                                        abort();
                        for (char **p = w; *p; p++)
                                free(*p);
                        free(w);
                } else if (!e2.msg[0])
                        abort();
                (void)gb_df_flag(&df.v[i], "chown");
        }
        gb_dockerfile_done(&df);
        return 0;
}
