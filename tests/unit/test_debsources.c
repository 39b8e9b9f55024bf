/* Unit tests: APT sources (one-line and deb822), --repo entries, mirror rewrites,
 * default repositories from os-release, and the view reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "pkg/deb/probe_repo.h"
#include "pkg/deb/debsources.h"
#include "pkg/osrelease.h"
#include "testutil.h"
#include "util/mem.h"

#include <string.h>

static size_t strv_len(char **v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

/* Captures warnings so tests can assert on them. */
struct sink {
	struct copa_out out;
	char last[512];
	int warnings;
};

static void sink_log(struct copa_out *out, enum copa_log_level level, const char *msg)
{
	struct sink *s = (struct sink *)out;

	if (level >= COPA_LOG_WARN) {
		s->warnings++;
		snprintf(s->last, sizeof(s->last), "%s", msg);
	}
}

static void one_line_format(void **state)
{
	static const char text[] =
	    "# comment\n"
	    "deb http://deb.debian.org/debian bookworm main contrib\n"
	    "deb-src http://deb.debian.org/debian bookworm main\n"
	    "\n"
	    "deb [arch=amd64,i386 signed-by=/usr/share/keyrings/x.gpg] https://example.com/apt/ "
	    "stable main # trailing\n"
	    "deb [ trusted=yes check-valid-until=no ] http://local/repo ./\n"
	    "deb[arch=arm64] http://ports/ubuntu-ports jammy-security main universe\n"
	    "deb cdrom:[Debian 12]/ bookworm main\n"
	    "rpm http://x/y z main\n";
	struct copa_err err = COPA_ERR_INIT;
	struct copa_deb_sources s = {0};
	struct sink sink = {.out = {.log = sink_log}};

	assert_ok(copa_deb_sources_parse_list(&s, text, sizeof(text) - 1, "etc/apt/sources.list",
	                                      &sink.out, &err));
	assert_int_equal(s.n, 4);
	assert_string_equal(s.v[0].uri, "http://deb.debian.org/debian");
	assert_string_equal(s.v[0].suite, "bookworm");
	assert_false(s.v[0].flat);
	assert_int_equal(strv_len(s.v[0].components), 2);
	assert_string_equal(s.v[0].components[1], "contrib");
	assert_null(s.v[0].archs);
	assert_null(s.v[0].signed_by);
	assert_string_equal(s.v[0].where, "etc/apt/sources.list:2");
	assert_int_equal(s.v[0].check_valid_until, -1);

	assert_string_equal(s.v[1].uri, "https://example.com/apt");
	assert_int_equal(strv_len(s.v[1].archs), 2);
	assert_string_equal(s.v[1].archs[1], "i386");
	assert_string_equal(s.v[1].signed_by[0], "/usr/share/keyrings/x.gpg");
	assert_false(s.v[1].trusted);

	assert_true(s.v[2].flat);
	assert_true(s.v[2].trusted);
	assert_int_equal(s.v[2].check_valid_until, 0);
	assert_int_equal(strv_len(s.v[2].components), 0);

	assert_string_equal(s.v[3].archs[0], "arm64");
	assert_string_equal(s.v[3].suite, "jammy-security");
	/* cdrom and rpm entries are skipped with a warning each. */
	assert_int_equal(sink.warnings, 2);
	copa_deb_sources_release(&s);
}

static void one_line_errors(void **state)
{
	static const struct {
		const char *line;
		const char *msg;
	} cases[] = {
	    {"deb http://x/debian\n", "expected a suite"},
	    {"deb http://x/debian bookworm\n", "no component"},
	    {"deb http://x/debian ./ main\n", "components given for the flat"},
	    {"deb [arch=amd64 http://x/debian bookworm main\n", "no closing ']'"},
	    {"deb [signed-by=keys.gpg] http://x/debian bookworm main\n", "neither an absolute"},
	    {"deb [trusted=maybe] http://x/debian bookworm main\n", "wants yes or no"},
	    {"deb notauri bookworm main\n", "expected a repository URI"},
	    {"deb http://x/debian ../../etc main\n", "expected a suite"},
	    {"deb http://x/debian bookworm ma\"in\n", "invalid component"},
	};

	for (size_t i = 0; i < COPA_ARRAY_SIZE(cases); i++) {
		struct copa_err err = COPA_ERR_INIT;
		struct copa_deb_sources s = {0};

		assert_int_equal(copa_deb_sources_parse_list(&s, cases[i].line,
		                                             strlen(cases[i].line), "f.list", NULL,
		                                             &err),
		                 -1);
		if (!strstr(err.msg, cases[i].msg) || !strstr(err.msg, "f.list:1"))
			fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].msg);
		copa_deb_sources_release(&s);
	}
}

static const char debian_sources[] = "# Modernized from /etc/apt/sources.list\n"
                                     "Types: deb deb-src\n"
                                     "URIs: http://deb.debian.org/debian\n"
                                     "Suites: bookworm bookworm-updates\n"
                                     "Components: main\n"
                                     "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
                                     "\n"
                                     "Types: deb\n"
                                     "URIs: http://deb.debian.org/debian-security\n"
                                     "Suites: bookworm-security\n"
                                     "Components: main\n"
                                     "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
                                     "\n"
                                     "Types: deb\n"
                                     "URIs: http://example.com/a http://example.com/b/\n"
                                     "Suites: stable\n"
                                     "Components: main\n"
                                     "Enabled: no\n"
                                     "\n"
                                     "Types: deb-src\n"
                                     "URIs: http://example.com/src\n"
                                     "Suites: stable\n"
                                     "Components: main\n"
                                     "\n"
                                     "Types: deb\n"
                                     "URIs: http://example.com/a http://example.com/b/\n"
                                     "Suites: stable testing\n"
                                     "Components: main, contrib\n"
                                     "Architectures: amd64\n"
                                     "Trusted: yes\n"
                                     "Check-Valid-Until: false\n"
                                     "Signed-By:\n"
                                     " -----BEGIN PGP PUBLIC KEY BLOCK-----\n"
                                     " .\n"
                                     " mDMEZQAAABYJKwYBBAHaRw8BAQdA\n"
                                     " =abcd\n"
                                     " -----END PGP PUBLIC KEY BLOCK-----\n";

static void deb822_format(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_deb_sources s = {0};

	assert_ok(copa_deb_sources_parse_deb822(&s, debian_sources, sizeof(debian_sources) - 1,
	                                        "etc/apt/sources.list.d/debian.sources", NULL,
	                                        &err));
	/* 2 suites + 1, the disabled entry and the deb-src entry dropped, 2 URIs x 2 suites. */
	assert_int_equal(s.n, 7);
	assert_string_equal(s.v[0].suite, "bookworm");
	assert_string_equal(s.v[1].suite, "bookworm-updates");
	assert_string_equal(s.v[1].where, "etc/apt/sources.list.d/debian.sources:2");
	assert_string_equal(s.v[1].signed_by[0], "/usr/share/keyrings/debian-archive-keyring.gpg");
	assert_string_equal(s.v[2].uri, "http://deb.debian.org/debian-security");
	assert_string_equal(s.v[3].uri, "http://example.com/a");
	assert_string_equal(s.v[3].suite, "stable");
	assert_string_equal(s.v[4].suite, "testing");
	assert_string_equal(s.v[5].uri, "http://example.com/b");
	assert_int_equal(strv_len(s.v[6].components), 2);
	assert_string_equal(s.v[6].components[1], "contrib");
	assert_string_equal(s.v[6].archs[0], "amd64");
	assert_true(s.v[6].trusted);
	assert_int_equal(s.v[6].check_valid_until, 0);
	assert_null(s.v[6].signed_by);
	assert_non_null(s.v[6].signed_by_key);
	assert_string_equal(s.v[6].signed_by_key,
	                    "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZQAAABYJKwYBBAHaRw8BAQdA\n"
	                    "=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n");
	copa_deb_sources_release(&s);
}

static void deb822_errors(void **state)
{
	static const struct {
		const char *text;
		const char *msg;
	} cases[] = {
	    {"URIs: http://x/\nSuites: a\nComponents: main\n", "no 'Types'"},
	    {"Types: deb\nSuites: a\nComponents: main\n", "'URIs' and 'Suites'"},
	    {"Types: deb\nURIs: http://x/\nSuites: a\n", "no component"},
	    {"Types: deb\nURIs: ftp\nSuites: a\nComponents: main\n", "invalid URI"},
	    {"Types: deb\nURIs: http://x/\nSuites: a\nComponents: main\nEnabled: perhaps\n",
	     "wants yes or no"},
	    {"Types: deb\nURIs: http://x/\nSuites: a\nComponents: main\nSigned-By: relative.gpg\n",
	     "neither an absolute"},
	    {" continuation\nTypes: deb\n", "continuation line outside"},
	};

	for (size_t i = 0; i < COPA_ARRAY_SIZE(cases); i++) {
		struct copa_err err = COPA_ERR_INIT;
		struct copa_deb_sources s = {0};

		assert_int_equal(copa_deb_sources_parse_deb822(&s, cases[i].text,
		                                               strlen(cases[i].text), "x.sources",
		                                               NULL, &err),
		                 -1);
		if (!strstr(err.msg, cases[i].msg))
			fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].msg);
		copa_deb_sources_release(&s);
	}
}

static void fingerprints_in_signed_by(void **state)
{
	static const char text[] = "deb [signed-by=0123456789ABCDEF0123456789ABCDEF01234567,"
	                           "/etc/apt/keyrings/k.asc] http://x/debian stable main\n";
	struct copa_err err = COPA_ERR_INIT;
	struct copa_deb_sources s = {0};

	assert_ok(copa_deb_sources_parse_list(&s, text, sizeof(text) - 1, "f", NULL, &err));
	assert_int_equal(strv_len(s.v[0].signed_by), 2);
	assert_true(copa_deb_is_fingerprint(s.v[0].signed_by[0]));
	assert_false(copa_deb_is_fingerprint(s.v[0].signed_by[1]));
	assert_true(copa_deb_is_fingerprint("0123456789ABCDEF0123456789ABCDEF01234567!"));
	assert_false(copa_deb_is_fingerprint("0123456789ABCDEF"));
	copa_deb_sources_release(&s);
}

static void user_repos(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_deb_sources s = {0};

	assert_ok(copa_deb_sources_add_user(
	    &s, "deb [signed-by=/k.gpg] http://mirror/debian bookworm main", &err));
	assert_ok(copa_deb_sources_add_user(&s, "file:///srv/mirror/debian bookworm main", &err));
	assert_int_equal(s.n, 2);
	assert_true(s.v[0].user);
	assert_string_equal(s.v[0].where, "--repo");
	assert_string_equal(s.v[1].uri, "file:///srv/mirror/debian");
	assert_int_equal(copa_deb_sources_add_user(&s, "deb-src http://x/ a main", &err), -1);
	assert_int_equal(err.code, COPA_E_USAGE);
	assert_int_equal(copa_deb_sources_add_user(&s, "deb http://x/", &err), -1);
	assert_int_equal(err.code, COPA_E_USAGE);
	assert_int_equal(
	    copa_deb_sources_add_user(&s, "deb http://x/ a main\ndeb http://y/ b main", &err), -1);
	copa_deb_sources_release(&s);
}

static void mirror_rewrite(void **state)
{
	static const char text[] =
	    "deb http://deb.debian.org/debian bookworm main\n"
	    "deb http://deb.debian.org/debian-security bookworm-security main\n"
	    "deb http://deb.debian.org/debian/ bookworm-updates main\n";
	struct copa_err err = COPA_ERR_INIT;
	struct copa_deb_sources s = {0};

	assert_ok(copa_deb_sources_parse_list(&s, text, sizeof(text) - 1, "f", NULL, &err));
	/* A prefix rule matches whole path components only: debian-security stays. */
	assert_int_equal(
	    copa_deb_sources_rewrite(&s, "http://deb.debian.org/debian/=http://m:3142/d/", &err),
	    2);
	assert_string_equal(s.v[0].uri, "http://m:3142/d");
	assert_string_equal(s.v[1].uri, "http://deb.debian.org/debian-security");
	assert_string_equal(s.v[2].uri, "http://m:3142/d");
	assert_int_equal(copa_deb_sources_rewrite(&s, "nonsense", &err), -1);
	assert_int_equal(err.code, COPA_E_USAGE);
	copa_deb_sources_release(&s);
}

static void urls(void **state)
{
	struct copa_deb_source flat = {.uri = "http://x/repo", .suite = "./", .flat = true};
	struct copa_deb_source sub = {.uri = "http://x/repo", .suite = "amd64/", .flat = true};
	struct copa_deb_source dists = {.uri = "http://x/debian", .suite = "bookworm"};
	char *u;

	u = copa_deb_source_url(&flat, NULL, "InRelease");
	assert_string_equal(u, "http://x/repo/InRelease");
	free(u);
	u = copa_deb_source_url(&sub, NULL, "Packages");
	assert_string_equal(u, "http://x/repo/amd64/Packages");
	free(u);
	u = copa_deb_source_url(&dists, "http://archive/debian", "InRelease");
	assert_string_equal(u, "http://archive/debian/dists/bookworm/InRelease");
	free(u);
}

/* One os-release case: text, expected id, codename. */
static const struct {
	const char *text;
	const char *id;
	const char *codename;
} osr_cases[] = {
    {"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian "
     "GNU/Linux\"\nVERSION_ID=\"12\"\n"
     "VERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n",
     "debian", "bookworm"},
    /* distroless and slim images sometimes lack VERSION_CODENAME. */
    {"ID=debian\nVERSION_ID=\"11\"\n", "debian", "bullseye"},
    {"ID=debian\nVERSION_ID=\"10\"\n", "debian", "buster"},
    {"ID=debian\nVERSION_ID=\"13\"\n", "debian", "trixie"},
    {"ID=debian\nVERSION=\"9 (stretch)\"\n", "debian", "stretch"},
    {"ID=\"debian\"\nPRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\n", "debian", NULL},
    {"NAME=\"Ubuntu\"\nVERSION=\"22.04.3 LTS (Jammy Jellyfish)\"\nID=ubuntu\nID_LIKE=debian\n"
     "VERSION_ID=\"22.04\"\n",
     "ubuntu", "jammy"},
    {"ID=ubuntu\nVERSION_ID=\"24.04\"\nUBUNTU_CODENAME=noble\n", "ubuntu", "noble"},
    {"ID='Debian'\nVERSION_CODENAME=\"BookWorm\"\n", "debian", "bookworm"},
    {"garbage line\n=x\nID=debian\nVERSION_ID=12\n", "debian", "bookworm"},
};

static void osrelease_table(void **state)
{
	for (size_t i = 0; i < COPA_ARRAY_SIZE(osr_cases); i++) {
		struct copa_err err = COPA_ERR_INIT;
		struct copa_osrelease o;

		assert_ok(
		    copa_osrelease_parse(osr_cases[i].text, strlen(osr_cases[i].text), &o, &err));
		assert_string_equal(o.id, osr_cases[i].id);
		if (osr_cases[i].codename)
			assert_string_equal(o.codename, osr_cases[i].codename);
		else
			assert_null(o.codename);
		copa_osrelease_release(&o);
	}
}

static void defaults(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_deb_sources s = {0};
	struct copa_osrelease o;
	static const char deb12[] = "ID=debian\nVERSION_ID=\"12\"\n";
	static const char deb10[] = "ID=debian\nVERSION_ID=\"10\"\n";
	static const char jammy[] = "ID=ubuntu\nVERSION_CODENAME=jammy\n";
	static const char alpine[] = "ID=alpine\nVERSION_ID=3.19.0\n";

	assert_ok(copa_osrelease_parse(deb12, sizeof(deb12) - 1, &o, &err));
	assert_ok(copa_deb_sources_default(&s, &o, "amd64", &err));
	copa_osrelease_release(&o);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.v[0].uri, "http://deb.debian.org/debian");
	assert_string_equal(s.v[0].suite, "bookworm");
	assert_string_equal(s.v[1].suite, "bookworm-updates");
	assert_string_equal(s.v[2].uri, "http://deb.debian.org/debian-security");
	assert_string_equal(s.v[2].suite, "bookworm-security");
	assert_string_equal(s.v[2].components[0], "main");
	assert_string_equal(s.v[2].fallback_uri, "http://archive.debian.org/debian-security");
	copa_deb_sources_release(&s);

	assert_ok(copa_osrelease_parse(deb10, sizeof(deb10) - 1, &o, &err));
	assert_ok(copa_deb_sources_default(&s, &o, "arm64", &err));
	copa_osrelease_release(&o);
	assert_string_equal(s.v[2].suite, "buster/updates");
	copa_deb_sources_release(&s);

	assert_ok(copa_osrelease_parse(jammy, sizeof(jammy) - 1, &o, &err));
	assert_ok(copa_deb_sources_default(&s, &o, "amd64", &err));
	assert_string_equal(s.v[0].uri, "http://archive.ubuntu.com/ubuntu");
	assert_string_equal(s.v[2].uri, "http://security.ubuntu.com/ubuntu");
	assert_string_equal(s.v[2].suite, "jammy-security");
	assert_int_equal(strv_len(s.v[0].components), 4);
	copa_deb_sources_release(&s);
	assert_ok(copa_deb_sources_default(&s, &o, "arm64", &err));
	assert_string_equal(s.v[0].uri, "http://ports.ubuntu.com/ubuntu-ports");
	assert_string_equal(s.v[2].uri, "http://ports.ubuntu.com/ubuntu-ports");
	copa_deb_sources_release(&s);
	copa_osrelease_release(&o);

	assert_ok(copa_osrelease_parse(alpine, sizeof(alpine) - 1, &o, &err));
	assert_int_equal(copa_deb_sources_default(&s, &o, "amd64", &err), -1);
	assert_int_equal(err.code, COPA_E_UNSUPPORTED);
	assert_non_null(strstr(err.msg, "--repo"));
	copa_osrelease_release(&o);
	copa_deb_sources_release(&s);
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

static void read_from_view(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_view *v = copa_view_new();
	struct copa_deb_sources s = {0};

	put_file(v, "etc/apt/sources.list", "deb http://a/debian bookworm main\n");
	put_file(v, "etc/apt/sources.list.d/z.list", "deb http://z/debian bookworm main\n");
	put_file(v, "etc/apt/sources.list.d/b.sources",
	         "Types: deb\nURIs: http://b/\nSuites: s\nComponents: main\n");
	/* Names apt ignores. */
	put_file(v, "etc/apt/sources.list.d/x.list.save", "deb http://bad/ x main\n");
	put_file(v, "etc/apt/sources.list.d/bad name.list", "deb http://bad/ x main\n");
	assert_ok(copa_deb_sources_read_view(v, &s, NULL, &err));
	assert_int_equal(s.n, 3);
	assert_string_equal(s.v[0].uri, "http://a/debian");
	assert_string_equal(s.v[1].uri, "http://b");
	assert_string_equal(s.v[2].uri, "http://z/debian");
	assert_string_equal(s.v[2].where, "etc/apt/sources.list.d/z.list:1");
	copa_deb_sources_release(&s);
	copa_view_free(v);
}

static void probe_status_file(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_view *v = copa_view_new();
	struct copa_deb_status st;

	assert_int_equal(copa_deb_probe_status(v, "amd64", &st, &err), -1);
	assert_int_equal(err.code, COPA_E_NOTFOUND);
	assert_non_null(strstr(err.msg, "no dpkg database"));
	put_file(
	    v, "var/lib/dpkg/status",
	    "Package: libc6\nStatus: install ok installed\nArchitecture: i386\nVersion: 1\n\n"
	    "Package: dpkg\nStatus: install ok installed\nArchitecture: arm64\nVersion: 1\n\n"
	    "Package: gone\nStatus: deinstall ok config-files\nArchitecture: s390x\nVersion: 1\n\n"
	    "Package: tzdata\nStatus: install ok installed\nArchitecture: all\nVersion: 1\n");
	put_file(v, "var/lib/dpkg/arch", "arm64\narmhf\n");
	/* The installed dpkg names the native architecture, whatever the hint says. */
	assert_ok(copa_deb_probe_status(v, "amd64", &st, &err));
	assert_false(st.distroless);
	assert_string_equal(st.native_arch, "arm64");
	assert_string_equal(st.foreign_archs[0], "armhf");
	assert_string_equal(st.foreign_archs[1], "i386");
	assert_null(st.foreign_archs[2]);
	copa_deb_status_release(&st);
	copa_view_free(v);
}

static void probe_status_d(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_view *v = copa_view_new();
	struct copa_deb_status st;

	put_file(v, "var/lib/dpkg/status.d/base",
	         "Package: base-files\nArchitecture: amd64\nVersion: 12");
	put_file(v, "var/lib/dpkg/status.d/base.md5sums", "d41d8cd98f00b204e9800998ecf8427e  x\n");
	put_file(v, "var/lib/dpkg/status.d/bGlic3NsMw==",
	         "Package: libssl3\nArchitecture: amd64\n"
	         "Version: 3\n");
	assert_ok(copa_deb_probe_status(v, NULL, &st, &err));
	assert_true(st.distroless);
	assert_int_equal(st.n_files, 2);
	assert_string_equal(st.native_arch, "amd64");
	assert_null(st.foreign_archs[0]);
	/* Paragraphs stay apart even when a file lacks its final newline; md5sums are skipped. */
	assert_non_null(strstr(st.text, "Version: 12\n\n"));
	assert_null(strstr(st.text, "d41d8cd98f00b204e9800998ecf8427e"));
	copa_deb_status_release(&st);
	copa_view_free(v);
	assert_string_equal(copa_deb_arch_from_oci("arm", "v7"), "armhf");
	assert_string_equal(copa_deb_arch_from_oci("arm", "v6"), "armel");
	assert_string_equal(copa_deb_arch_from_oci("386", NULL), "i386");
	assert_string_equal(copa_deb_arch_from_oci("ppc64le", NULL), "ppc64el");
	assert_null(copa_deb_arch_from_oci("wasm", NULL));
}

static void probe_repos_and_keys(void **state)
{
	static const char asc[] =
	    "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n"
	    "mDMEawhXgBYJKwYBBAHaRw8BAQdAdQGcIvkqdIpxDPoz5lP7T5xgdvEUA2zC3vgG\n"
	    "C6fzTYq0FkFybW9yIFRlc3QgPGFAZXhhbXBsZT6IkAQTFggAOBYhBBHw9Rc8b4qL\n"
	    "PdHhHwOVh9RlQZQKBQJrCFeAAhsDBQsJCAcCBhUKCQgLAgQWAgMBAh4BAheAAAoJ\n"
	    "EAOVh9RlQZQKo/8BAPTNvLKj2Krhvsv64yxOxaFCw9Dvac50Ywz0o2Z05FxgAQCy\n"
	    "w0fsTnQ/doAONeibLA26B/bKJXn+LCURAs20KJKbBQ==\n=KOwX\n"
	    "-----END PGP PUBLIC KEY BLOCK-----\n";
	struct copa_err err = COPA_ERR_INIT;
	struct copa_view *v = copa_view_new();
	struct copa_deb_sources s = {0};
	struct copa_osrelease os = {.id = "debian", .codename = "bookworm"};
	char *repos[] = {"deb http://user/debian bookworm main", NULL};
	struct copa_deb_repo_opts o = {.host_keyring_dir = "/nonexistent"};

	put_file(v, "etc/apt/sources.list",
	         "deb [signed-by=/etc/apt/keyrings/a.asc] http://a/debian bookworm main\n"
	         "deb http://b/debian bookworm main\n"
	         "deb [signed-by=/etc/apt/keyrings/missing.gpg] http://c/debian bookworm main\n");
	put_file(v, "etc/apt/keyrings/a.asc", asc);
	put_file(v, "etc/apt/trusted.gpg.d/t.asc", asc);
	assert_int_equal(copa_deb_probe_repos(v, &os, "amd64", &o, &s, &err), -1);
	assert_non_null(strstr(
	    err.msg, "etc/apt/sources.list:3: the key file "
	             "'/etc/apt/keyrings/missing.gpg' named by Signed-By is not in the image"));
	copa_deb_sources_release(&s);
	put_file(v, "etc/apt/sources.list",
	         "deb [signed-by=/etc/apt/keyrings/a.asc] http://a/debian bookworm main\n"
	         "deb http://b/debian bookworm main\n");
	o.repos = repos;
	assert_ok(copa_deb_probe_repos(v, &os, "amd64", &o, &s, &err));
	assert_int_equal(s.n, 3);
	assert_int_equal(s.v[0].keyring.len, 223);
	assert_string_equal(s.v[0].keyring_desc, "the image's '/etc/apt/keyrings/a.asc'");
	assert_int_equal(s.v[1].keyring.len, 223);
	assert_string_equal(s.v[1].keyring_desc, "the image's etc/apt/trusted.gpg(.d)");
	assert_true(s.v[2].user);
	copa_deb_sources_release(&s);
	/* --repo-replace: only the user's. */
	o.repo_replace = true;
	assert_ok(copa_deb_probe_repos(v, &os, "amd64", &o, &s, &err));
	assert_int_equal(s.n, 1);
	copa_deb_sources_release(&s);
	copa_view_free(v);
	/* No sources in the image: the release's official repositories. */
	v = copa_view_new();
	o.repos = NULL;
	o.repo_replace = false;
	assert_ok(copa_deb_probe_repos(v, &os, "amd64", &o, &s, &err));
	assert_int_equal(s.n, 3);
	assert_string_equal(s.v[2].suite, "bookworm-security");
	copa_deb_sources_release(&s);
	copa_view_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(one_line_format),
	    cmocka_unit_test(one_line_errors),
	    cmocka_unit_test(deb822_format),
	    cmocka_unit_test(deb822_errors),
	    cmocka_unit_test(fingerprints_in_signed_by),
	    cmocka_unit_test(user_repos),
	    cmocka_unit_test(mirror_rewrite),
	    cmocka_unit_test(urls),
	    cmocka_unit_test(osrelease_table),
	    cmocka_unit_test(defaults),
	    cmocka_unit_test(read_from_view),
	    cmocka_unit_test(probe_status_file),
	    cmocka_unit_test(probe_status_d),
	    cmocka_unit_test(probe_repos_and_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
