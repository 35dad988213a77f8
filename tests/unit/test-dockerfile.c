#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cleanup.h"
#include "dockerfile.h"
#include "util.h"

static int parse(const char *text, struct gb_dockerfile *df, struct gb_error *err)
{
        return gb_dockerfile_parse(text, strlen(text), "Dockerfile", df, err);
}

static void expect_error(const char *text, const char *msg)
{
        struct gb_dockerfile df = {0};
        struct gb_error err = {0};

        assert_int_equal(parse(text, &df, &err), -EINVAL);
        if (!strstr(err.msg, msg))
                fail_msg("error '%s' does not contain '%s'", err.msg, msg);
}

static void test_basic(void **state)
{
        struct gb_dockerfile df = {0};
        struct gb_error err = {0};
        const char *text = "# comment\n"
                           "ARG BASE=busybox\n"
                           "\n"
                           "from $BASE AS build\n"
                           "RUN echo a \\\n"
                           "  # a comment inside a continuation\n"
                           "  && echo b\n"
                           "COPY --chown=33:33 --from=x a b /c/\n"
                           "CMD [\"sh\", \"-c\", \"echo hi\"]\n"
                           "RUN [ -f /x ]\n";

        assert_int_equal(parse(text, &df, &err), 0);
        assert_int_equal(df.n, 6);
        assert_string_equal(df.v[0].keyword, "ARG");
        assert_string_equal(df.v[1].keyword, "FROM");
        assert_int_equal(df.v[1].line, 4);
        assert_string_equal(df.v[2].keyword, "RUN");
        assert_string_equal(df.v[2].rest, "echo a   && echo b");
        assert_int_equal(df.v[2].line, 5);
        assert_string_equal(df.v[3].rest, "a b /c/");
        assert_string_equal(gb_df_flag(&df.v[3], "chown"), "33:33");
        assert_string_equal(gb_df_flag(&df.v[3], "from"), "x");
        assert_null(gb_df_flag(&df.v[3], "chmod"));
        assert_non_null(df.v[4].json);
        assert_string_equal(df.v[4].json[2], "echo hi");
        assert_null(df.v[5].json); /* not JSON: the shell form, as Docker */
        assert_int_equal(df.escape, '\\');
        gb_dockerfile_done(&df);
}

static void test_escape_directive(void **state)
{
        struct gb_dockerfile df = {0};
        struct gb_error err = {0};

        assert_int_equal(parse("# escape=`\nFROM a\nRUN dir c:\\ `\n  x\n", &df, &err), 0);
        assert_int_equal(df.escape, '`');
        assert_string_equal(df.v[1].rest, "dir c:\\   x");
        gb_dockerfile_done(&df);
        /* A directive after an instruction is a comment. */
        assert_int_equal(parse("FROM a\n# escape=`\nRUN a \\\n b\n", &df, &err), 0);
        assert_int_equal(df.escape, '\\');
        assert_string_equal(df.v[1].rest, "a  b");
        gb_dockerfile_done(&df);
}

static void test_errors(void **state)
{
        expect_error("FROM a\n\nRUUN echo\n", "Dockerfile:3: unknown instruction 'RUUN' (did you mean RUN?)");
        expect_error("FROM a\nFOOBARBAZ x\n", "Dockerfile:2: unknown instruction 'FOOBARBAZ'");
        expect_error("RUN x\nFROM a\n", "Dockerfile:1: RUN before the first FROM");
        expect_error("# just a comment\n", "has no instructions");
        expect_error("FROM a\nRUN\n", "Dockerfile:2: RUN requires at least one argument");
        expect_error("FROM a\nRUN cat <<EOF\nx\nEOF\n", "Dockerfile:2: heredocs");
        expect_error("FROM a\nSHELL /bin/bash\n", "Dockerfile:2: SHELL requires the arguments as a JSON array");
        expect_error("# escape=x\nFROM a\n", "Dockerfile:1: invalid escape directive");
        {
                struct gb_dockerfile df = {0};
                struct gb_error err = {0};
                assert_int_equal(gb_dockerfile_parse("FROM a\0", 7, "Dockerfile", &df, &err), -EINVAL);
        }
}

static const char *vars(const char *name, void *data)
{
        (void)data;
        if (!strcmp(name, "A"))
                return "one two";
        if (!strcmp(name, "EMPTY"))
                return "";
        return NULL;
}

static void expect_words(const char *in, bool one, const char *const *want)
{
        _cleanup_strv_ char **w = NULL;
        struct gb_error err = {0};
        size_t i = 0;

        assert_int_equal(gb_df_words(in, '\\', one, vars, NULL, &w, &err), 0);
        for (; want[i]; i++) {
                assert_non_null(w[i]);
                assert_string_equal(w[i], want[i]);
        }
        assert_null(w[i]);
}

static void test_words(void **state)
{
        expect_words("a b  c", false, (const char *const[]){"a", "b", "c", NULL});
        /* Words are split before expansion, never after (Docker). */
        expect_words("K=$A x", false, (const char *const[]){"K=one two", "x", NULL});
        expect_words("K=\"$A\"", false, (const char *const[]){"K=one two", NULL});
        expect_words("K='$A'", false, (const char *const[]){"K=$A", NULL});
        expect_words("K=\\$A", false, (const char *const[]){"K=$A", NULL});
        expect_words("${UNSET:-def} ${A:+set} ${EMPTY:-e} ${EMPTY-notused}x", false,
                     (const char *const[]){"def", "set", "e", "x", NULL});
        expect_words("${UNSET:-${A}}", true, (const char *const[]){"one two", NULL});
        expect_words("${UNSET:+x}y", false, (const char *const[]){"y", NULL});
        expect_words("a\\ b c", false, (const char *const[]){"a b", "c", NULL});
        expect_words("/a b $", true, (const char *const[]){"/a b $", NULL});
        expect_words("\"\"", false, (const char *const[]){"", NULL});

        _cleanup_strv_ char **w = NULL;
        struct gb_error err = {0};
        assert_int_equal(gb_df_words("\"open", '\\', false, vars, NULL, &w, &err), -EINVAL);
        assert_int_equal(gb_df_words("${A", '\\', false, vars, NULL, &w, &err), -EINVAL);
        assert_int_equal(gb_df_words("${A?x}", '\\', false, vars, NULL, &w, &err), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_basic),
                cmocka_unit_test(test_escape_directive),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_words),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
