/*
 * test_repofile.c: dnf/yum/tdnf repository configuration: real-world file
 * shapes (Azure Linux, CBL-Mariner, RHEL/UBI, Rocky with dnf vars), [main]
 * defaults, variable substitution, and one error per malformed input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "pkg/rpm/repofile.h"
#include "util/mem.h"

#include <string.h>

static void std_vars(struct copa_rpm_vars *vars)
{
	struct copa_err err = COPA_ERR_INIT;

	assert_int_equal(copa_rpm_vars_set(vars, "releasever", "3.0", &err), 0);
	assert_int_equal(copa_rpm_vars_set(vars, "basearch", copa_rpm_basearch("x86_64"), &err), 0);
	assert_int_equal(copa_rpm_vars_set(vars, "arch", "x86_64", &err), 0);
}

static int parse(struct copa_rpm_repos *r, const struct copa_rpm_vars *vars, const char *file,
                 const char *text, struct copa_err *err)
{
	return copa_rpm_repos_parse(r, vars, text, strlen(text), file, err);
}

static void azure_linux(void **state)
{
	struct copa_rpm_vars vars = {0};
	struct copa_rpm_repos r = {0};
	struct copa_err err = COPA_ERR_INIT;
	const char *text =
	    "[azurelinux-official-base]\n"
	    "name=Azure Linux Official Base $releasever $basearch\n"
	    "baseurl=https://packages.microsoft.com/azurelinux/$releasever/prod/base/$basearch\n"
	    "gpgkey=file:///etc/pki/rpm-gpg/MICROSOFT-RPM-GPG-KEY\n"
	    "gpgcheck=1\n"
	    "repo_gpgcheck=1\n"
	    "enabled=1\n"
	    "skip_if_unavailable=True\n"
	    "sslverify=1\n"
	    "\n"
	    "[azurelinux-official-debuginfo-$releasever]\r\n"
	    "name=debuginfo\r\n"
	    "baseurl=https://packages.microsoft.com/azurelinux/$releasever/prod/debuginfo/"
	    "$basearch\r\n"
	    "enabled=0\r\n";

	std_vars(&vars);
	if (parse(&r, &vars, "etc/yum.repos.d/azurelinux-official-base.repo", text, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.v[0].id, "azurelinux-official-base");
	assert_string_equal(r.v[0].name, "Azure Linux Official Base 3.0 x86_64");
	assert_string_equal(r.v[0].baseurls[0],
	                    "https://packages.microsoft.com/azurelinux/3.0/prod/base/x86_64");
	assert_null(r.v[0].baseurls[1]);
	assert_string_equal(r.v[0].gpgkeys[0], "file:///etc/pki/rpm-gpg/MICROSOFT-RPM-GPG-KEY");
	assert_true(r.v[0].enabled);
	assert_true(r.v[0].gpgcheck);
	assert_false(r.v[0].gpgcheck_off);
	assert_true(r.v[0].repo_gpgcheck);
	assert_string_equal(r.v[0].where, "etc/yum.repos.d/azurelinux-official-base.repo:1");
	assert_string_equal(r.v[1].id, "azurelinux-official-debuginfo-3.0");
	assert_false(r.v[1].enabled);
	assert_true(r.v[1].gpgcheck); /* copa's default */
	assert_false(r.v[1].gpgcheck_off);
	assert_false(r.v[1].repo_gpgcheck); /* dnf's default */
	assert_string_equal(r.v[1].where, "etc/yum.repos.d/azurelinux-official-base.repo:11");
	copa_rpm_repos_release(&r);
	copa_rpm_vars_release(&vars);
}

/* RHEL/Rocky shapes: continuation lines, lists, metalink, mirrorlist, ${var}, dnf vars. */
static void rhel_shapes(void **state)
{
	struct copa_rpm_vars vars = {0};
	struct copa_rpm_repos r = {0};
	struct copa_err err = COPA_ERR_INIT;
	const char *text =
	    "# comment\n"
	    "; another\n"
	    "[baseos]\n"
	    "name = Rocky Linux $releasever - BaseOS\n"
	    "mirrorlist=https://mirrors.rockylinux.org/"
	    "mirrorlist?arch=$basearch&repo=BaseOS-$releasever${rltype}\n"
	    "#baseurl=http://dl.rockylinux.org/$contentdir/$releasever/BaseOS/$basearch/os/\n"
	    "gpgcheck=1\n"
	    "enabled=1\n"
	    "gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9\n"
	    "   file:///etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9-extra,https://keys.example/k.asc\n"
	    "\n"
	    "[epel]\n"
	    "metalink=https://mirrors.fedoraproject.org/"
	    "metalink?repo=epel-$releasever&arch=$basearch\n"
	    "baseurl = http://a.example/${contentdir}/$releasever/ http://b.example/$undefined/\n"
	    "\thttp://c.example/${missing:-fallback}/${contentdir:+yes}/${missing:+no}\n"
	    "gpgcheck=no\n"
	    "enabled=TRUE\n";

	std_vars(&vars);
	assert_int_equal(copa_rpm_vars_set(&vars, "releasever", "9", &err), 0); /* later wins */
	assert_int_equal(copa_rpm_vars_set(&vars, "contentdir", "pub/rocky", &err), 0);
	assert_int_equal(copa_rpm_vars_set(&vars, "rltype", "", &err), 0);
	if (parse(&r, &vars, "rocky.repo", text, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.v[0].name, "Rocky Linux 9 - BaseOS");
	assert_string_equal(r.v[0].mirrorlist,
	                    "https://mirrors.rockylinux.org/mirrorlist?arch=x86_64&repo=BaseOS-9");
	assert_null(r.v[0].baseurls[0]);
	assert_string_equal(r.v[0].gpgkeys[0], "file:///etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9");
	assert_string_equal(r.v[0].gpgkeys[1], "file:///etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9-extra");
	assert_string_equal(r.v[0].gpgkeys[2], "https://keys.example/k.asc");
	assert_null(r.v[0].gpgkeys[3]);
	assert_string_equal(r.v[1].metalink,
	                    "https://mirrors.fedoraproject.org/metalink?repo=epel-9&arch=x86_64");
	assert_string_equal(r.v[1].baseurls[0], "http://a.example/pub/rocky/9/");
	assert_string_equal(r.v[1].baseurls[1], "http://b.example/$undefined/");
	assert_string_equal(r.v[1].baseurls[2], "http://c.example/fallback/yes/");
	assert_null(r.v[1].baseurls[3]);
	assert_false(r.v[1].gpgcheck);
	assert_true(r.v[1].gpgcheck_off);
	assert_true(r.v[1].enabled);
	copa_rpm_repos_release(&r);
	copa_rpm_vars_release(&vars);
}

static void main_defaults(void **state)
{
	struct copa_rpm_repos r = {0};
	struct copa_err err = COPA_ERR_INIT;

	if (parse(&r, NULL, "etc/dnf/dnf.conf",
	          "[main]\ngpgcheck=0\nrepo_gpgcheck=1\ninstallonly_limit=3\n"
	          "[local]\nbaseurl=file:///srv/repo\n",
	          &err) < 0)
		fail_msg("%s", err.msg);
	if (parse(&r, NULL, "etc/yum.repos.d/a.repo",
	          "[a]\nbaseurl=http://a/\n[b]\nbaseurl=http://b/\ngpgcheck=1\nrepo_gpgcheck=0\n",
	          &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(r.n, 3);
	assert_string_equal(r.v[0].id, "local");
	assert_true(r.v[0].gpgcheck_off);
	assert_true(r.v[0].repo_gpgcheck);
	assert_true(r.v[1].gpgcheck_off);
	assert_true(r.v[1].repo_gpgcheck);
	assert_true(r.v[2].gpgcheck);
	assert_false(r.v[2].repo_gpgcheck);
	copa_rpm_repos_release(&r);
}

/* A repeated key replaces the earlier value (fuzz_rpm_repofile found the old list leaking). */
static void repeated_key(void **state)
{
	struct copa_rpm_repos r = {0};
	struct copa_err err = COPA_ERR_INIT;

	if (parse(&r, NULL, "f.repo",
	          "[a]\nbaseurl=http://1/ http://2/\nbaseurl=http://3/\n"
	          "gpgkey=file:///k1\ngpgkey=file:///k2\n",
	          &err) < 0)
		fail_msg("%s", err.msg);
	assert_string_equal(r.v[0].baseurls[0], "http://3/");
	assert_null(r.v[0].baseurls[1]);
	assert_string_equal(r.v[0].gpgkeys[0], "file:///k2");
	assert_null(r.v[0].gpgkeys[1]);
	copa_rpm_repos_release(&r);
}

static void bad_input(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
	    {"[a]\nbaseurl=http://a/\njunk\n", "'f.repo' line 3: expected 'key=value'"},
	    {"[a]\nbaseurl=http://a/\nenabled=maybe\n",
	     "'f.repo' line 3: enabled 'maybe' is not a boolean"},
	    {"[a b]\nbaseurl=http://a/\n", "'f.repo' line 1: 'a b' is not a repository id"},
	    {"[a]\nbaseurl=http://a/\n[a]\nbaseurl=http://b/\n",
	     "line 3: repository 'a' is already defined at f.repo:1"},
	    {"[a]\nname=x\n", "'f.repo' line 1: repository 'a' has no baseurl"},
	    {"[a]\nbaseurl=gopher://a/\n", "line 2: baseurl 'gopher://a/' is not an http"},
	    {"[a]\nbaseurl=/srv/repo\n", "is not an http"},
	    {"[a]\nmirrorlist=ftp:// x\n", "line 2: mirrorlist"},
	    {"baseurl=http://a/\n[a]\n", "'f.repo' line 1: option before the first [section]"},
	    {"[main]\ngpgcheck=1\n", "[main] belongs in dnf.conf"},
	    {"[a\nbaseurl=http://a/\n", "line 1: section header without ']'"},
	    {"[a]\n=x\n", "line 2: empty or overlong option name"},
	    {"[]\nbaseurl=http://a/\n", "is not a repository id"},
	};

	for (size_t i = 0; i < COPA_ARRAY_SIZE(cases); i++) {
		struct copa_rpm_repos r = {0};
		struct copa_err err = COPA_ERR_INIT;

		if (parse(&r, NULL, "f.repo", cases[i].text, &err) != -1)
			fail_msg("case %zu accepted", i);
		if (!strstr(err.msg, cases[i].want))
			fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].want);
		copa_rpm_repos_release(&r);
	}
	/* caps */
	{
		struct copa_rpm_repos r = {0};
		struct copa_rpm_vars vars = {0};
		struct copa_err err = COPA_ERR_INIT;
		char *big = copa_xmalloc(COPA_RPM_VALUE_MAX + 100);
		_cleanup_free_ char *text = NULL;

		memset(big, 'x', COPA_RPM_VALUE_MAX + 99);
		big[COPA_RPM_VALUE_MAX + 99] = 0;
		text = copa_xasprintf("[a]\nbaseurl=http://a/%s\n", big);
		assert_int_equal(parse(&r, NULL, "f.repo", text, &err), -1);
		assert_int_equal(err.code, COPA_E_LIMIT);
		/* substitution that explodes past the cap */
		big[4000] = 0;
		assert_int_equal(copa_rpm_vars_set(&vars, "x", big, &err), 0);
		assert_int_equal(parse(&r, &vars, "f.repo", "[a]\nbaseurl=http://$x$x$x/\n", &err),
		                 -1);
		assert_int_equal(err.code, COPA_E_LIMIT);
		assert_int_equal(copa_rpm_repos_parse(&r, NULL, "[a]\0", 4, "f.repo", &err), -1);
		assert_int_equal(copa_rpm_vars_set(&vars, "bad-name", "v", &err), -1);
		free(big);
		copa_rpm_repos_release(&r);
		copa_rpm_vars_release(&vars);
	}
}

static void put_file(struct copa_view *v, const char *path, const char *content)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_view_entry e = {
	    .path = path, .type = COPA_FT_REG, .mode = 0644, .size = strlen(content)};

	if (!copa_view_put(v, &e, &err) ||
	    copa_view_set_content(v, path, content, strlen(content), &err) < 0)
		fail_msg("put %s: %s", path, err.msg);
}

static void from_view(void **state)
{
	struct copa_view *v = copa_view_new();
	struct copa_rpm_vars vars = {0};
	struct copa_rpm_repos r = {0};
	struct copa_err err = COPA_ERR_INIT;
	struct copa_view_entry link = {.path = "etc/yum.repos.d",
	                               .type = COPA_FT_SYMLINK,
	                               .link = "/etc/distro.repos.d",
	                               .mode = 0777};

	std_vars(&vars);
	put_file(v, "etc/dnf/vars/contentdir", "pub/rocky\nignored second line\n");
	put_file(v, "etc/dnf/vars/not-a-var", "x");
	put_file(v, "etc/yum/vars/stream", "9-stream");
	put_file(v, "etc/tdnf/tdnf.conf", "[main]\ngpgcheck=1\nrepodir=/etc/yum.repos.d\n");
	put_file(v, "etc/distro.repos.d/z.repo", "[z]\nbaseurl=http://z/$contentdir/$stream/\n");
	put_file(v, "etc/distro.repos.d/a.repo", "[a]\nbaseurl=http://a/\ngpgcheck=0\n");
	put_file(v, "etc/distro.repos.d/a.repo.rpmnew", "[a]\nbaseurl=http://dup/\n");
	put_file(v, "etc/distro.repos.d/README", "not a repo file");
	assert_non_null(copa_view_put(v, &link, &err));
	if (copa_rpm_repos_read_view(v, &vars, &r, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.v[0].id, "a");
	assert_string_equal(r.v[0].where, "etc/distro.repos.d/a.repo:1");
	assert_true(r.v[0].gpgcheck_off);
	assert_string_equal(r.v[1].baseurls[0], "http://z/pub/rocky/9-stream/");
	assert_null(copa_rpm_vars_get(&vars, "not-a-var"));
	copa_rpm_repos_release(&r);
	copa_rpm_vars_release(&vars);

	/* an error names the file of the image */
	put_file(v, "etc/distro.repos.d/b.repo", "[b]\nenabled=2\nbaseurl=http://b/\n");
	std_vars(&vars);
	assert_int_equal(copa_rpm_repos_read_view(v, &vars, &r, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "'etc/distro.repos.d/b.repo' line 2"));
	copa_rpm_repos_release(&r);
	copa_rpm_vars_release(&vars);
	copa_view_free(v);
}

static void basearch(void **state)
{
	assert_string_equal(copa_rpm_basearch("i686"), "i386");
	assert_string_equal(copa_rpm_basearch("armv7hl"), "armhfp");
	assert_string_equal(copa_rpm_basearch("aarch64"), "aarch64");
	assert_null(copa_rpm_basearch("mips"));
	assert_null(copa_rpm_basearch(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(azure_linux),   cmocka_unit_test(rhel_shapes),
	    cmocka_unit_test(main_defaults), cmocka_unit_test(bad_input),
	    cmocka_unit_test(repeated_key),  cmocka_unit_test(from_view),
	    cmocka_unit_test(basearch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
