/* test_util.c — the async-signal-safe writer: numbers, JSON escaping, truncation. */
#include "unit.h"
#include "util.h"

static void test_numbers(void)
{
    char m[128];
    struct fdl_buf b;
    fdl_buf_init_mem(&b, m, sizeof m);
    fdl_buf_u64(&b, 0);
    fdl_buf_putc(&b, ' ');
    fdl_buf_u64(&b, 18446744073709551615ull);
    fdl_buf_putc(&b, ' ');
    fdl_buf_i64(&b, -9223372036854775807ll - 1);
    fdl_buf_putc(&b, ' ');
    fdl_buf_hex(&b, 0x7f00dead);
    fdl_buf_putc(&b, ' ');
    fdl_buf_fixed(&b, 12.3456, 3);
    fdl_buf_putc(&b, ' ');
    fdl_buf_fixed(&b, 0.0005, 3);
    CHECK_STR(fdl_buf_cstr(&b), "0 18446744073709551615 -9223372036854775808 0x7f00dead 12.346 0.001");
}

static void test_json(void)
{
    char m[256];
    struct fdl_buf b;
    fdl_buf_init_mem(&b, m, sizeof m);
    fdl_buf_json_str(&b, "a\"b\\c\n\x01 é \xff");
    CHECK_STR(fdl_buf_cstr(&b), "\"a\\\"b\\\\c\\u000a\\u0001 é \\ufffd\"");
    /* Not UTF-8: a lead byte above F4, an overlong form, a surrogate, a truncated sequence. */
    fdl_buf_init_mem(&b, m, sizeof m);
    fdl_buf_json_str(&b, "a\xf8\x88\x80\x80\x80 \xe0\x80\xaf \xed\xa0\x80 \xf0\x9f\x98\x80 \xe2\x82");
    CHECK_STR(fdl_buf_cstr(&b), "\"a\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd \\ufffd\\ufffd\\ufffd \\ufffd\\ufffd\\ufffd \xf0\x9f\x98\x80 \\ufffd\\ufffd\"");
    fdl_buf_init_mem(&b, m, sizeof m);
    fdl_buf_json_str(&b, NULL);
    CHECK_STR(fdl_buf_cstr(&b), "null");
}

static void test_truncate(void)
{
    char m[8];
    struct fdl_buf b;
    fdl_buf_init_mem(&b, m, sizeof m);
    fdl_buf_puts(&b, "0123456789");
    CHECK(b.failed);
    CHECK_STR(fdl_buf_cstr(&b), "0123456");
}

int main(void)
{
    RUN(test_numbers);
    RUN(test_json);
    RUN(test_truncate);
    UNIT_END();
}
