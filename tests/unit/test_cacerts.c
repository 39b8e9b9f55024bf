/* Unit tests of the ca-certificates regeneration (src/pkg/deb/cacerts.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "pkg/deb/cacerts.h"
#include "testutil.h"
#include "debutil.h"

#include <string.h>
#include <time.h>

/*
 * An image controls how many certificates and configuration lines there
 * are: 8,000 certificates and a 400,000-line ca-certificates.conf took 94 s
 * with a linear lookup per line and per certificate (25 s of CPU here, on
 * a quiet machine). Linear work takes about a second (release build). The
 * CPU time is printed, not asserted (a timed assertion failed once under
 * ASan on a loaded machine: 8.66 s against an 8 s limit); a return of the
 * quadratic lookup exceeds meson's 120 s timeout in the sanitizer build.
 */
static void many_certificates_and_conf_lines(void **state)
{
	enum { CERTS = 8000, GONE = 392000 };
	struct copa_view *v = copa_view_new();
	struct copa_layer_builder *b = copa_layer_builder_new(-1);
	struct copa_cacerts_opts o = {0};
	struct copa_cacerts_result res = {0};
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf conf = COPA_BUF_INIT;
	const struct copa_view_entry *e;
	struct timespec t0, t1;
	char path[128], text[64];
	double secs;

	(void)state;
	view_dir(v, "etc/ssl/certs");
	view_dir(v, "usr/share/ca-certificates/mozilla");
	/* One more certificate than the configuration lists: new, so trusted. */
	for (int i = 0; i <= CERTS; i++) {
		snprintf(path, sizeof(path), "usr/share/ca-certificates/mozilla/cert-%05d.crt", i);
		snprintf(text, sizeof(text), "certificate %d\n", i);
		view_file(v, path, text, 0);
	}
	copa_buf_adds(&conf, "# the image's configuration\n");
	for (int i = 0; i < CERTS; i++)
		copa_buf_addf(&conf, "mozilla/cert-%05d.crt\n", i);
	for (int i = 0; i < GONE; i++)
		copa_buf_addf(&conf, "!gone/old-%06d.crt\n", i);
	view_file(v, "etc/ca-certificates.conf", copa_buf_str(&conf), 0);
	o.view = v;
	o.builder = b;
	o.configure = true;
	o.mtime = 1700000000;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	assert_ok(copa_cacerts_update(&o, &res, &err));
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	print_message("cacerts: %d certificates, %d conf lines: %.2f s of CPU\n", CERTS + 1,
	              CERTS + GONE, secs);
	assert_int_equal(res.certificates, CERTS + 1);
	assert_int_equal(res.added, CERTS + 1);
	/* The new certificate appended, every other line kept as it was. */
	e = copa_view_get(v, "etc/ca-certificates.conf");
	assert_non_null(e);
	assert_int_equal(e->size, conf.len + strlen("mozilla/cert-08000.crt\n"));
	e = copa_view_get(v, "etc/ca-certificates.conf.dpkg-old");
	assert_non_null(e);
	assert_int_equal(e->size, conf.len);
	assert_non_null(copa_view_get(v, "etc/ssl/certs/cert-08000.pem"));
	copa_cacerts_result_release(&res);
	copa_buf_release(&conf);
	copa_layer_builder_free(b);
	copa_view_free(v);
}

/*
 * A distroless image: status.d, no maintainer script ever ran, so there is
 * the bundle and nothing else (no ca-certificates.conf, no .pem or hash
 * links, no /usr/local/share/ca-certificates). Only the bundle is rewritten,
 * with the certificates the package's postinst would have trusted.
 */
static void distroless_only_the_bundle(void **state)
{
	struct copa_view *v = copa_view_new();
	struct copa_layer_builder *b = copa_layer_builder_new(-1);
	struct copa_cacerts_opts o = {0};
	struct copa_cacerts_result res = {0};
	struct copa_err err = COPA_ERR_INIT;
	const struct copa_view_entry **kids = NULL;
	const struct copa_view_entry *e;
	size_t n = 0;

	(void)state;
	view_dir(v, "etc/ssl/certs");
	view_dir(v, "usr/local/share");
	view_dir(v, "var/lib/dpkg/status.d");
	view_file(v, "usr/share/ca-certificates/mozilla/B.crt", "second\n", 0);
	view_file(v, "usr/share/ca-certificates/mozilla/A.crt", "first\n", 0);
	view_file(v, "etc/ssl/certs/ca-certificates.crt", "old bundle\n", 0);
	o.view = v;
	o.builder = b;
	o.configure = true;
	o.mtime = 1700000000;
	assert_ok(copa_cacerts_update(&o, &res, &err));
	assert_int_equal(res.certificates, 2);
	assert_int_equal(res.added, 0);
	e = copa_view_get(v, "etc/ssl/certs/ca-certificates.crt");
	assert_non_null(e);
	assert_int_equal(e->size, strlen("first\nsecond\n"));
	assert_non_null(e->content);
	assert_memory_equal(e->content, "first\nsecond\n", e->size);
	assert_null(copa_view_get(v, "etc/ca-certificates.conf"));
	assert_null(copa_view_get(v, "usr/local/share/ca-certificates"));
	assert_int_equal(copa_view_children(v, "etc/ssl/certs", &kids, &n), 0);
	assert_int_equal(n, 1); /* the bundle alone */
	free(kids);
	copa_cacerts_result_release(&res);
	copa_layer_builder_free(b);
	copa_view_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(many_certificates_and_conf_lines),
	    cmocka_unit_test(distroless_only_the_bundle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
