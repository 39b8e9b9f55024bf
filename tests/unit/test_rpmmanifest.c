/*
 * test_rpmmanifest.c: the distroless rpm manifests: byte-for-byte round trips
 * of the real Mariner 2 files, regenerating both from the real database they
 * were derived from, and one strict error per malformed line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "pkg/rpm/rpmmanifest.h"
#include "rpmtest.h"

static void read_data(const char *rel, struct copa_buf *b)
{
	_cleanup_free_ char *p = rt_data(rel);
	struct copa_err err = COPA_ERR_INIT;

	if (copa_fs_read_file(AT_FDCWD, p, 1u << 24, b, &err) < 0)
		fail_msg("%s", err.msg);
}

static void mariner_round_trip(void **state)
{
	struct copa_buf in = COPA_BUF_INIT, in1 = COPA_BUF_INIT, out = COPA_BUF_INIT;
	struct copa_rpmmf m = {0};
	struct copa_rpmmf1 m1 = {0};
	struct copa_err err = COPA_ERR_INIT;

	read_data("rpmmanifest/mariner-2.0.container-manifest-2", &in);
	read_data("rpmmanifest/mariner-2.0.container-manifest-1", &in1);
	if (copa_rpmmf_parse(in.p, in.len, "container-manifest-2", &m, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(m.n, 129);
	assert_string_equal(m.v[0].name, "mariner-release");
	assert_string_equal(m.v[0].version, "2.0");
	assert_string_equal(m.v[0].release, "4.cm2");
	assert_string_equal(m.v[0].epoch_field, "(none)");
	assert_int_equal(m.v[0].epoch, 0);
	assert_int_equal(copa_rpmmf_write(&m, &out, &err), 0);
	assert_int_equal(out.len, in.len);
	assert_memory_equal(out.p, in.p, in.len);

	if (copa_rpmmf1_parse(in1.p, in1.len, "container-manifest-1", &m1, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(m1.n, 129);
	assert_int_equal(copa_rpmmf_check_pair(&m, &m1, &err), 0);
	copa_buf_reset(&out);
	assert_int_equal(copa_rpmmf_write1(&m, &out, &err), 0);
	assert_int_equal(out.len, in1.len);
	assert_memory_equal(out.p, in1.p, in1.len);

	/* an epoch: ca-certificates-base has epoch 1 in field 9 */
	{
		bool seen = false;

		for (size_t i = 0; i < m.n; i++)
			if (strcmp(m.v[i].name, "ca-certificates-base") == 0)
				seen = m.v[i].epoch == 1;
		assert_true(seen);
	}
	/* The two lists disagree once one package is dropped from -1. */
	free(m1.v[5].nvra);
	m1.v[5].nvra = copa_xstrdup("zzz-1-1.x86_64");
	assert_int_equal(copa_rpmmf_check_pair(&m, &m1, &err), -1);
	assert_non_null(strstr(err.msg, "disagree"));
	copa_rpmmf_release(&m);
	copa_rpmmf1_release(&m1);
	copa_buf_release(&in);
	copa_buf_release(&in1);
	copa_buf_release(&out);
}

/* The Syft sample: an epoch in field 6 and field 9, a trailing blank line. */
static void syft_sample(void **state)
{
	struct copa_buf in = COPA_BUF_INIT, out = COPA_BUF_INIT;
	struct copa_rpmmf m = {0};
	struct copa_err err = COPA_ERR_INIT;

	read_data("rpmmanifest/container-manifest-2.syft-sample", &in);
	if (copa_rpmmf_parse(in.p, in.len, "sample", &m, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(m.n, 5);
	assert_string_equal(m.v[4].name, "vim");
	assert_string_equal(m.v[4].epoch_field, "2");
	assert_int_equal(m.v[4].epoch, 2);
	assert_int_equal(copa_rpmmf_write(&m, &out, &err), 0);
	/* Identical but for the blank line, which is never written. */
	assert_true(in.len == out.len + 1 && in.p[in.len - 1] == '\n');
	assert_memory_equal(out.p, in.p, out.len);
	copa_rpmmf_release(&m);
	copa_buf_release(&in);
	copa_buf_release(&out);
}

/* Both files regenerated from the database they were derived from, byte for byte. */
static void from_database(void **state)
{
	_cleanup_free_ char *src = rt_data("rpmdb/mariner-2.0-sqlite/rpmdb.sqlite");
	_cleanup_free_ char *img = rt_mkdtemp();
	struct copa_buf want = COPA_BUF_INIT, want1 = COPA_BUF_INIT, out = COPA_BUF_INIT;
	struct copa_rpmdb db = {0};
	struct copa_rpmmf m = {0};
	struct copa_err err = COPA_ERR_INIT;
	int fd;

	read_data("rpmmanifest/mariner-2.0.container-manifest-2", &want);
	read_data("rpmmanifest/mariner-2.0.container-manifest-1", &want1);
	rt_copy(src, img, "var/lib/rpm/rpmdb.sqlite");
	fd = open(img, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (copa_rpmdb_read(fd, NULL, &db, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	close(fd);
	for (size_t i = 0; i < db.n; i++) {
		if (db.v[i].pubkey)
			continue;
		m.v = copa_xgrow(m.v, &m.cap, m.n + 1, sizeof(*m.v));
		if (copa_rpmmf_entry_from_pkg(&db.v[i], &m.v[m.n], &err) < 0)
			fail_msg("%s", err.msg);
		m.n++;
	}
	assert_int_equal(copa_rpmmf_write(&m, &out, &err), 0);
	assert_string_equal(copa_buf_str(&out), copa_buf_str(&want));
	copa_buf_reset(&out);
	assert_int_equal(copa_rpmmf_write1(&m, &out, &err), 0);
	assert_string_equal(copa_buf_str(&out), copa_buf_str(&want1));

	/* A package without a source rpm (gpg-pubkey) cannot be listed. */
	{
		struct copa_rpm_pkg p = db.v[0];
		struct copa_rpmmf_entry e;

		p.sourcerpm = NULL;
		assert_int_equal(copa_rpmmf_entry_from_pkg(&p, &e, &err), -1);
	}
	copa_rpmmf_release(&m);
	copa_rpmdb_release(&db);
	copa_buf_release(&want);
	copa_buf_release(&want1);
	copa_buf_release(&out);
	rt_rm(img);
}

#define GOOD                                                                                       \
	"glibc\t2.35-2.cm2\t1653816591\t1653628955\tMicrosoft "                                    \
	"Corporation\t(none)\t10855265\tx86_64\t0\tglibc-2.35-2.cm2.src.rpm\n"

static void bad_lines(void **state)
{
	static const struct {
		const char *line;
		const char *want;
	} cases[] = {
	    {"glibc\t2.35-2.cm2\t1\t2\tV\t(none)\t3\tx86_64\t0\n",
	     "expected 10 tab-separated fields, found 9"},
	    {"glibc\t2.35-2.cm2\t1\t2\tV\t(none)\t3\tx86_64\t0\ts-1-1.src.rpm\tx\n",
	     "found more than 10"},
	    {"glibc\t2.35\t1\t2\tV\t(none)\t3\tx86_64\t0\tglibc-2.35-2.src.rpm\n",
	     "field 2) has no '-'"},
	    {"glibc\t2.35-2-3\t1\t2\tV\t(none)\t3\tx86_64\t0\tglibc-2.35-2.src.rpm\n",
	     "exactly one '-'"},
	    {"glibc\t2.35-2\t1\t2\tV\t(none)\t3\tx86_64\tx\tglibc-2.35-2.src.rpm\n",
	     "epoch (field 9) is not a number"},
	    {"glibc\t2.35-2\t1\t2\tV\t(none)\t3\tx86_64\t-1\tglibc-2.35-2.src.rpm\n",
	     "epoch (field 9)"},
	    {"glibc\t2.35-2\t1\t2\tV\t(none)\t3\tx86_64\t0\t(none)\n", "source rpm (field 10)"},
	    {"glibc\t2.35-2\t1\t2\tV\t(none)\t3\tx86_64\t0\tglibc.src.rpm\n",
	     "source rpm (field 10)"},
	    {"glibc\t2.35-2\t1\t2\tV\t(none)\t3\tx86_64\t0\tglibc-2.35-2.src\n",
	     "does not end in '.rpm'"},
	    {"\t2.35-2\t1\t2\tV\t(none)\t3\tx86_64\t0\tglibc-2.35-2.src.rpm\n",
	     "name (field 1) is empty"},
	    {"gl ibc\t2.35-2\t1\t2\tV\t(none)\t3\tx86_64\t0\tglibc-2.35-2.src.rpm\n",
	     "name (field 1)"},
	    {"glibc\t2.35-2\tnow\t2\tV\t(none)\t3\tx86_64\t0\tglibc-2.35-2.src.rpm\n",
	     "install time (field 3)"},
	    {"glibc\t2.35-2\t1\t2\tV\t(none)\t\t x86_64\t0\tglibc-2.35-2.src.rpm\n",
	     "size (field 7)"},
	    {"glibc\t2.35-2\t1\t2\tV\t3\t3\tx86_64\t2\tglibc-2.35-2.src.rpm\n",
	     "differs from field 9"},
	    {"glibc\t2.35-2\t1\t2\tV\t(none)\t3\tx86_64\t0\tglibc-2.35-2.src.rpm\r\n",
	     "source rpm (field 10)"},
	    {"glibc\t2.3$5-2\t1\t2\tV\t(none)\t3\tx86_64\t0\tglibc-2.35-2.src.rpm\n",
	     "version-release (field 2)"},
	    {"glibc\t-2\t1\t2\tV\t(none)\t3\tx86_64\t0\tglibc-2.35-2.src.rpm\n", "empty version"},
	};

	for (size_t i = 0; i < COPA_ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *text = copa_xasprintf(GOOD "%s", cases[i].line);
		struct copa_rpmmf m = {0};
		struct copa_err err = COPA_ERR_INIT;

		if (copa_rpmmf_parse(text, strlen(text), "cm2", &m, &err) != -1)
			fail_msg("case %zu accepted: %s", i, cases[i].line);
		if (!strstr(err.msg, "'cm2' line 2: ") || !strstr(err.msg, cases[i].want))
			fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].want);
		copa_rpmmf_release(&m);
	}
	/* -1: NEVRA lines */
	{
		struct copa_rpmmf1 m1 = {0};
		struct copa_err err = COPA_ERR_INIT;
		const char *t = "glibc-2.35-2.cm2.x86_64\nglibc.x86_64\n";

		assert_int_equal(copa_rpmmf1_parse(t, strlen(t), "cm1", &m1, &err), -1);
		assert_non_null(strstr(err.msg, "'cm1' line 2: 'glibc.x86_64' is not"));
		copa_rpmmf1_release(&m1);
	}
	/* NUL bytes and the size cap */
	{
		struct copa_rpmmf m = {0};
		struct copa_err err = COPA_ERR_INIT;

		assert_int_equal(copa_rpmmf_parse(GOOD "\0x", sizeof(GOOD) + 1, "f", &m, &err), -1);
		assert_non_null(strstr(err.msg, "NUL"));
		assert_int_equal(copa_rpmmf_parse("", COPA_RPMMF_FILE_MAX + 1, "f", &m, &err), -1);
		assert_int_equal(err.code, COPA_E_LIMIT);
	}
}

/* The writer refuses what a scanner could not read back. */
static void writer_refuses(void **state)
{
	struct copa_rpmmf m = {0};
	struct copa_buf out = COPA_BUF_INIT;
	struct copa_err err = COPA_ERR_INIT;

	assert_int_equal(copa_rpmmf_parse(GOOD, strlen(GOOD), "f", &m, &err), 0);
	free(m.v[0].vendor);
	m.v[0].vendor = copa_xstrdup("Micro\tsoft");
	assert_int_equal(copa_rpmmf_write(&m, &out, &err), -1);
	assert_non_null(strstr(err.msg, "'glibc'"));
	assert_non_null(strstr(err.msg, "vendor (field 5)"));
	free(m.v[0].vendor);
	m.v[0].vendor = copa_xstrdup("");
	free(m.v[0].release);
	m.v[0].release = copa_xstrdup("2-3");
	assert_int_equal(copa_rpmmf_write1(&m, &out, &err), -1);
	assert_int_equal(out.len, 0);
	copa_rpmmf_release(&m);
	copa_buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(mariner_round_trip), cmocka_unit_test(syft_sample),
	    cmocka_unit_test(from_database),      cmocka_unit_test(bad_lines),
	    cmocka_unit_test(writer_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
