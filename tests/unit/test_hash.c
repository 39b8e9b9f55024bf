#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "util/hash.h"

static void known_vectors(void **state)
{
	char hex[COPA_HASH_HEX_MAX], dg[COPA_DIGEST_MAX];

	copa_hash_hex(COPA_HASH_SHA256, "abc", 3, hex);
	assert_string_equal(hex,
	                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	copa_hash_hex(COPA_HASH_MD5, "", 0, hex);
	assert_string_equal(hex, "d41d8cd98f00b204e9800998ecf8427e");
	copa_sha256_digest("{}", 2, dg);
	/* The OCI empty descriptor's digest. */
	assert_string_equal(
	    dg, "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
}

static void streaming_equals_oneshot(void **state)
{
	struct copa_hash h, copy;
	char a[COPA_HASH_HEX_MAX], b[COPA_HASH_HEX_MAX], c[COPA_HASH_HEX_MAX];

	copa_hash_init(&h, COPA_HASH_SHA512);
	copa_hash_update(&h, "hello ", 6);
	copa_hash_dup(&copy, &h);
	copa_hash_update(&h, "world", 5);
	copa_hash_final_hex(&h, a);
	copa_hash_hex(COPA_HASH_SHA512, "hello world", 11, b);
	assert_string_equal(a, b);
	copa_hash_final_hex(&copy, c);
	copa_hash_hex(COPA_HASH_SHA512, "hello ", 6, b);
	assert_string_equal(c, b);
}

static void digest_grammar(void **state)
{
	enum copa_hash_alg alg;
	const char *hex;
	const char *ok = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

	assert_true(copa_digest_parse(ok, &alg, &hex));
	assert_int_equal(alg, COPA_HASH_SHA256);
	assert_string_equal(hex, ok + 7);
	assert_false(copa_digest_valid(
	    "sha256:44136FA355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"));
	assert_false(copa_digest_valid(
	    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8"));
	assert_false(copa_digest_valid("sha256:../../etc/passwd"));
	assert_false(copa_digest_valid("md5:d41d8cd98f00b204e9800998ecf8427e"));
	assert_false(copa_digest_valid(NULL));
	assert_false(copa_digest_valid(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(known_vectors),
	    cmocka_unit_test(streaming_equals_oneshot),
	    cmocka_unit_test(digest_grammar),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
