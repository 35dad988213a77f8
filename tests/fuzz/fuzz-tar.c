/* Layer extraction (tar, gzip, zstd) into a scratch directory, then a check
 * that nothing appeared next to it: an entry escaping the layer would land in
 * the parent, which the harness watches. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layer.h"
#include "util.h"

static size_t count_entries(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        size_t n = 0;

        while (d && (de = readdir(d)))
                n++;
        if (d)
                closedir(d);
        return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct gb_layer_opts opts = {.blob_fd = -1};
        struct gb_layer_info info;
        struct gb_error err = {0};
        char base[] = "/tmp/gb-fuzz-tar.XXXXXX", *layer;
        int in, root;

        /* A fresh parent per input, removed at the end: libFuzzer exits
         * without running atexit handlers. */
        if (!mkdtemp(base))
                abort();
        layer = gb_xasprintf("%s/layer", base);
        in = memfd_create("fuzz", MFD_CLOEXEC);
        if (in < 0 || gb_write_all(in, data, size) < 0 || lseek(in, 0, SEEK_SET) < 0)
                abort();
        if (mkdir(layer, 0755) < 0)
                abort();
        root = open(layer, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                abort();
        opts.flags = size > 0 && (data[0] & 1) ? GB_LAYER_PLAIN : 0;
        /* Bits of the first byte also pick the `docker cp` mode (PUT
         * /containers/{id}/archive) and its owner handling. */
        static struct gb_idmap map;
        if (map.n == 0)
                (void)gb_idmap_add(&map, 0, 100000, 65536);
        if (size > 0 && (data[0] & 2)) {
                opts.flags = GB_LAYER_COPY | ((data[0] & 4) ? GB_LAYER_NO_DIR_NONDIR : 0);
                opts.fixed_owner = data[0] & 8;
                opts.owner_uid = opts.owner_gid = 100000;
                opts.uids = opts.gids = (data[0] & 16) ? &map : NULL;
        }
        (void)gb_layer_extract(in, root, &opts, &info, &err);
        close(root);
        close(in);
        /* base holds only "layer" (plus . and ..): anything else escaped. */
        if (count_entries(base) != 3)
                abort();
        if (gb_rm_rf(layer) < 0 || rmdir(base) < 0)
                abort();
        free(layer);
        return 0;
}
