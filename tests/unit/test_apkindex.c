/*
 * test_apkindex.c: signed APKINDEX verification and parsing
 * (src/pkg/apk/apkindex.h, apksign.h) on Alpine's real signed v3.16 and v3.17
 * indexes with Alpine's real keys (shared test data), tampered copies of
 * them, and indexes the test signs itself with SHA-1 and SHA-256.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "pkg/apk/apkgz.h"
#include "pkg/apk/apkindex.h"
#include "pkg/apk/apkver.h"
#include "testutil.h"
#include "apkutil.h"

#define IDX316 "alpine/index/v3.16-main-x86_64/APKINDEX.tar.gz"
#define IDX317 "alpine/index/v3.17-main-aarch64/APKINDEX.tar.gz"

static struct copa_apk_keys *alpine_keys(void)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_apk_keys *k = copa_apk_keys_new();
	char *dir = copa_test_shared_path("alpine/keys");

	assert_ok(copa_apk_keys_add_dir(k, AT_FDCWD, dir, &err));
	assert_int_equal(copa_apk_keys_count(k), 17);
	free(dir);
	return k;
}

static const struct copa_apk_pkg *find(const struct copa_apk_index *idx, const char *name)
{
	for (size_t i = 0; i < idx->n; i++)
		if (strcmp(idx->pkgs[i]->name, name) == 0)
			return idx->pkgs[i];
	return NULL;
}

static void real_v316(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_apk_keys *k = alpine_keys();
	struct copa_buf b = COPA_BUF_INIT;
	struct copa_apk_index idx = COPA_APK_INDEX_INIT;
	const struct copa_apk_pkg *p;

	apk_read_shared(IDX316, &b);
	assert_ok(copa_apk_index_load(&idx, b.p, b.len, k, "index 'v3.16/main'", &err));
	assert_int_equal(idx.n, 4929);
	assert_string_equal(idx.description, "v3.16.3-13-g4d933a1fa3");
	assert_string_equal(idx.signed_by, "alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub");
	p = find(&idx, "musl");
	assert_non_null(p);
	assert_string_equal(p->arch, "x86_64");
	assert_true(copa_apk_csum_valid(p->csum));
	assert_true(p->size > 0 && p->installed_size > 0 && p->build_time > 0);
	assert_string_equal(p->origin, "musl");
	/* musl provides its soname with a version */
	bool so = false;
	for (size_t i = 0; i < p->provides.n; i++)
		if (strcmp(p->provides.v[i].name, "so:libc.musl-x86_64.so.1") == 0) {
			so = true;
			assert_int_equal(p->provides.v[i].op, COPA_APKV_EQUAL);
			assert_string_equal(p->provides.v[i].version, "1");
		}
	assert_true(so);
	/* every version in a real index is valid, every package has the mandatory fields */
	size_t with_deps = 0, with_iif = 0, with_prio = 0, invalid = 0;
	for (size_t i = 0; i < idx.n; i++) {
		p = idx.pkgs[i];
		/* apk keeps (and orders) the versions its grammar refuses: 0.99f7-r0, 6.8.0p2-r4 */
		invalid += !copa_apkver_valid(copa_blob_str(p->version));
		with_deps += p->depends.n > 0;
		with_iif += p->install_if.n > 0;
		with_prio += p->provider_priority > 0;
	}
	assert_int_equal(invalid, 6); /* 6 packages carry those two versions */
	assert_int_equal(with_deps, 3253);
	assert_int_equal(with_iif, 1538);
	assert_int_equal(with_prio, 72);
	/* writing a package's header back gives the index's own text for it */
	struct copa_buf w = COPA_BUF_INIT;
	copa_apk_pkg_write(find(&idx, "busybox"), false, &w);
	assert_non_null(strstr(w.p, "P:busybox\nV:"));
	copa_buf_release(&w);
	copa_apk_index_release(&idx);
	copa_buf_release(&b);
	copa_apk_keys_free(k);
}

static void real_v317_aarch64(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_apk_keys *k = alpine_keys();
	struct copa_buf b = COPA_BUF_INIT;
	struct copa_apk_index idx = COPA_APK_INDEX_INIT;

	apk_read_shared(IDX317, &b);
	assert_ok(copa_apk_index_load(&idx, b.p, b.len, k, "index 'v3.17/main'", &err));
	assert_true(idx.n > 4000);
	assert_string_equal(find(&idx, "busybox")->arch, "aarch64");
	print_message("v3.17 aarch64: %zu packages, '%s', signed by %s\n", idx.n, idx.description,
	              idx.signed_by);
	copa_apk_index_release(&idx);
	copa_buf_release(&b);
	copa_apk_keys_free(k);
}

/* Size of the signature segment (first gzip member) of an apk file. */
static size_t first_member(const struct copa_buf *b)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf out = COPA_BUF_INIT;
	size_t used = 0;

	assert_ok(copa_apk_gunzip(b->p, b->len, 1u << 20, &out, &used, "test", &err));
	copa_buf_release(&out);
	return used;
}

static void expect_refused(struct copa_buf *b, const struct copa_apk_keys *k, const char *why)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_apk_index idx = COPA_APK_INDEX_INIT;

	assert_int_equal(copa_apk_index_load(&idx, b->p, b->len, k, "index 'http://x/main'", &err),
	                 -1);
	print_message("refused: %s\n", err.msg);
	assert_non_null(strstr(err.msg, "index 'http://x/main'"));
	assert_non_null(strstr(err.msg, why));
	assert_int_equal(idx.n, 0);
}

static void tampered(void **state)
{
	struct copa_apk_keys *k = alpine_keys();
	struct copa_buf b = COPA_BUF_INIT, copy = COPA_BUF_INIT;
	size_t sig;

	apk_read_shared(IDX316, &b);
	sig = first_member(&b);

	/* a flipped byte inside the signed stream */
	copa_buf_add(&copy, b.p, b.len);
	copy.p[sig + (b.len - sig) / 2] ^= 0x01;
	expect_refused(&copy, k,
	               "bad signature by key 'alpine-devel@lists.alpinelinux.org-6165ee59");
	/* a flipped byte of the signature itself */
	copa_buf_reset(&copy);
	copa_buf_add(&copy, b.p, b.len);
	{
		struct copa_buf sigtar = COPA_BUF_INIT, re = COPA_BUF_INIT;
		size_t used;
		struct copa_err err = COPA_ERR_INIT;

		assert_ok(copa_apk_gunzip(b.p, b.len, 1u << 20, &sigtar, &used, "t", &err));
		sigtar.p[512 + 10] ^= 0x40; /* inside the RSA signature bytes */
		apk_gzip(sigtar.p, sigtar.len, &re);
		copa_buf_add(&re, b.p + sig, b.len - sig);
		expect_refused(&re, k, "bad signature");
		copa_buf_release(&sigtar);
		copa_buf_release(&re);
	}
	/* the signature segment removed: unsigned */
	copa_buf_reset(&copy);
	copa_buf_add(&copy, b.p + sig, b.len - sig);
	expect_refused(&copy, k, "not signed");
	/* trailing garbage after the signed stream */
	copa_buf_reset(&copy);
	copa_buf_add(&copy, b.p, b.len);
	copa_buf_add(&copy, "x", 1);
	expect_refused(&copy, k, "bad signature");
	/* truncated */
	copa_buf_reset(&copy);
	copa_buf_add(&copy, b.p, sig + 100);
	expect_refused(&copy, k, "bad signature");
	/* a key set without Alpine's key */
	{
		struct copa_apk_keys *none = copa_apk_keys_new();

		expect_refused(&b, none,
		               "signed by unknown key "
		               "'alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub' (add it with "
		               "--keyring)");
		copa_apk_keys_free(none);
	}
	copa_buf_release(&copy);
	copa_buf_release(&b);
	copa_apk_keys_free(k);
}

static const char index_text[] = "C:Q1Uq7pr0TahCvC7PPZn3GJKgdsMUY=\n"
                                 "P:hello\n"
                                 "V:1.0-r0\n"
                                 "A:x86_64\n"
                                 "S:1234\n"
                                 "I:4096\n"
                                 "T:a test package\n"
                                 "U:https://example.org\n"
                                 "L:MIT\n"
                                 "o:hello\n"
                                 "m:Nobody <nobody@example.org>\n"
                                 "t:1700000000\n"
                                 "c:0123456789abcdef0123456789abcdef01234567\n"
                                 "k:100\n"
                                 "D:so:libc.musl-x86_64.so.1 !hello-old musl>=1.2 busybox@edge "
                                 "ca-certificates-bundle><Q1Uq7pr0TahCvC7PPZn3GJKgdsMUY=\n"
                                 "p:cmd:hello=1.0-r0 so:libhello.so.1=1\n"
                                 "i:hello=1.0-r0 bash\n"
                                 "\n";

/* An index signed by the test's own key: RSA (SHA-1) and RSA256 (SHA-256). */
static void own_key(void **state)
{
	static const struct {
		const char *prefix;
		const EVP_MD *(*md)(void);
	} kinds[] = {{".SIGN.RSA.", EVP_sha1}, {".SIGN.RSA256.", EVP_sha256}};
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf pem = COPA_BUF_INIT;
	EVP_PKEY *key = apk_test_key(&pem);

	/* i == 2: SHA-256 with a PAX header before the signature entry */
	for (size_t i = 0; i < 3; i++) {
		struct copa_buf tar = COPA_BUF_INIT, body = COPA_BUF_INIT, file = COPA_BUF_INIT,
		                w = COPA_BUF_INIT;
		struct copa_apk_keys *k = copa_apk_keys_new();
		struct copa_apk_index idx = COPA_APK_INDEX_INIT;
		char entry[128];

		apk_tar_entry(&tar, "DESCRIPTION", '0', "test", 4, NULL);
		apk_tar_entry(&tar, "APKINDEX", '0', index_text, sizeof(index_text) - 1, NULL);
		apk_tar_end(&tar);
		apk_gzip(tar.p, tar.len, &body);
		snprintf(entry, sizeof(entry), "%scopa-test.rsa.pub", kinds[i % 2].prefix);
		apk_sign_segment_x(key, kinds[i % 2].md(), entry, body.p, body.len, i == 2, &file);
		copa_buf_add(&file, body.p, body.len);

		assert_ok(copa_apk_keys_add_pem(k, "copa-test.rsa.pub", pem.p, pem.len, &err));
		assert_ok(copa_apk_index_load(&idx, file.p, file.len, k, "own", &err));
		assert_int_equal(idx.n, 1);
		assert_string_equal(idx.description, "test");
		const struct copa_apk_pkg *p = idx.pkgs[0];
		assert_int_equal(p->depends.n, 5);
		assert_int_equal(p->depends.v[1].op, COPA_APKV_CONFLICT | COPA_APKV_ANY);
		assert_string_equal(p->depends.v[3].tag, "edge");
		assert_int_equal(p->depends.v[4].op, COPA_APKV_CHECKSUM);
		assert_int_equal(p->provider_priority, 100);
		assert_int_equal(p->install_if.n, 2);
		/* the header written back is the text read */
		copa_apk_pkg_write(p, false, &w);
		copa_buf_addc(&w, '\n');
		assert_string_equal(w.p, index_text);

		/* the same index under another key name: unknown key */
		copa_apk_index_release(&idx);
		copa_apk_keys_free(k);
		k = copa_apk_keys_new();
		assert_ok(copa_apk_keys_add_pem(k, "other.rsa.pub", pem.p, pem.len, &err));
		assert_int_equal(copa_apk_index_load(&idx, file.p, file.len, k, "own", &err), -1);
		assert_non_null(strstr(err.msg, "unknown key 'copa-test.rsa.pub'"));
		copa_apk_keys_free(k);
		copa_buf_release(&tar);
		copa_buf_release(&body);
		copa_buf_release(&file);
		copa_buf_release(&w);
	}
	EVP_PKEY_free(key);
	copa_buf_release(&pem);
}

static void bad_text(void **state)
{
	static const struct {
		const char *text, *why;
	} cases[] = {
	    {"P:a\nV:1\n\n", "missing 'C:'"},
	    {"C:Q1Uq7pr0TahCvC7PPZn3GJKgdsMUY=\nV:1\n", "missing 'P:'"},
	    {"C:xx\nP:a\nV:1\n", "bad checksum"},
	    {"C:Q1Uq7pr0TahCvC7PPZn3GJKgdsMUY=\nP:a\nV:1\nS:12x\n",
	     "line 4: field 'S:' is not a number"},
	    {"C:Q1Uq7pr0TahCvC7PPZn3GJKgdsMUY=\nP:a\nV:1\nD:a>\n", "bad dependency 'a>'"},
	    {"P a\n", "line 1: not a 'X:value' line"},
	    {"C:Q1Uq7pr0TahCvC7PPZn3GJKgdsMUY=\nP:a\nV:1\nD:b><~1\n", "bad dependency 'b><~1'"},
	    {"C:Q1Uq7pr0TahCvC7PPZn3GJKgdsMUY=\nP:a\nV:1\nD:b<>=1\n", "bad dependency 'b<>=1'"},
	    {"C:Q1Uq7pr0TahCvC7PPZn3GJKgdsMUY=\nP:\n", "empty package name"},
	};

	for (size_t i = 0; i < COPA_ARRAY_SIZE(cases); i++) {
		struct copa_err err = COPA_ERR_INIT;
		struct copa_apk_index idx = COPA_APK_INDEX_INIT;

		assert_int_equal(copa_apk_index_parse_text(&idx, cases[i].text,
		                                           strlen(cases[i].text), "idx", &err),
		                 -1);
		if (!strstr(err.msg, cases[i].why))
			fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].why);
		copa_apk_index_release(&idx);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(real_v316), cmocka_unit_test(real_v317_aarch64),
	    cmocka_unit_test(tampered),  cmocka_unit_test(own_key),
	    cmocka_unit_test(bad_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
