/* Replays a fuzz corpus through a libFuzzer entry point, printing TAP: one
 * case per file. Used when the build is not a -Dfuzz build. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
        char **names = NULL;
        size_t n = 0;
        DIR *d;
        struct dirent *de;

        if (argc != 2) {
                fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
                return 2;
        }
        d = opendir(argv[1]);
        if (!d) {
                printf("1..0 # SKIP no corpus at %s\n", argv[1]);
                return 0;
        }
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                names = gb_xrealloc(names, (n + 1) * sizeof(*names));
                names[n++] = gb_xstrdup(de->d_name);
        }
        closedir(d);
        qsort(names, n, sizeof(*names), cmp);
        printf("1..%zu\n", n);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *path = gb_xasprintf("%s/%s", argv[1], names[i]);
                _cleanup_free_ char *buf = NULL;
                size_t len = 0;
                int r = gb_read_file_at(AT_FDCWD, path, 16 << 20, &buf, &len);

                if (r < 0) {
                        printf("not ok %zu - %s (unreadable)\n", i + 1, names[i]);
                        continue;
                }
                /* A crash aborts the whole binary, which the runner counts
                 * as a failure of the remaining cases. */
                (void)LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
                printf("ok %zu - %s\n", i + 1, names[i]);
                free(names[i]);
        }
        free(names);
        return 0;
}
