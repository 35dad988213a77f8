/* ghostbox-runtime: an OCI runtime with runc's command line. */
#include <stdio.h>
#include <string.h>

#include "error.h"

int main(int argc, char **argv)
{
        if (argc > 1 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-v"))) {
                printf("ghostbox-runtime version %s\nspec: 1.1.0\n", GB_VERSION);
                return 0;
        }
        fprintf(stderr, "ghostbox-runtime: no command given; see --help\n");
        return 1;
}
