/* Unit tests: Release files, RFC 1123 dates, clearsigned structure, OpenPGP
 * armour and gpgv status evaluation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "pgp/armor.h"
#include "pgp/gpgv.h"
#include "pkg/deb/release.h"
#include "testutil.h"
#include "util/hash.h"
#include "util/mem.h"

#include <string.h>

static const char release_text[] =
    "Origin: Debian\n"
    "Label: Debian-Security\n"
    "Suite: stable-security\n"
    "Codename: bookworm-security\n"
    "Date: Sat, 10 Aug 2024 09:54:26 UTC\n"
    "Valid-Until: Sat, 17 Aug 2024 09:54:26 UTC\n"
    "Acquire-By-Hash: yes\n"
    "No-Support-for-Architecture-all: Packages\n"
    "Architectures: amd64 arm64 i386\n"
    "Components: updates/main\n"
    "MD5Sum:\n"
    " 7fdf4db15250af5368cc52a91e8edbce   738242 main/binary-amd64/Packages\n"
    "SHA256:\n"
    " 49A9E54C4FFC7BDE7834F37042F551CE863C2630382396592602F432CDBF6F1C  2532743 "
    "main/binary-amd64/Packages\n"
    " a59b44d3150ec5621306ce98e42bcb14f95451fe82ca7e6b83d1da7454a1ea3d   379936 "
    "main/binary-amd64/Packages.xz\n"
    " e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855        0 "
    "contrib/Contents-amd64\n";

static void release_fields(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_release r;
	const struct copa_release_file *f;

	assert_ok(
	    copa_release_parse(release_text, sizeof(release_text) - 1, "'Release'", &r, &err));
	assert_string_equal(r.origin, "Debian");
	assert_string_equal(r.suite, "stable-security");
	assert_string_equal(r.codename, "bookworm-security");
	assert_int_equal(r.date, 1723283666);
	assert_int_equal(r.valid_until, 1723283666 + 7 * 86400);
	assert_true(r.acquire_by_hash);
	assert_true(r.no_arch_all);
	assert_false(r.not_automatic);
	assert_string_equal(r.architectures[2], "i386");
	assert_null(r.architectures[3]);
	assert_int_equal(r.n_files, 3);
	f = copa_release_find(&r, "main/binary-amd64/Packages");
	assert_non_null(f);
	assert_int_equal(f->size, 2532743);
	/* Hex is normalised to lowercase. */
	assert_string_equal(f->sha256,
	                    "49a9e54c4ffc7bde7834f37042f551ce863c2630382396592602f432cdbf6f1c");
	f = copa_release_find(&r, "main/binary-amd64/Packages.xz");
	assert_int_equal(f->size, 379936);
	assert_null(copa_release_find(&r, "main/binary-i386/Packages.xz"));
	assert_non_null(copa_release_find(&r, "contrib/Contents-amd64"));
	copa_release_release(&r);
}

static void release_errors(void **state)
{
	static const struct {
		const char *text;
		const char *msg;
	} cases[] = {
	    {"Origin: x\nMD5Sum:\n 7fdf4db15250af5368cc52a91e8edbce 1 a\n", "no SHA256"},
	    {"SHA256:\n abc 12 main/Packages\n", "malformed SHA256 entry"},
	    {"SHA256:\n "
	     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	     " 12\n",
	     "malformed SHA256 line"},
	    {"SHA256:\n "
	     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	     " -1 a\n",
	     "malformed SHA256 entry"},
	    {"SHA256:\n "
	     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	     " 1 a extra\n",
	     "malformed SHA256 line"},
	    {"SHA256:\n "
	     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	     " 1 /etc/passwd\n",
	     "malformed SHA256 entry"},
	    {"SHA256:\n "
	     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 1 a\n"
	     " "
	     "a59b44d3150ec5621306ce98e42bcb14f95451fe82ca7e6b83d1da7454a1ea3d 1 a\n",
	     "conflicting SHA256 entries for 'a'"},
	    {"Date: yesterday\nSHA256:\n", "cannot parse Date"},
	    {"Valid-Until: Sat, 17 Aug 2024 09:54:26 CEST\nSHA256:\n", "cannot parse Valid-Until"},
	    {"", "is empty"},
	};

	for (size_t i = 0; i < COPA_ARRAY_SIZE(cases); i++) {
		struct copa_err err = COPA_ERR_INIT;
		struct copa_release r;

		assert_int_equal(
		    copa_release_parse(cases[i].text, strlen(cases[i].text), "'Release'", &r, &err),
		    -1);
		if (!strstr(err.msg, cases[i].msg))
			fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].msg);
	}
}

static void dates(void **state)
{
	static const struct {
		const char *s;
		int64_t t; /* -1: must be refused */
	} cases[] = {
	    {"Sat, 17 Dec 2022 10:14:37 UTC", 1671272077},
	    {"17 Dec 2022 10:14:37 GMT", 1671272077},
	    {"Sat, 17 Dec 2022 10:14:37 +0000", 1671272077},
	    {"Thu,  1 Jan 1970 00:00:00 UTC", 0},
	    {"Tue, 29 Feb 2028 23:59:59 UTC", 1835481599},
	    {"Sat, 17 Dec 2022 10:14:37", -1},
	    {"Sat, 17 Foo 2022 10:14:37 UTC", -1},
	    {"Sat, 17 Dec 2022 25:14:37 UTC", -1},
	    {"Sat, 17 Dec 22 10:14:37 UTC", -1},
	    {"Sat, 17 Dec 2022 10:14:37 UTC junk", -1},
	    {"", -1},
	};

	for (size_t i = 0; i < COPA_ARRAY_SIZE(cases); i++) {
		int64_t t = 0;
		int r = copa_release_parse_date(copa_blob_str(cases[i].s), &t);

		if (cases[i].t < 0) {
			if (r != -1)
				fail_msg("case %zu '%s' accepted", i, cases[i].s);
		} else if (r != 0 || t != cases[i].t) {
			fail_msg("case %zu '%s': r=%d t=%lld", i, cases[i].s, r, (long long)t);
		}
	}
}

static const char clearsigned[] =
    "-----BEGIN PGP SIGNED MESSAGE-----\n"
    "Hash: SHA512\n"
    "\n"
    "Origin: Test\n"
    "X: - dash\n"
    "- -Y: z  \n"
    "\n"
    "-----BEGIN PGP SIGNATURE-----\n"
    "\n"
    "iQEzBAEBCgAdFiEELiicRgNB2L4+lZycMgN7yjUJEsYFAmsIVrcACgkQMgN7yjUJ\n"
    "=abcd\n"
    "-----END PGP SIGNATURE-----\n";

static void clearsign_structure(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	char *body = NULL;
	size_t len = 0;

	assert_ok(copa_clearsign_split(clearsigned, sizeof(clearsigned) - 1, "'InRelease'", &body,
	                               &len, &err));
	/* Dash-unescaped, trailing blanks dropped: what gpgv --output writes. */
	assert_string_equal(body, "Origin: Test\nX: - dash\n-Y: z\n\n");
	assert_int_equal(len, strlen(body));
	free(body);

	static const char *const bad[] = {
	    /* Unsigned text before the message. */
	    "Origin: evil\n-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nA: b\n"
	    "-----BEGIN PGP SIGNATURE-----\nx\n-----END PGP SIGNATURE-----\n",
	    /* Text after the signature. */
	    "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nA: b\n"
	    "-----BEGIN PGP SIGNATURE-----\nx\n-----END PGP SIGNATURE-----\nOrigin: evil\n",
	    /* A second message inside the body (not dash-escaped). */
	    "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nA: b\n"
	    "-----BEGIN PGP SIGNED MESSAGE-----\n"
	    "-----BEGIN PGP SIGNATURE-----\nx\n-----END PGP SIGNATURE-----\n",
	    /* No signature. */
	    "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nA: b\n",
	    /* A plain Release. */
	    "Origin: Debian\nSHA256:\n",
	    /* Junk header line. */
	    "-----BEGIN PGP SIGNED MESSAGE-----\nComment: x\n\nA: b\n"
	    "-----BEGIN PGP SIGNATURE-----\nx\n-----END PGP SIGNATURE-----\n",
	};
	for (size_t i = 0; i < COPA_ARRAY_SIZE(bad); i++) {
		copa_err_clear(&err);
		if (copa_clearsign_split(bad[i], strlen(bad[i]), "'InRelease'", NULL, NULL, &err) !=
		    -1)
			fail_msg("bad case %zu accepted", i);
		assert_int_equal(err.code, COPA_E_INPUT);
	}
}

static const char small_asc[] = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n"
                                "\n"
                                "mDMEawhXgBYJKwYBBAHaRw8BAQdAdQGcIvkqdIpxDPoz5lP7T5xgdvEUA2zC3vgG\n"
                                "C6fzTYq0FkFybW9yIFRlc3QgPGFAZXhhbXBsZT6IkAQTFggAOBYhBBHw9Rc8b4qL\n"
                                "PdHhHwOVh9RlQZQKBQJrCFeAAhsDBQsJCAcCBhUKCQgLAgQWAgMBAh4BAheAAAoJ\n"
                                "EAOVh9RlQZQKo/8BAPTNvLKj2Krhvsv64yxOxaFCw9Dvac50Ywz0o2Z05FxgAQCy\n"
                                "w0fsTnQ/doAONeibLA26B/bKJXn+LCURAs20KJKbBQ==\n"
                                "=KOwX\n"
                                "-----END PGP PUBLIC KEY BLOCK-----\n";
static const char small_sha256[] =
    "8f47f043856b5fe27c6b703eddf27efc12a8c70a33e7cacd4b163a09ca5828be";

static void armor_decode(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf out = COPA_BUF_INIT;
	char hex[COPA_HASH_HEX_MAX];

	assert_true(copa_pgp_is_armored(small_asc, sizeof(small_asc) - 1));
	assert_int_equal(copa_pgp_dearmor(small_asc, sizeof(small_asc) - 1, "'k.asc'", &out, &err),
	                 1);
	assert_int_equal(out.len, 223);
	copa_hash_hex(COPA_HASH_SHA256, out.p, out.len, hex);
	assert_string_equal(hex, small_sha256);
	/* Two blocks (with CRLF line ends and text around them) decode into one keyring. */
	{
		struct copa_buf two = COPA_BUF_INIT, crlf = COPA_BUF_INIT;

		for (const char *p = small_asc; *p; p++) {
			if (*p == '\n')
				copa_buf_addc(&crlf, '\r');
			copa_buf_addc(&crlf, *p);
		}
		copa_buf_adds(&two, "some text\n");
		copa_buf_adds(&two, small_asc);
		copa_buf_adds(&two, "between\n");
		copa_buf_add(&two, crlf.p, crlf.len);
		copa_buf_reset(&out);
		assert_int_equal(copa_pgp_dearmor(two.p, two.len, "'two'", &out, &err), 2);
		assert_int_equal(out.len, 446);
		copa_buf_release(&two);
		copa_buf_release(&crlf);
	}
	copa_buf_release(&out);
	assert_int_equal(copa_pgp_crc24("", 0), 0xB704CE);
}

/* Regression (fuzz_armor, UBSan): a block holding only a checksum line has no
 * decoded bytes and no buffer; it is empty, not checked against NULL + 0. */
static void armor_empty_block_with_crc(void **state)
{
	static const char text[] = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n=AAAA\n"
	                           "-----END PGP PUBLIC KEY BLOCK-----\n";
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf out = COPA_BUF_INIT;

	(void)state;
	assert_int_equal(copa_pgp_dearmor(text, sizeof(text) - 1, "'k.asc'", &out, &err), -1);
	assert_non_null(strstr(err.msg, "empty armour block"));
	copa_buf_release(&out);
}

static void armor_errors(void **state)
{
	struct {
		const char *from, *to, *msg;
	} cases[] = {
	    {"=KOwX", "=KOwY", "checksum mismatch"},
	    {"w0fsTnQ", "w0f$TnQ", "invalid base64"},
	    {"-----END PGP PUBLIC KEY BLOCK-----", "-----END PGP SIGNATURE-----", "does not match"},
	    {"-----END PGP PUBLIC KEY BLOCK-----\n", "", "no END line"},
	    {"LCURAs20KJKbBQ==", "LCURAs20KJKbBQ=", "invalid base64"},
	    {"LCURAs20KJKbBQ==\n=KOwX", "LCURAs20KJKbB", "truncated"},
	    {"-----BEGIN PGP PUBLIC KEY BLOCK-----", "-----BEGIN PGP KEY", "no armoured"},
	};

	for (size_t i = 0; i < COPA_ARRAY_SIZE(cases); i++) {
		struct copa_err err = COPA_ERR_INIT;
		struct copa_buf text = COPA_BUF_INIT, out = COPA_BUF_INIT;
		const char *at = strstr(small_asc, cases[i].from);

		assert_non_null(at);
		copa_buf_add(&text, small_asc, (size_t)(at - small_asc));
		copa_buf_adds(&text, cases[i].to);
		copa_buf_adds(&text, at + strlen(cases[i].from));
		if (copa_pgp_dearmor(text.p, text.len, "'k.asc'", &out, &err) != -1 ||
		    !strstr(err.msg, cases[i].msg))
			fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].msg);
		copa_buf_release(&text);
		copa_buf_release(&out);
	}
}

#define FPR  "2E289C460341D8BE3E959C9C32037BCA350912C6"
#define SUBF "AAAA9C460341D8BE3E959C9C32037BCA35091111"

static void gpgv_status(void **state)
{
	static const struct {
		const char *status;
		const char *allow; /* one fingerprint or NULL */
		enum copa_gpgv_verdict v;
		const char *key;
	} cases[] = {
	    {"[GNUPG:] NEWSIG\n[GNUPG:] GOODSIG 32037BCA350912C6 T <t@x>\n"
	     "[GNUPG:] VALIDSIG " FPR " 2026-11-26 1795708599 0 4 0 1 10 01 " FPR "\n",
	     NULL, COPA_GPGV_GOOD, ""},
	    /* GOODSIG alone is not enough. */
	    {"[GNUPG:] GOODSIG 32037BCA350912C6 T <t@x>\n", NULL, COPA_GPGV_NO_SIGNATURE, ""},
	    {"[GNUPG:] ERRSIG 6ED0E7B82643E131 1 10 01 1795708599 9 -\n"
	     "[GNUPG:] NO_PUBKEY 6ED0E7B82643E131\n",
	     NULL, COPA_GPGV_UNKNOWN_KEY, "6ED0E7B82643E131"},
	    /* One good and one unknown signature (Debian signs with two keys): good. */
	    {"[GNUPG:] NO_PUBKEY 6ED0E7B82643E131\n"
	     "[GNUPG:] VALIDSIG " FPR " 2026-11-26 1795708599 0 4 0 1 8 01 " FPR "\n",
	     NULL, COPA_GPGV_GOOD, ""},
	    /* Any bad signature fails, even next to a good one. */
	    {"[GNUPG:] BADSIG 32037BCA350912C6 T\n"
	     "[GNUPG:] VALIDSIG " FPR " 2026-11-26 1795708599 0 4 0 1 8 01 " FPR "\n",
	     NULL, COPA_GPGV_BAD, "32037BCA350912C6"},
	    {"[GNUPG:] VALIDSIG " FPR " 2026-11-26 1795708599 0 4 0 1 2 01 " FPR "\n", NULL,
	     COPA_GPGV_WEAK_DIGEST, FPR},
	    {"[GNUPG:] EXPKEYSIG 32037BCA350912C6 T\n", NULL, COPA_GPGV_EXPIRED_KEY,
	     "32037BCA350912C6"},
	    {"[GNUPG:] REVKEYSIG 32037BCA350912C6 T\n", NULL, COPA_GPGV_REVOKED_KEY,
	     "32037BCA350912C6"},
	    /* Signed-By fingerprints: primary key matches a subkey signature... */
	    {"[GNUPG:] VALIDSIG " SUBF " 2026-11-26 1795708599 0 4 0 1 10 01 " FPR "\n", FPR,
	     COPA_GPGV_GOOD, ""},
	    /* ...but not with '!' (exact key only)... */
	    {"[GNUPG:] VALIDSIG " SUBF " 2026-11-26 1795708599 0 4 0 1 10 01 " FPR "\n", FPR "!",
	     COPA_GPGV_NOT_ALLOWED, FPR},
	    /* ...and another key is refused. */
	    {"[GNUPG:] VALIDSIG " FPR " 2026-11-26 1795708599 0 4 0 1 10 01 " FPR "\n", SUBF,
	     COPA_GPGV_NOT_ALLOWED, FPR},
	    {"[GNUPG:] NODATA 1\n", NULL, COPA_GPGV_NO_SIGNATURE, ""},
	    {"", NULL, COPA_GPGV_NO_SIGNATURE, ""},
	};

	for (size_t i = 0; i < COPA_ARRAY_SIZE(cases); i++) {
		struct copa_gpgv_status st;
		char *allow[2] = {(char *)(uintptr_t)cases[i].allow, NULL};

		copa_gpgv_eval(cases[i].status, strlen(cases[i].status),
		               cases[i].allow ? allow : NULL, &st);
		if (st.verdict != cases[i].v || strcmp(st.key, cases[i].key) != 0)
			fail_msg("case %zu: verdict %d key '%s'", i, st.verdict, st.key);
	}
	{
		struct copa_gpgv_status st = {.verdict = COPA_GPGV_UNKNOWN_KEY,
		                              .key = "6ED0E7B82643E131"};
		char buf[200];

		copa_gpgv_describe(&st, buf, sizeof(buf));
		assert_string_equal(buf, "signature by unknown key 6ED0E7B82643E131 (add it with "
		                         "--keyring)");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(release_fields),
	    cmocka_unit_test(release_errors),
	    cmocka_unit_test(dates),
	    cmocka_unit_test(clearsign_structure),
	    cmocka_unit_test(armor_decode),
	    cmocka_unit_test(armor_errors),
	    cmocka_unit_test(armor_empty_block_with_crc),
	    cmocka_unit_test(gpgv_status),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
