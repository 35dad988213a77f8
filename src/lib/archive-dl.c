/* libarchive, loaded on first use: see archive-dl.h. */
#include <dlfcn.h>
#include <errno.h>

#include "archive-dl.h"
#include "cleanup.h"

struct gb_archive_api gb_ar;

GB_EXPORT int gb_archive_load(struct gb_error *err)
{
        static int state; /* 0 untried, 1 loaded, else -errno */
        void *h;

        if (state)
                return state > 0 ? 0 : gb_error_set(err, -state, "libarchive is not usable: %s", dlerror() ?: "");
        h = dlopen("libarchive.so.13", RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                state = -ENOENT;
                return gb_error_set(err, ENOENT,
                                    "Failed to load libarchive.so.13 (%s): image import, load and save need it; "
                                    "install it with 'apt-get install libarchive13'",
                                    dlerror());
        }
#define GB_AR_RESOLVE(f)                                                                                          \
        if (!(gb_ar.f = (__typeof__(f) *)dlsym(h, #f))) {                                                         \
                state = -ENOSYS;                                                                                  \
                return gb_error_set(err, ENOSYS, "libarchive.so.13 has no '%s': it is too old for ghostbox", #f); \
        }
        GB_ARCHIVE_SYMBOLS(GB_AR_RESOLVE)
#undef GB_AR_RESOLVE
        state = 1;
        return 0;
}
