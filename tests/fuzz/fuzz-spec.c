/* Fuzz target: config.json parsing (gb_spec_load_data), the process.json
 * parser of `exec --process`, and compiling a parsed seccomp section. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "security.h"
#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct gb_spec *s = NULL;
        struct gb_error err = {0};

        if (gb_spec_load_data((const char *)data, size, "config.json", &s, &err) == 0) {
                /* Exercise what the sandbox derives from a valid spec before
                 * any clone: the seccomp program. */
                struct gb_security sec = {0};
                struct gb_error e2 = {0};
                if (s->seccomp && gb_security_prepare(&s->process, s->seccomp, true, "config.json", &sec, &e2) == 0)
                        gb_security_done(&sec);
                gb_spec_free(s);
        } else if (err.msg[0] == 0) {
                __builtin_trap(); /* every failure must say why */
        }
        {
                json_t *o = json_loadb((const char *)data, size, 0, NULL);
                struct gb_spec_process p;
                if (o && gb_spec_process_from_json(o, "process.json", &p, &err) == 0)
                        gb_spec_process_done(&p);
                json_decref(o);
        }
        return 0;
}
