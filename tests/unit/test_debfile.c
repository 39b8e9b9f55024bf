/* Unit tests of .deb reading (src/pkg/deb/debfile.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "pkg/deb/debfile.h"
#include "testutil.h"
#include "debutil.h"

#include "util/fs.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static const struct tentry control[] = {
    {"./", 'd', NULL, 0},
    {"./control", 'f', "Package: t\nVersion: 1\nArchitecture: all\nMaintainer: x\nDescription: x\n",
     0},
    {"./postinst", 'f', "#!/bin/sh\nexit 0\n", 0755},
    {"./conffiles", 'f', "/etc/t.conf\n", 0},
    {NULL, 0, NULL, 0},
};

static const struct tentry data[] = {
    {"./", 'd', NULL, 0},
    {"./etc/", 'd', NULL, 0},
    {"./etc/t.conf", 'f', "x=1\n", 0},
    {"./usr/", 'd', NULL, 0},
    {"./usr/bin/", 'd', NULL, 0},
    {"./usr/bin/t", 'f', "binary", 04755},
    {"./usr/bin/t2", 'h', "./usr/bin/t", 0},
    {"./usr/bin/tl", 'l', "t", 0},
    {NULL, 0, NULL, 0},
};

struct seen {
	int n;
	char paths[16][64];
	uint8_t types[16];
	char content[64];
};

static int collect(void *ctx, const struct copa_debfile_entry *e, struct copa_debfile_reader *r,
                   struct copa_err *err)
{
	struct seen *s = ctx;

	snprintf(s->paths[s->n], sizeof(s->paths[0]), "%s", e->path);
	s->types[s->n] = e->type;
	if (!strcmp(e->path, "usr/bin/t")) {
		ssize_t n = copa_debfile_read(r, s->content, sizeof(s->content) - 1, err);

		assert_true(n == 6);
		s->content[n] = '\0';
		assert_int_equal(e->mode, 04755);
		assert_string_equal(e->uname, "root");
	}
	if (e->type == COPA_FT_HARDLINK)
		assert_string_equal(e->link, "usr/bin/t");
	s->n++;
	return 0;
}

static void reads_a_package(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf deb = COPA_BUF_INIT;
	struct copa_debfile *d;
	struct seen s = {0};
	char *path;

	deb_build(&deb, control, data);
	path = write_temp(&deb, ".deb");
	assert_ok(copa_debfile_open(path, NULL, &d, &err));
	assert_string_equal(d->data_member, "data.tar.gz");
	assert_int_equal(d->n_ctl, 3);
	assert_string_equal(d->ctl[0].name, "conffiles"); /* sorted */
	assert_int_equal(copa_debfile_ctl(d, "postinst")->mode, 0755);
	assert_null(copa_debfile_ctl(d, "preinst"));
	assert_ok(copa_debfile_data_foreach(d, collect, &s, &err));
	assert_int_equal(s.n, 8);
	assert_string_equal(s.paths[0], "");
	assert_string_equal(s.paths[2], "etc/t.conf");
	assert_int_equal(s.types[6], COPA_FT_HARDLINK);
	assert_int_equal(s.types[7], COPA_FT_SYMLINK);
	assert_string_equal(s.content, "binary");
	/* A second pass re-reads the file. */
	memset(&s, 0, sizeof(s));
	assert_ok(copa_debfile_data_foreach(d, collect, &s, &err));
	assert_int_equal(s.n, 8);
	copa_debfile_free(d);
	unlink(path);
	free(path);
	copa_buf_release(&deb);
}

static int nop(void *ctx, const struct copa_debfile_entry *e, struct copa_debfile_reader *r,
               struct copa_err *err)
{
	return 0;
}

struct hostile {
	const char *name;
	struct tentry e[4];
	const char *why;
};

static void hostile_entries(void **state)
{
	static const struct hostile cases[] = {
	    {"absolute",
	     {{"./", 'd', NULL, 0}, {"/etc/passwd", 'f', "x", 0}, {NULL, 0, NULL, 0}},
	     "absolute path"},
	    {"dotdot", {{"./a/../../x", 'f', "x", 0}, {NULL, 0, NULL, 0}}, "'..'"},
	    {"wh", {{"./usr/.wh.bin", 'f', "", 0}, {NULL, 0, NULL, 0}}, "whiteouts"},
	    {"whdir",
	     {{"./.wh.x/", 'd', NULL, 0}, {"./.wh.x/y", 'f', "", 0}, {NULL, 0, NULL, 0}},
	     "whiteouts"},
	    {"ctrl", {{"./a\nb", 'f', "x", 0}, {NULL, 0, NULL, 0}}, "control character"},
	    {"own-link",
	     {{"./l", 'l', "/", 0}, {"./l/etc/passwd", 'f', "x", 0}, {NULL, 0, NULL, 0}},
	     "symlink 'l'"},
	    {"hardlink", {{"./x", 'h', "./etc/shadow", 0}, {NULL, 0, NULL, 0}}, "hard link"},
	    {"hardlink-dir",
	     {{"./d/", 'd', NULL, 0}, {"./x", 'h', "./d", 0}, {NULL, 0, NULL, 0}},
	     "hard link"},
	    {"dup", {{"./a", 'f', "1", 0}, {"./a", 'f', "2", 0}, {NULL, 0, NULL, 0}}, "twice"},
	    {"root-file", {{".", 'f', "x", 0}, {NULL, 0, NULL, 0}}, "root entry"},
	};

	for (size_t i = 0; i < COPA_ARRAY_SIZE(cases); i++) {
		struct copa_err err = COPA_ERR_INIT;
		struct copa_buf deb = COPA_BUF_INIT;
		struct copa_debfile *d;

		deb_build(&deb, control, cases[i].e);
		assert_ok(copa_debfile_open_mem(deb.p, deb.len, "evil.deb", NULL, &d, &err));
		if (copa_debfile_data_foreach(d, nop, NULL, &err) == 0)
			fail_msg("case %s accepted", cases[i].name);
		if (!strstr(err.msg, cases[i].why) || !strstr(err.msg, "'evil.deb'"))
			fail_msg("case %s: %s", cases[i].name, err.msg);
		copa_debfile_free(d);
		copa_buf_release(&deb);
	}
}

static void container_rules(void **state)
{
	struct copa_buf c = COPA_BUF_INIT, dt = COPA_BUF_INIT, plain = COPA_BUF_INIT;
	struct {
		const char *name;
		const char *m[4];
		const char *why;
	} cases[] = {
	    {"order", {"control.tar.gz", "debian-binary", "data.tar.gz", NULL}, "first member"},
	    {"version", {"debian-binary:3.0\n", "control.tar.gz", "data.tar.gz", NULL}, "2.x"},
	    {"junkversion", {"debian-binary:2.0x\n", "control.tar.gz", "data.tar.gz", NULL}, "2.x"},
	    {"mismatch", {"debian-binary", "control.tar.xz", "data.tar.gz", NULL}, "compressed"},
	    {"plain-as-gz",
	     {"debian-binary", "control.tar.gz", "data.tar.gz=plain", NULL},
	     "compressed"},
	    {"nodata", {"debian-binary", "control.tar.gz", NULL, NULL}, "no data.tar"},
	    {"extra", {"debian-binary", "control.tar.gz", "other", NULL}, "expected a data.tar"},
	    {"underscore-ok", {"debian-binary", "_sig", "control.tar.gz", "data.tar.gz"}, NULL},
	};

	tar_build(&c, control, 1);
	tar_build(&dt, data, 1);
	tar_build(&plain, data, 0);
	for (size_t i = 0; i < COPA_ARRAY_SIZE(cases); i++) {
		struct copa_err err = COPA_ERR_INIT;
		struct copa_buf deb = COPA_BUF_INIT;
		struct copa_debfile *d = NULL;
		int r;

		copa_buf_adds(&deb, "!<arch>\n");
		for (int k = 0; k < 4 && cases[i].m[k]; k++) {
			const char *m = cases[i].m[k];

			if (!strncmp(m, "debian-binary", 13))
				ar_member(&deb, "debian-binary", m[13] == ':' ? m + 14 : "2.0\n",
				          m[13] == ':' ? strlen(m + 14) : 4);
			else if (!strncmp(m, "control", 7))
				ar_member(&deb, m, c.p, c.len);
			else if (!strcmp(m, "data.tar.gz=plain"))
				ar_member(&deb, "data.tar.gz", plain.p, plain.len);
			else
				ar_member(&deb, m, dt.p, dt.len);
		}
		r = copa_debfile_open_mem(deb.p, deb.len, "c.deb", NULL, &d, &err);
		if (r == 0)
			r = copa_debfile_data_foreach(d, nop, NULL, &err);
		if (!cases[i].why) {
			if (r)
				fail_msg("%s: %s", cases[i].name, err.msg);
		} else if (r == 0 || !strstr(err.msg, cases[i].why)) {
			fail_msg("%s: %s", cases[i].name, r ? err.msg : "accepted");
		}
		copa_debfile_free(d);
		copa_buf_release(&deb);
	}
	copa_buf_release(&c);
	copa_buf_release(&dt);
	copa_buf_release(&plain);
}

/* An ar member header as written by ar_member, with its size field given as text. */
static void ar_raw_member(struct copa_buf *out, const char *name, const char *size_field,
                          const void *content, size_t n)
{
	char hdr[96];

	snprintf(hdr, sizeof(hdr), "%-16s%-12s%-6s%-6s%-8s%-10s`\n", name, "0", "0", "0", "100644",
	         size_field);
	copa_buf_add(out, hdr, 60);
	copa_buf_add(out, content, n);
}

/* The ar headers are read as dpkg-deb reads them (dpkg-deb --fsys-tarfile rejects each). */
static void ar_headers_like_dpkg_deb(void **state)
{
	struct copa_buf c = COPA_BUF_INIT, dt = COPA_BUF_INIT;
	struct {
		const char *name, *member, *size, *why;
	} cases[] = {
	    {"data-claims-2GiB", "data.tar.gz", "2147483648", "'data.tar.gz' is truncated"},
	    {"data-100-short", "data.tar.gz", "+100", "'data.tar.gz' is truncated"},
	    {"control-claims-2GiB", "control.tar.gz", "2147483648",
	     "'control.tar.gz' is truncated"},
	    {"size-junk", "data.tar.gz", "=x", "invalid size"},
	    {"size-negative", "data.tar.gz", "-1", "invalid size"},
	    {"exact", "data.tar.gz", "=", NULL},
	};

	(void)state;
	tar_build(&c, control, 1);
	tar_build(&dt, data, 1);
	for (size_t i = 0; i < COPA_ARRAY_SIZE(cases); i++) {
		struct copa_err err = COPA_ERR_INIT;
		struct copa_buf deb = COPA_BUF_INIT;
		struct copa_debfile *d = NULL;
		bool is_data = !strcmp(cases[i].member, "data.tar.gz");
		const struct copa_buf *m = is_data ? &dt : &c;
		char size[32];
		char *path;
		int r;

		if (cases[i].size[0] == '=')
			snprintf(size, sizeof(size), "%zu%s", m->len, cases[i].size + 1);
		else if (cases[i].size[0] == '+')
			snprintf(size, sizeof(size), "%zu", m->len + 100);
		else
			snprintf(size, sizeof(size), "%s", cases[i].size);
		copa_buf_adds(&deb, "!<arch>\n");
		ar_member(&deb, "debian-binary", "2.0\n", 4);
		if (is_data)
			ar_member(&deb, "control.tar.gz", c.p, c.len);
		ar_raw_member(&deb, cases[i].member, size, m->p, m->len);
		/* From memory and from a file alike. */
		path = write_temp(&deb, ".deb");
		for (int from_file = 0; from_file < 2; from_file++) {
			r = from_file
			        ? copa_debfile_open(path, NULL, &d, &err)
			        : copa_debfile_open_mem(deb.p, deb.len, "c.deb", NULL, &d, &err);
			if (r == 0)
				r = copa_debfile_data_foreach(d, nop, NULL, &err);
			if (!cases[i].why) {
				if (r)
					fail_msg("%s: %s", cases[i].name, err.msg);
			} else if (r == 0 || !strstr(err.msg, cases[i].why)) {
				fail_msg("%s: %s", cases[i].name, r ? err.msg : "accepted");
			}
			copa_debfile_free(d);
			d = NULL;
		}
		unlink(path);
		free(path);
		copa_buf_release(&deb);
	}
	copa_buf_release(&c);
	copa_buf_release(&dt);
}

static void caps(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf deb = COPA_BUF_INIT;
	struct copa_debfile *d;
	struct copa_debfile_limits lim = {0};

	deb_build(&deb, control, data);
	lim.max_entries = 3;
	assert_ok(copa_debfile_open_mem(deb.p, deb.len, "big.deb", &lim, &d, &err));
	assert_int_equal(copa_debfile_data_foreach(d, nop, NULL, &err), -1);
	assert_int_equal(err.code, COPA_E_LIMIT);
	copa_debfile_free(d);
	lim.max_entries = 0;
	lim.max_path = 8;
	assert_ok(copa_debfile_open_mem(deb.p, deb.len, "big.deb", &lim, &d, &err));
	assert_int_equal(copa_debfile_data_foreach(d, nop, NULL, &err), -1);
	assert_int_equal(err.code, COPA_E_LIMIT);
	copa_debfile_free(d);
	lim.max_path = 0;
	lim.max_control = 10;
	assert_int_equal(copa_debfile_open_mem(deb.p, deb.len, "big.deb", &lim, &d, &err), -1);
	assert_int_equal(err.code, COPA_E_LIMIT);
	lim.max_control = 0;
	lim.max_data = 3;
	assert_ok(copa_debfile_open_mem(deb.p, deb.len, "big.deb", &lim, &d, &err));
	assert_int_equal(copa_debfile_data_foreach(d, nop, NULL, &err), -1);
	assert_int_equal(err.code, COPA_E_LIMIT);
	copa_debfile_free(d);
	assert_int_equal(copa_debfile_open("/nonexistent.deb", NULL, &d, &err), -1);
	assert_int_equal(err.code, COPA_E_IO);
	assert_int_equal(copa_debfile_open_mem("!<arch>\n", 8, "empty.deb", NULL, &d, &err), -1);
	assert_non_null(strstr(err.msg, "no debian-binary"));
	copa_buf_release(&deb);
}

/* Extracts the data member to a temporary file; returns its malloc'd path. */
static char *extract_temp(struct copa_debfile *d, int expect, struct copa_err *err)
{
	struct copa_buf placeholder = COPA_BUF_INIT;
	char *path;
	int fd;

	copa_buf_adds(&placeholder, "x"); /* write_temp wants content; truncated below */
	path = write_temp(&placeholder, ".tar");
	copa_buf_release(&placeholder);
	fd = open(path, O_WRONLY | O_TRUNC);

	assert_true(fd >= 0);
	assert_int_equal(copa_debfile_extract_data(d, fd, err), expect);
	close(fd);
	return path;
}

static void data_tar_ahead(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf deb = COPA_BUF_INIT, plain = COPA_BUF_INIT, got = COPA_BUF_INIT;
	struct copa_debfile *d;
	struct seen s = {0};
	char *path;
	int fd;

	/* The extracted file is the uncompressed data.tar, byte for byte. */
	deb_build(&deb, control, data);
	tar_build(&plain, data, 0);
	assert_ok(copa_debfile_open_mem(deb.p, deb.len, "t.deb", NULL, &d, &err));
	path = extract_temp(d, 0, &err);
	fd = open(path, O_RDONLY);
	assert_ok(copa_fs_read_fd(fd, 1u << 20, &got, &err));
	close(fd);
	assert_int_equal(got.len, plain.len);
	assert_memory_equal(got.p, plain.p, plain.len);
	/* Read through it, the package gives the same entries and content. */
	copa_debfile_use_data_tar(d, path);
	assert_ok(copa_debfile_data_foreach(d, collect, &s, &err));
	assert_int_equal(s.n, 8);
	assert_string_equal(s.paths[2], "etc/t.conf");
	assert_int_equal(s.types[6], COPA_FT_HARDLINK);
	assert_string_equal(s.content, "binary");
	copa_debfile_free(d);
	unlink(path);
	free(path);

	/* The entry checks hold on that path too. */
	{
		static const struct tentry evil[] = {
		    {"./a/../../x", 'f', "x", 0},
		    {NULL, 0, NULL, 0},
		};

		deb_build(&deb, control, evil);
		assert_ok(copa_debfile_open_mem(deb.p, deb.len, "evil.deb", NULL, &d, &err));
		path = extract_temp(d, 0, &err);
		copa_debfile_use_data_tar(d, path);
		assert_int_equal(copa_debfile_data_foreach(d, nop, NULL, &err), -1);
		assert_non_null(strstr(err.msg, "'..'"));
		copa_debfile_free(d);
		unlink(path);
		free(path);
	}

	/* A damaged data member fails with the package's name. */
	{
		struct copa_buf bad = COPA_BUF_INIT;

		deb_build(&deb, control, data);
		copa_buf_add(&bad, deb.p, deb.len - 40);
		copa_buf_adds(&bad, "garbage garbage garbage garbage garbage!");
		assert_ok(copa_debfile_open_mem(bad.p, bad.len, "broken.deb", NULL, &d, &err));
		path = extract_temp(d, -1, &err);
		assert_non_null(strstr(err.msg, "'broken.deb'"));
		copa_debfile_free(d);
		unlink(path);
		free(path);
		copa_buf_release(&bad);
	}
	copa_buf_release(&deb);
	copa_buf_release(&plain);
	copa_buf_release(&got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(reads_a_package),          cmocka_unit_test(hostile_entries),
	    cmocka_unit_test(container_rules),          cmocka_unit_test(caps),
	    cmocka_unit_test(ar_headers_like_dpkg_deb), cmocka_unit_test(data_tar_ahead),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
