/* Unit tests: the Debian planner on small synthetic databases and indexes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "pkg/deb/plan.h"
#include "pkg/version.h"
#include "testutil.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/mem.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char *tmpdir_path;

static int setup(void **state)
{
	struct copa_err err = COPA_ERR_INIT;

	tmpdir_path = copa_fs_mkdtemp(NULL, "copa-test-plan-", &err);
	return tmpdir_path ? 0 : -1;
}

static int teardown(void **state)
{
	struct copa_err err = COPA_ERR_INIT;

	copa_fs_rm_rf(AT_FDCWD, tmpdir_path, &err);
	free(tmpdir_path);
	return 0;
}

/* A Packages paragraph with the repository fields filled in. */
static void pkg(struct copa_buf *b, const char *name, const char *version, const char *arch,
                const char *extra)
{
	copa_buf_addf(b,
	              "Package: %s\nVersion: %s\nArchitecture: %s\n%s"
	              "Filename: pool/main/%c/%s/%s_%s_%s.deb\nSize: %zu\n"
	              "SHA256: %064zx\nDescription: test\n\n",
	              name, version, arch, extra ? extra : "", name[0], name, name, version, arch,
	              strlen(name) * 100, strlen(name) + strlen(version));
}

/* A status paragraph. */
static void inst(struct copa_buf *b, const char *name, const char *version, const char *arch,
                 const char *status, const char *extra)
{
	copa_buf_addf(b, "Package: %s\n", name);
	if (status)
		copa_buf_addf(b, "Status: %s\n", status);
	copa_buf_addf(b, "Architecture: %s\nVersion: %s\n%sDescription: x\n\n", arch, version,
	              extra ? extra : "");
}

struct fixture {
	struct copa_deb_status st;
	struct copa_deb_indexes ix;
	struct copa_deb_plan plan;
};

static void add_index(struct fixture *f, const char *repo, const struct copa_buf *text,
                      bool not_automatic)
{
	struct copa_err err = COPA_ERR_INIT;
	char *path = copa_xasprintf("%s/idx%zu", tmpdir_path, f->ix.n);
	struct copa_deb_index *x;

	if (copa_fs_write_atomic(AT_FDCWD, path, text->p ? text->p : "", text->len, 0644, &err) < 0)
		fail_msg("%s", err.msg);
	f->ix.v = copa_xgrow(f->ix.v, &f->ix.cap, f->ix.n + 1, sizeof(*f->ix.v));
	x = &f->ix.v[f->ix.n++];
	memset(x, 0, sizeof(*x));
	x->repo = copa_xstrdup(repo);
	x->label = copa_xasprintf("%s amd64", repo);
	x->base_uri = copa_xstrdup("http://repo.test/debian");
	x->component = copa_xstrdup("main");
	x->arch = copa_xstrdup("amd64");
	x->path = path;
	copa_sha256_digest(text->p ? text->p : "", text->len, x->digest);
	x->not_automatic = not_automatic;
	x->but_automatic_upgrades = not_automatic;
}

static void set_status(struct fixture *f, struct copa_buf *status, const char *native,
                       const char *foreign)
{
	f->st.text = copa_buf_detach(status, &f->st.len);
	f->st.native_arch = copa_xstrdup(native);
	f->st.foreign_archs = copa_xcalloc(2, sizeof(char *));
	if (foreign)
		f->st.foreign_archs[0] = copa_xstrdup(foreign);
}

static void release_fixture(struct fixture *f)
{
	copa_deb_plan_release(&f->plan);
	copa_deb_indexes_release(&f->ix);
	copa_deb_status_release(&f->st);
}

static int run_plan(struct fixture *f, const struct copa_deb_request *rq, size_t n, bool no_new,
                    struct copa_err *err)
{
	struct copa_deb_plan_opts o = {.requests = rq, .n_requests = n, .no_new_packages = no_new};

	return copa_deb_plan(&f->st, &f->ix, &o, &f->plan, err);
}

static const struct copa_deb_pkg *find_pkg(const struct copa_deb_plan *p, const char *name,
                                           const char *arch)
{
	for (size_t i = 0; i < p->n_pkgs; i++)
		if (strcmp(p->pkgs[i].name, name) == 0 &&
		    (!arch || strcmp(p->pkgs[i].arch, arch) == 0))
			return &p->pkgs[i];
	return NULL;
}

static const struct copa_deb_result *find_res(const struct copa_deb_plan *p, const char *name,
                                              const char *arch)
{
	for (size_t i = 0; i < p->n_results; i++)
		if (strcmp(p->results[i].name, name) == 0 &&
		    (!arch || (p->results[i].arch && strcmp(p->results[i].arch, arch) == 0)))
			return &p->results[i];
	return NULL;
}

/* The common image: openssl + libssl3 at 3.0.11-1~deb12u1, libc6, a held package. */
static void base_image(struct fixture *f, const char *foreign)
{
	struct copa_buf s = COPA_BUF_INIT, main = COPA_BUF_INIT, sec = COPA_BUF_INIT;

	inst(&s, "libc6", "2.36-9+deb12u1", "amd64", "install ok installed", "Multi-Arch: same\n");
	inst(&s, "libssl3", "3.0.11-1~deb12u1", "amd64", "install ok installed",
	     "Multi-Arch: same\nDepends: libc6 (>= 2.34)\n");
	inst(&s, "openssl", "3.0.11-1~deb12u1", "amd64", "install ok installed",
	     "Depends: libc6 (>= 2.34), libssl3 (>= 3.0.9)\n");
	inst(&s, "tzdata", "2024a-0+deb12u1", "all", "hold ok installed", NULL);
	inst(&s, "libsystemd0", "252.22-1~deb12u1", "amd64", "install ok installed", NULL);
	inst(&s, "removed", "1.0", "amd64", "deinstall ok config-files", NULL);
	inst(&s, "localpkg", "1.0", "amd64", "install ok installed", NULL);
	set_status(f, &s, "amd64", foreign);

	pkg(&main, "libc6", "2.36-9+deb12u1", "amd64", "Multi-Arch: same\n");
	pkg(&main, "libssl3", "3.0.11-1~deb12u1", "amd64", "Multi-Arch: same\n");
	pkg(&main, "openssl", "3.0.11-1~deb12u1", "amd64", NULL);
	pkg(&main, "tzdata", "2024a-0+deb12u1", "all", NULL);
	pkg(&main, "libsystemd0", "252.22-1~deb12u1", "amd64", NULL);
	add_index(f, "http://repo.test/debian bookworm/main", &main, false);

	pkg(&sec, "libc6", "2.36-9+deb12u4", "amd64", "Multi-Arch: same\n");
	pkg(&sec, "libssl3", "3.0.13-1~deb12u1", "amd64",
	    "Multi-Arch: same\nDepends: libc6 (>= 2.36-9+deb12u3), libzstd1\nRecommends: "
	    "ca-certificates\n");
	pkg(&sec, "openssl", "3.0.13-1~deb12u1", "amd64",
	    "Depends: libc6 (>= 2.34), libssl3 (>= 3.0.13)\n");
	pkg(&sec, "libzstd1", "1.5.4+dfsg2-5", "amd64", "Multi-Arch: same\n");
	pkg(&sec, "ca-certificates", "20230311", "all", NULL);
	pkg(&sec, "tzdata", "2024b-0+deb12u1", "all", NULL);
	/* The libelogind trap: provides, replaces and conflicts with libsystemd0, newer. */
	pkg(&sec, "libelogind0", "255.5-1", "amd64",
	    "Provides: libsystemd0 (= 255.5)\nReplaces: libsystemd0\nConflicts: libsystemd0\n");
	pkg(&sec, "libsystemd0", "252.30-1~deb12u2", "amd64", NULL);
	add_index(f, "http://repo.test/debian-security bookworm-security/main", &sec, false);
	copa_buf_release(&main);
	copa_buf_release(&sec);
}

static void report_request_pulls_deps(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct fixture f = {0};
	struct copa_deb_request rq[] = {{"openssl", "3.0.13-1~deb12u1"}};
	const struct copa_deb_pkg *p;
	const struct copa_deb_result *r;

	base_image(&f, NULL);
	assert_ok(run_plan(&f, rq, 1, false, &err));
	/* openssl, and libssl3, libc6 (versioned deps), libzstd1 (new); no Recommends. */
	assert_int_equal(f.plan.n_pkgs, 4);
	p = find_pkg(&f.plan, "openssl", NULL);
	assert_non_null(p);
	assert_string_equal(p->version, "3.0.13-1~deb12u1");
	assert_string_equal(p->old_version, "3.0.11-1~deb12u1");
	assert_string_equal(p->url, "http://repo.test/debian/pool/main/o/openssl/"
	                            "openssl_3.0.13-1~deb12u1_amd64.deb");
	assert_string_equal(p->repo, "http://repo.test/debian-security bookworm-security/main");
	assert_int_equal(p->size, 700);
	assert_int_equal(strlen(p->sha256), 64);
	p = find_pkg(&f.plan, "libc6", NULL);
	assert_string_equal(p->version, "2.36-9+deb12u4");
	assert_string_equal(p->multi_arch, "same");
	p = find_pkg(&f.plan, "libzstd1", NULL);
	assert_non_null(p);
	assert_null(p->old_version);
	assert_null(find_pkg(&f.plan, "ca-certificates", NULL));
	assert_int_equal(f.plan.n_results, 1);
	r = &f.plan.results[0];
	assert_int_equal(r->outcome, COPA_DEB_UPDATED);
	assert_string_equal(r->chosen_version, "3.0.13-1~deb12u1");
	assert_string_equal(r->installed_version, "3.0.11-1~deb12u1");
	release_fixture(&f);
}

/* A cached index whose bytes no longer match its digest is refused (and dropped), not planned
 * from: the digest is what the signed Release named. */
static void damaged_index_refused(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct fixture f = {0};
	struct copa_deb_request rq[] = {{"openssl", "3.0.13-1~deb12u1"}};
	const char *path;
	int fd;

	(void)state;
	base_image(&f, NULL);
	path = f.ix.v[1].path;
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "\n", 1), 1);
	close(fd);
	assert_int_equal(run_plan(&f, rq, 1, false, &err), -1);
	assert_non_null(strstr(err.msg, "does not match its digest"));
	assert_non_null(strstr(err.msg, "bookworm-security/main amd64"));
	assert_int_equal(access(path, F_OK), -1);
	release_fixture(&f);
}

static void report_outcomes(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct fixture f = {0};
	struct copa_deb_request rq[] = {
	    {"libc6", "2.36-9+deb12u1"},     /* already fixed */
	    {"libssl3", "3.0.14-1~deb12u1"}, /* newer than anything available */
	    {"tzdata", "2024b-0+deb12u1"},   /* held */
	    {"curl", "7.88.1-10+deb12u5"},   /* not installed */
	    {"removed", "2.0"},              /* only config files left: not installed */
	    {"openssl", "bad version!"},     /* refused */
	};
	const struct copa_deb_result *r;

	base_image(&f, NULL);
	assert_ok(run_plan(&f, rq, COPA_ARRAY_SIZE(rq), false, &err));
	assert_int_equal(f.plan.n_pkgs, 0);
	assert_int_equal(f.plan.n_results, 6);
	r = find_res(&f.plan, "libc6", NULL);
	assert_int_equal(r->outcome, COPA_DEB_ALREADY_FIXED);
	r = find_res(&f.plan, "libssl3", NULL);
	assert_int_equal(r->outcome, COPA_DEB_NOT_AVAILABLE);
	assert_string_equal(r->best_available, "3.0.13-1~deb12u1");
	assert_string_equal(r->repo, "http://repo.test/debian-security bookworm-security/main");
	assert_non_null(strstr(r->reason, "at most 3.0.13-1~deb12u1"));
	assert_true(copa_deb_outcome_is_error(r->outcome));
	r = find_res(&f.plan, "tzdata", NULL);
	assert_int_equal(r->outcome, COPA_DEB_HELD);
	r = find_res(&f.plan, "curl", NULL);
	assert_int_equal(r->outcome, COPA_DEB_NOT_INSTALLED);
	assert_false(copa_deb_outcome_is_error(r->outcome));
	r = find_res(&f.plan, "removed", NULL);
	assert_int_equal(r->outcome, COPA_DEB_NOT_INSTALLED);
	r = find_res(&f.plan, "openssl", NULL);
	assert_int_equal(r->outcome, COPA_DEB_FAILED);
	release_fixture(&f);
}

static void duplicate_requests_merge(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct fixture f = {0};
	/* One package, three vulnerabilities: the highest fixed version counts, once. */
	struct copa_deb_request rq[] = {
	    {"libc6", "2.36-9+deb12u2"}, {"libc6", "2.36-9+deb12u9"}, {"libc6", NULL}};
	const struct copa_deb_result *r;

	base_image(&f, NULL);
	assert_ok(run_plan(&f, rq, 3, false, &err));
	assert_int_equal(f.plan.n_results, 1);
	r = &f.plan.results[0];
	assert_int_equal(r->outcome, COPA_DEB_NOT_AVAILABLE);
	assert_string_equal(r->fixed_version, "2.36-9+deb12u9");
	release_fixture(&f);
}

static void best_available_option(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct fixture f = {0};
	struct copa_deb_request rq[] = {{"libssl3", "3.0.14-1~deb12u1"}};
	struct copa_deb_plan_opts o = {.requests = rq, .n_requests = 1, .best_available = true};
	const struct copa_deb_result *r;

	base_image(&f, NULL);
	assert_ok(copa_deb_plan(&f.st, &f.ix, &o, &f.plan, &err));
	r = find_res(&f.plan, "libssl3", NULL);
	assert_int_equal(r->outcome, COPA_DEB_UPDATED);
	assert_string_equal(r->chosen_version, "3.0.13-1~deb12u1");
	assert_non_null(strstr(r->reason, "not available"));
	release_fixture(&f);
}

static void update_all_like_apt(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct fixture f = {0};
	const struct copa_deb_result *r;

	base_image(&f, NULL);
	assert_ok(run_plan(&f, NULL, 0, false, &err));
	/* libc6, libssl3, openssl, libsystemd0 (not libelogind0), libzstd1 (new); tzdata held. */
	assert_int_equal(f.plan.n_pkgs, 5);
	assert_null(find_pkg(&f.plan, "libelogind0", NULL));
	assert_string_equal(find_pkg(&f.plan, "libsystemd0", NULL)->version, "252.30-1~deb12u2");
	assert_null(find_pkg(&f.plan, "tzdata", NULL));
	assert_null(find_pkg(&f.plan, "ca-certificates", NULL));
	r = find_res(&f.plan, "tzdata", NULL);
	assert_int_equal(r->outcome, COPA_DEB_HELD);
	assert_string_equal(r->best_available, "2024b-0+deb12u1");
	assert_int_equal(find_res(&f.plan, "libsystemd0", NULL)->outcome, COPA_DEB_UPDATED);
	/* Sorted by name. */
	for (size_t i = 1; i < f.plan.n_pkgs; i++)
		assert_true(strcmp(f.plan.pkgs[i - 1].name, f.plan.pkgs[i].name) < 0);
	release_fixture(&f);
}

static void update_all_without_new_packages(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct fixture f = {0};
	const struct copa_deb_result *r;

	base_image(&f, NULL);
	assert_ok(run_plan(&f, NULL, 0, true, &err));
	/* libssl3 needs the new libzstd1, and openssl needs that libssl3: both kept back. */
	assert_null(find_pkg(&f.plan, "libzstd1", NULL));
	assert_null(find_pkg(&f.plan, "libssl3", NULL));
	assert_null(find_pkg(&f.plan, "openssl", NULL));
	assert_non_null(find_pkg(&f.plan, "libc6", NULL));
	assert_non_null(find_pkg(&f.plan, "libsystemd0", NULL));
	r = find_res(&f.plan, "libssl3", NULL);
	assert_int_equal(r->outcome, COPA_DEB_FAILED);
	assert_non_null(strstr(r->reason, "kept back"));
	release_fixture(&f);
}

static void held_dependency_blocks_request(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct fixture f = {0};
	struct copa_buf s = COPA_BUF_INIT, idx = COPA_BUF_INIT;
	struct copa_deb_request rq[] = {{"app", "2.0"}};
	const struct copa_deb_result *r;

	inst(&s, "app", "1.0", "amd64", "install ok installed", "Depends: libfoo (>= 1.0)\n");
	inst(&s, "libfoo", "1.0", "amd64", "hold ok installed", NULL);
	set_status(&f, &s, "amd64", NULL);
	pkg(&idx, "app", "2.0", "amd64", "Depends: libfoo (>= 2.0)\n");
	pkg(&idx, "libfoo", "2.0", "amd64", NULL);
	add_index(&f, "http://repo.test/debian stable/main", &idx, false);
	copa_buf_release(&idx);
	assert_ok(run_plan(&f, rq, 1, false, &err));
	assert_int_equal(f.plan.n_pkgs, 0);
	r = find_res(&f.plan, "app", NULL);
	assert_int_equal(r->outcome, COPA_DEB_FAILED);
	assert_non_null(r->reason);
	release_fixture(&f);
}

static void multiarch_same_in_step(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct fixture f = {0};
	struct copa_buf s = COPA_BUF_INIT, a = COPA_BUF_INIT, i = COPA_BUF_INIT;
	struct copa_deb_request rq[] = {{"libfoo1:amd64", "1.1"}};

	inst(&s, "libfoo1", "1.0", "amd64", "install ok installed", "Multi-Arch: same\n");
	inst(&s, "libfoo1", "1.0", "i386", "install ok installed",
	     "Multi-Arch: same\nDepends: libbar1\n");
	inst(&s, "libbar1", "1.0", "i386", "install ok installed", "Multi-Arch: same\n");
	inst(&s, "tool", "1.0", "amd64", "install ok installed", "Multi-Arch: foreign\n");
	set_status(&f, &s, "amd64", "i386");
	pkg(&a, "libfoo1", "1.1", "amd64", "Multi-Arch: same\n");
	pkg(&a, "tool", "1.1", "amd64", "Multi-Arch: foreign\n");
	add_index(&f, "http://repo.test/debian stable/main", &a, false);
	pkg(&i, "libfoo1", "1.1", "i386", "Multi-Arch: same\nDepends: libbar1 (>= 1.1), tool\n");
	pkg(&i, "libbar1", "1.1", "i386", "Multi-Arch: same\n");
	/* An amd64 libbar1 must not satisfy the i386 package's dependency. */
	add_index(&f, "http://repo.test/debian stable/main i386", &i, false);
	copa_buf_release(&a);
	copa_buf_release(&i);
	assert_ok(run_plan(&f, rq, 1, false, &err));
	/* Asking for the amd64 one updates the i386 one too (same version), and i386 libbar1;
	 * the i386 package's dependency on tool is met by the Multi-Arch: foreign amd64 tool. */
	assert_int_equal(f.plan.n_pkgs, 3);
	assert_string_equal(find_pkg(&f.plan, "libfoo1", "amd64")->version, "1.1");
	assert_string_equal(find_pkg(&f.plan, "libfoo1", "i386")->version, "1.1");
	assert_string_equal(find_pkg(&f.plan, "libbar1", "i386")->version, "1.1");
	assert_null(find_pkg(&f.plan, "tool", NULL));
	assert_int_equal(f.plan.n_results, 1);
	assert_string_equal(f.plan.results[0].arch, "amd64");
	copa_deb_plan_release(&f.plan);
	/* Update-all: one result per architecture. */
	assert_ok(run_plan(&f, NULL, 0, false, &err));
	assert_non_null(find_res(&f.plan, "libfoo1", "amd64"));
	assert_non_null(find_res(&f.plan, "libfoo1", "i386"));
	assert_int_equal(f.plan.n_pkgs, 4);
	release_fixture(&f);
}

/*
 * A foreign architecture on an index large enough that renaming its packages
 * ("name:i386") grows libsolv's string space, which moves every string in
 * it: the planner must not hold one across the renames (a use-after-free the
 * ASan build reports; the release build crashed on real bookworm indexes).
 */
static void multiarch_big_foreign_index(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct fixture f = {0};
	struct copa_buf s = COPA_BUF_INIT, a = COPA_BUF_INIT, i = COPA_BUF_INIT;
	struct copa_deb_request rq[] = {{"libgen00042:i386", "1.1"}};

	inst(&s, "libc6", "2.36-9", "amd64", "install ok installed", "Multi-Arch: same\n");
	inst(&s, "libc6", "2.36-9", "i386", "install ok installed", "Multi-Arch: same\n");
	inst(&s, "libgen00042", "1.0", "i386", "install ok installed",
	     "Multi-Arch: same\nDepends: libc6 (>= 2.36)\n");
	set_status(&f, &s, "amd64", "i386");
	pkg(&a, "libc6", "2.36-9", "amd64", "Multi-Arch: same\n");
	add_index(&f, "http://repo.test/debian stable/main", &a, false);
	pkg(&i, "libc6", "2.36-9", "i386", "Multi-Arch: same\n");
	for (int k = 0; k < 20000; k++) {
		char name[32], extra[160];

		snprintf(name, sizeof(name), "libgen%05d", k);
		snprintf(extra, sizeof(extra),
		         "Multi-Arch: same\nDepends: libc6 (>= 2.36), libalt%05d | libprov%05d\n"
		         "Provides: libprov%05d\n",
		         k, k, k);
		pkg(&i, name, "1.1", "i386", extra);
	}
	add_index(&f, "http://repo.test/debian stable/main i386", &i, false);
	copa_buf_release(&a);
	copa_buf_release(&i);
	assert_ok(run_plan(&f, rq, 1, false, &err));
	assert_int_equal(f.plan.n_results, 1);
	assert_string_equal(copa_deb_outcome_str(f.plan.results[0].outcome), "updated");
	assert_int_equal(f.plan.n_pkgs, 1);
	assert_string_equal(find_pkg(&f.plan, "libgen00042", "i386")->version, "1.1");
	release_fixture(&f);
}

/*
 * Dependency names longer than the renaming's buffer keep their whole name
 * on the foreign architecture: two names differing only at their end stay
 * two names (cut short, one satisfied the other).
 */
static void multiarch_long_dependency_name(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct fixture f = {0};
	struct copa_buf s = COPA_BUF_INIT, i = COPA_BUF_INIT;
	char prefix[700], extra[800];
	struct copa_deb_request rq[] = {{"app:i386", "1.1"}};

	memset(prefix, 'l', sizeof(prefix) - 1);
	prefix[sizeof(prefix) - 1] = '\0';
	inst(&s, "app", "1.0", "i386", "install ok installed", NULL);
	set_status(&f, &s, "amd64", "i386");
	snprintf(extra, sizeof(extra), "Depends: %sa\n", prefix);
	pkg(&i, "app", "1.1", "i386", extra);
	snprintf(extra, sizeof(extra), "Provides: %sb\n", prefix);
	pkg(&i, "wrong", "1", "i386", extra);
	add_index(&f, "http://repo.test/debian stable/main i386", &i, false);
	assert_ok(run_plan(&f, rq, 1, false, &err));
	assert_string_not_equal(copa_deb_outcome_str(f.plan.results[0].outcome), "updated");
	assert_null(find_pkg(&f.plan, "wrong", "i386"));
	copa_deb_plan_release(&f.plan);
	copa_deb_indexes_release(&f.ix);
	memset(&f.ix, 0, sizeof(f.ix));
	/* With the right provider, it updates. */
	snprintf(extra, sizeof(extra), "Provides: %sa\n", prefix);
	pkg(&i, "right", "1", "i386", extra);
	add_index(&f, "http://repo.test/debian stable/main i386", &i, false);
	copa_buf_release(&i);
	assert_ok(run_plan(&f, rq, 1, false, &err));
	assert_string_equal(copa_deb_outcome_str(f.plan.results[0].outcome), "updated");
	assert_non_null(find_pkg(&f.plan, "right", "i386"));
	assert_null(find_pkg(&f.plan, "wrong", "i386"));
	release_fixture(&f);
}

/* "Depends: x0 | x1 | ... | x(n-1)\n" */
static char *many_alternatives(size_t n)
{
	struct copa_buf b = COPA_BUF_INIT;

	copa_buf_adds(&b, "Depends: ");
	for (size_t k = 0; k < n; k++)
		copa_buf_addf(&b, "%sx%zu", k ? " | " : "", k);
	copa_buf_adds(&b, "\n");
	return copa_buf_detach(&b, NULL);
}

/*
 * One dependency with 50,000 alternatives, from the image's own status:
 * libsolv resolves alternatives recursively and overflowed the stack. The
 * planner refuses it, naming the file, the package and the field.
 */
static void huge_alternatives_in_status_refused(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct fixture f = {0};
	struct copa_buf s = COPA_BUF_INIT, a = COPA_BUF_INIT;
	char *deps = many_alternatives(50000);

	inst(&s, "libc6", "2.36-9", "amd64", "install ok installed", NULL);
	inst(&s, "evil", "1.0", "amd64", "install ok installed", deps);
	set_status(&f, &s, "amd64", NULL);
	pkg(&a, "libc6", "2.36-10", "amd64", NULL);
	add_index(&f, "http://repo.test/debian stable/main", &a, false);
	copa_buf_release(&a);
	assert_int_equal(run_plan(&f, NULL, 0, false, &err), -1);
	assert_int_equal(err.code, COPA_E_LIMIT);
	assert_non_null(strstr(err.msg, "'var/lib/dpkg/status'"));
	assert_non_null(strstr(err.msg, "package 'evil'"));
	assert_non_null(strstr(err.msg, "'Depends'"));
	assert_non_null(strstr(err.msg, "alternatives"));
	free(deps);
	release_fixture(&f);
}

/* The same in a (signed) index: refused, naming the index and the package. */
static void huge_alternatives_in_index_refused(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct fixture f = {0};
	struct copa_buf s = COPA_BUF_INIT, a = COPA_BUF_INIT;
	char *deps = many_alternatives(50000);

	inst(&s, "libc6", "2.36-9", "amd64", "install ok installed", NULL);
	set_status(&f, &s, "amd64", NULL);
	pkg(&a, "libc6", "2.36-10", "amd64", deps);
	add_index(&f, "http://repo.test/debian stable/main", &a, false);
	copa_buf_release(&a);
	assert_int_equal(run_plan(&f, NULL, 0, false, &err), -1);
	assert_int_equal(err.code, COPA_E_LIMIT);
	assert_non_null(strstr(err.msg, "http://repo.test/debian stable/main"));
	assert_non_null(strstr(err.msg, "package 'libc6'"));
	assert_non_null(strstr(err.msg, "'Depends'"));
	/* A real-size group (bookworm's largest has 20) is fine. */
	free(deps);
	release_fixture(&f);
	memset(&f, 0, sizeof(f));
	deps = many_alternatives(200);
	inst(&s, "libc6", "2.36-9", "amd64", "install ok installed", NULL);
	set_status(&f, &s, "amd64", NULL);
	pkg(&a, "libc6", "2.36-10", "amd64", NULL);
	pkg(&a, "x199", "1", "amd64", NULL);
	pkg(&a, "tool", "1", "amd64", deps);
	add_index(&f, "http://repo.test/debian stable/main", &a, false);
	copa_buf_release(&a);
	assert_ok(run_plan(&f, NULL, 0, false, &err));
	assert_string_equal(find_pkg(&f.plan, "libc6", "amd64")->version, "2.36-10");
	free(deps);
	release_fixture(&f);
}

/* A solver field above 1 MiB and a name above 256 bytes are refused, naming them. */
static void oversized_fields_refused(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct fixture f = {0};
	struct copa_buf s = COPA_BUF_INIT, a = COPA_BUF_INIT, prov = COPA_BUF_INIT;
	char name[300];

	copa_buf_adds(&prov, "Provides: p0");
	for (int k = 1; k < 200000; k++)
		copa_buf_addf(&prov, ", p%d", k);
	copa_buf_adds(&prov, "\n");
	inst(&s, "libc6", "2.36-9", "amd64", "install ok installed", NULL);
	set_status(&f, &s, "amd64", NULL);
	pkg(&a, "libc6", "2.36-10", "amd64", copa_buf_str(&prov));
	add_index(&f, "http://repo.test/debian stable/main", &a, false);
	copa_buf_release(&a);
	assert_int_equal(run_plan(&f, NULL, 0, false, &err), -1);
	assert_int_equal(err.code, COPA_E_LIMIT);
	assert_non_null(strstr(err.msg, "package 'libc6': field 'Provides' is"));
	release_fixture(&f);

	memset(&f, 0, sizeof(f));
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	inst(&s, name, "1", "amd64", "install ok installed", NULL);
	set_status(&f, &s, "amd64", NULL);
	assert_int_equal(run_plan(&f, NULL, 0, false, &err), -1);
	assert_int_equal(err.code, COPA_E_LIMIT);
	assert_non_null(strstr(err.msg, "'var/lib/dpkg/status'"));
	assert_non_null(strstr(err.msg, "field 'Package' is 299 bytes long"));
	copa_buf_release(&prov);
	release_fixture(&f);
}

/*
 * An installed package with a 64 MB Description (a million continuation
 * lines): the installed database reaches libsolv reduced to the solver's
 * fields, as the indexes do; whole, libsolv's parser took minutes on it.
 */
static void huge_description_in_status(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct fixture f = {0};
	struct copa_buf s = COPA_BUF_INIT, a = COPA_BUF_INIT;

	inst(&s, "libc6", "2.36-9", "amd64", "install ok installed", NULL);
	copa_buf_adds(&s, "Package: big\nStatus: install ok installed\nArchitecture: amd64\n"
	                  "Version: 1.0\nDepends: libc6\nDescription: big\n");
	for (int k = 0; k < 1000000; k++)
		copa_buf_adds(&s,
		              " .......................................................... line\n");
	copa_buf_adds(&s, "\n");
	set_status(&f, &s, "amd64", NULL);
	pkg(&a, "libc6", "2.36-10", "amd64", NULL);
	pkg(&a, "big", "1.1", "amd64", "Depends: libc6 (>= 2.36-10)\n");
	add_index(&f, "http://repo.test/debian stable/main", &a, false);
	copa_buf_release(&a);
	assert_ok(run_plan(&f, NULL, 0, false, &err));
	assert_int_equal(f.plan.n_pkgs, 2);
	assert_string_equal(find_pkg(&f.plan, "big", "amd64")->version, "1.1");
	assert_string_equal(find_pkg(&f.plan, "libc6", "amd64")->version, "2.36-10");
	release_fixture(&f);
}

static void distroless_omitted_deps(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct fixture f = {0};
	struct copa_buf s = COPA_BUF_INIT, idx = COPA_BUF_INIT;
	struct copa_deb_request rq[] = {{"libc6", "2.36-9+deb12u4"},
	                                {"copa:omitted-dependencies", NULL}};

	/* status.d paragraphs have no Status line; libgcc-s1 was left out of the image. */
	inst(&s, "libc6", "2.36-9+deb12u1", "amd64", NULL, "Depends: libgcc-s1\n");
	set_status(&f, &s, "amd64", NULL);
	f.st.distroless = true;
	pkg(&idx, "libc6", "2.36-9+deb12u4", "amd64", "Depends: libgcc-s1, libnew1\n");
	pkg(&idx, "libgcc-s1", "12.2.0-14", "amd64", NULL);
	pkg(&idx, "libnew1", "1.0", "amd64", NULL);
	add_index(&f, "http://repo.test/debian stable/main", &idx, false);
	copa_buf_release(&idx);
	assert_ok(run_plan(&f, rq, 2, false, &err));
	/* libgcc-s1 stays out; a dependency that is new in the update comes in. */
	assert_null(find_pkg(&f.plan, "libgcc-s1", NULL));
	assert_non_null(find_pkg(&f.plan, "libnew1", NULL));
	assert_int_equal(find_res(&f.plan, "libc6", NULL)->outcome, COPA_DEB_UPDATED);
	/* The stand-in is the planner's own: no request can name it. */
	assert_int_equal(find_res(&f.plan, "copa", NULL)->outcome, COPA_DEB_NOT_INSTALLED);
	release_fixture(&f);
}

static void not_automatic_repos(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct fixture f = {0};
	struct copa_buf s = COPA_BUF_INIT, m = COPA_BUF_INIT, bp = COPA_BUF_INIT;

	inst(&s, "a", "1.0", "amd64", "install ok installed", NULL);
	inst(&s, "b", "2.0~bpo12+1", "amd64", "install ok installed", NULL);
	set_status(&f, &s, "amd64", NULL);
	pkg(&m, "a", "1.0", "amd64", NULL);
	pkg(&m, "b", "1.0", "amd64", NULL);
	add_index(&f, "http://repo.test/debian bookworm/main", &m, false);
	pkg(&bp, "a", "3.0~bpo12+1", "amd64", NULL);
	pkg(&bp, "b", "2.0~bpo12+1", "amd64", NULL);
	pkg(&bp, "b", "2.1~bpo12+1", "amd64", NULL);
	add_index(&f, "http://repo.test/debian bookworm-backports/main", &bp, true);
	copa_buf_release(&m);
	copa_buf_release(&bp);
	assert_ok(run_plan(&f, NULL, 0, false, &err));
	/* a stays (backports never replaces a package from the release); b was installed from
	 * backports and follows it. */
	assert_int_equal(f.plan.n_pkgs, 1);
	assert_string_equal(f.plan.pkgs[0].name, "b");
	assert_string_equal(f.plan.pkgs[0].version, "2.1~bpo12+1");
	release_fixture(&f);
}

static void versions(void **state)
{
	static const char *const ordered[] = {
	    "1.0~rc1-1", "1.0", "1.0-1", "1.0-1+b1", "1.0-2", "2.37", "1:2.36.1-8+deb11u1",
	};

	for (size_t i = 1; i < COPA_ARRAY_SIZE(ordered); i++) {
		assert_true(copa_deb_version_cmp(ordered[i - 1], ordered[i]) < 0);
		assert_true(copa_deb_version_cmp(ordered[i], ordered[i - 1]) > 0);
	}
	assert_int_equal(copa_deb_version_cmp("3.0.11-1~deb12u2", "3.0.11-1~deb12u2"), 0);
	assert_true(copa_deb_version_cmp("3.0.11-1~deb12u2", "3.0.11-1") < 0);
	assert_true(copa_deb_version_cmp("2.31-0ubuntu9.12", "2.31-0ubuntu9.13") < 0);
	assert_true(copa_deb_version_valid("1:2.36.1-8+deb11u1"));
	assert_false(copa_deb_version_valid("1.0; rm -rf /"));
	assert_false(copa_deb_version_valid(""));
}

/*
 * The planner's comparisons and the read-back check after patching must use
 * one Debian ordering. libsolv's pool takes no custom comparison, so the
 * whole dpkg ordering table (tests/unit/data/version_deb.data) is run
 * through pkg/version.c, the planner's copa_deb_version_cmp and libsolv: the
 * first two must agree everywhere; libsolv may differ only on the listed
 * cases (an absent revision against an empty or "0" one), which is why the
 * planner's own comparisons do not use it. A new disagreement fails here.
 */
static void planner_and_final_check_orderings_agree(void **state)
{
	static const char *const solv_differs[][2] = {
	    {"0", "0:0-0"},
	    {"0foo-", "0foo"},
	    {"0foo-", "0foo-0"},
	    {"0:0-", "0:0"},
	};
	FILE *f = fopen(COPA_TEST_DATA "/version_deb.data", "r");
	char line[1024];
	size_t n = 0, n_differ = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char a[512], op[4], b[512];
		struct copa_err err = COPA_ERR_INIT;
		int mine = 0, plan, solv;
		bool known = false;

		if (line[0] == '#' || line[0] == '!' ||
		    sscanf(line, "%511s %3s %511s", a, op, b) != 3)
			continue;
		assert_int_equal(copa_version_cmp(COPA_FAM_DEB, a, b, &mine, &err), 0);
		plan = copa_deb_version_cmp(a, b);
		if ((mine > 0) != (plan > 0) || (mine < 0) != (plan < 0))
			fail_msg("'%s' vs '%s': pkg/version.c says %d, the planner %d", a, b, mine,
			         plan);
		solv = copa_deb_solv_version_cmp(a, b);
		for (size_t i = 0; i < sizeof(solv_differs) / sizeof(solv_differs[0]); i++)
			known |= !strcmp(a, solv_differs[i][0]) && !strcmp(b, solv_differs[i][1]);
		if ((mine > 0) != (solv > 0) || (mine < 0) != (solv < 0)) {
			if (!known)
				fail_msg("'%s' vs '%s': pkg/version.c says %d, libsolv %d", a, b,
				         mine, solv);
			n_differ++;
		}
		n++;
	}
	fclose(f);
	assert_true(n > 80);
	assert_int_equal(n_differ, sizeof(solv_differs) / sizeof(solv_differs[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(planner_and_final_check_orderings_agree),
	    cmocka_unit_test(report_request_pulls_deps),
	    cmocka_unit_test(damaged_index_refused),
	    cmocka_unit_test(report_outcomes),
	    cmocka_unit_test(duplicate_requests_merge),
	    cmocka_unit_test(best_available_option),
	    cmocka_unit_test(update_all_like_apt),
	    cmocka_unit_test(update_all_without_new_packages),
	    cmocka_unit_test(held_dependency_blocks_request),
	    cmocka_unit_test(multiarch_same_in_step),
	    cmocka_unit_test(multiarch_big_foreign_index),
	    cmocka_unit_test(multiarch_long_dependency_name),
	    cmocka_unit_test(huge_alternatives_in_status_refused),
	    cmocka_unit_test(huge_alternatives_in_index_refused),
	    cmocka_unit_test(oversized_fields_refused),
	    cmocka_unit_test(huge_description_in_status),
	    cmocka_unit_test(distroless_omitted_deps),
	    cmocka_unit_test(not_automatic_repos),
	    cmocka_unit_test(versions),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
