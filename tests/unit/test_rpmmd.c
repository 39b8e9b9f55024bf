/*
 * test_rpmmd.c: rpm-md repositories built here with the real tools
 * (rpmbuild, createrepo_c) load into libsolv with every primary compression
 * (gzip, xz, bzip2 from createrepo_c; zstd recompressed by the test, since
 * Debian's createrepo_c has no zstd, with repomd.xml edited to match), and
 * tampered, mislabelled or hostile metadata is refused before it is parsed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "pkg/rpm/rpmmd.h"
#include "rpmtest.h"

#include <solv/pool.h>
#include <solv/poolarch.h>
#include <solv/repo.h>

static char *top; /* the test's temporary directory */

static void sh(const char *script)
{
	_cleanup_free_ char *cmd = copa_xasprintf("(set -e; T='%s'; %s\n) 2>&1", top, script);
	struct copa_buf out = COPA_BUF_INIT;

	if (rt_run(cmd, &out) != 0) {
		fprintf(stderr, "setup script failed: %s\n%s\n", script, copa_buf_str(&out));
		exit(1);
	}
	copa_buf_release(&out);
}

static const char spec[] = "Name: %{pname}\nVersion: %{ver}\nRelease: %{rel}\n%{?ep:Epoch: %{ep}}\n"
                           "Summary: copa test package\nLicense: MIT\nBuildArch: noarch\n"
                           "%{?req:Requires: %{req}}\n"
                           "%description\ncopa test package\n"
                           "%install\nmkdir -p %{buildroot}/usr/share/%{pname}\n"
                           "echo %{ver} > %{buildroot}/usr/share/%{pname}/version\n"
                           "%files\n/usr/share/%{pname}/version\n";

static int setup(void **state)
{
	top = rt_mkdtemp();
	rt_write(top, "p.spec", spec);
	sh("b() { rpmbuild --quiet -bb --define \"_topdir $T/top\" --define \"_rpmdir $T/rpms\" "
	   "\"$@\" \"$T/p.spec\" >/dev/null; }\n"
	   "b --define 'pname copa-hello' --define 'ver 1.0' --define 'rel 1' --define 'ep 1'\n"
	   "b --define 'pname copa-hello' --define 'ver 1.1' --define 'rel 2' --define 'ep 1' "
	   "--define 'req copa-lib >= 2.0'\n"
	   "b --define 'pname copa-lib' --define 'ver 2.0' --define 'rel 1.cm2'\n"
	   "for c in gz xz bz2; do mkdir -p \"$T/$c\"; createrepo_c -q --general-compress-type=$c "
	   "--no-database -o \"$T/$c\" \"$T/rpms\"; done\n"
	   /* zstd: createrepo_c 0.17 on Debian cannot write it; recompress and fix repomd */
	   "cp -r \"$T/gz\" \"$T/zst\"; p=$(ls \"$T\"/zst/repodata/*-primary.xml.gz)\n"
	   "gunzip -c \"$p\" | zstd -q -o \"$T/zst/repodata/primary.xml.zst\"\n"
	   "o=$(sha256sum \"$p\" | cut -d' ' -f1); n=$(sha256sum "
	   "\"$T/zst/repodata/primary.xml.zst\" | cut -d' ' -f1)\n"
	   "os=$(stat -c %s \"$p\"); ns=$(stat -c %s \"$T/zst/repodata/primary.xml.zst\")\n"
	   "sed -i \"s|repodata/$(basename \"$p\")|repodata/primary.xml.zst|; s|$o|$n|; "
	   "s|<size>$os</size>|<size>$ns</size>|\" \"$T/zst/repodata/repomd.xml\"\n"
	   "rm \"$p\"\n"
	   "grep -q primary.xml.zst \"$T/zst/repodata/repomd.xml\"\n"
	   /* uncompressed, as some old repositories and local mirrors have it */
	   "cp -r \"$T/gz\" \"$T/plain\"; p=$(ls \"$T\"/plain/repodata/*-primary.xml.gz)\n"
	   "gunzip -c \"$p\" > \"$T/plain/repodata/primary.xml\"\n"
	   "o=$(sha256sum \"$p\" | cut -d' ' -f1); n=$(sha256sum \"$T/plain/repodata/primary.xml\" "
	   "| cut -d' ' -f1)\n"
	   "os=$(stat -c %s \"$p\"); ns=$(stat -c %s \"$T/plain/repodata/primary.xml\")\n"
	   "sed -i \"s|repodata/$(basename \"$p\")|repodata/primary.xml|; s|$o|$n|; "
	   "s|<size>$os</size>|<size>$ns</size>|\" \"$T/plain/repodata/repomd.xml\"\n"
	   "rm \"$p\"\n");
	return 0;
}

static int teardown(void **state)
{
	rt_rm(top);
	free(top);
	return 0;
}

static Pool *new_pool(void)
{
	Pool *pool = pool_create();

	pool_setarch(pool, "x86_64");
	return pool;
}

/* name-[epoch:]version-release.arch of every solvable of repo, sorted, one a line. */
static char *list(Repo *repo)
{
	char **v = copa_xcalloc((size_t)repo->nsolvables + 1, sizeof(*v));
	struct copa_buf b = COPA_BUF_INIT;
	Solvable *s;
	Id p;
	size_t n = 0;

	FOR_REPO_SOLVABLES(repo, p, s)
	v[n++] = copa_xstrdup(pool_solvable2str(repo->pool, s));
	qsort(v, n, sizeof(*v), rt_cmpstr);
	for (size_t i = 0; i < n; i++) {
		copa_buf_addf(&b, "%s\n", v[i]);
		free(v[i]);
	}
	free(v);
	return copa_buf_detach(&b, NULL);
}

static char *rpm_q(void)
{
	_cleanup_free_ char *cmd = copa_xasprintf(
	    "rpm -qp --qf '%%{NAME}-%%|EPOCH?{%%{EPOCH}:}:{}|%%{VERSION}-%%{RELEASE}.%%{ARCH}\\n' "
	    "'%s'/rpms/noarch/*.rpm 2>/dev/null | LC_ALL=C sort",
	    top);
	struct copa_buf out = COPA_BUF_INIT;

	assert_int_equal(rt_run(cmd, &out), 0);
	return copa_buf_detach(&out, NULL);
}

static int open_dir(const char *sub)
{
	_cleanup_free_ char *p = copa_xasprintf("%s/%s", top, sub);
	int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

static void each_compression(void **state)
{
	static const char *const kinds[] = {"gz", "xz", "bz2", "zst", "plain"};
	_cleanup_free_ char *want = rpm_q();

	assert_non_null(strstr(want, "copa-hello-1:1.1-2.noarch\n"));
	for (size_t i = 0; i < COPA_ARRAY_SIZE(kinds); i++) {
		Pool *pool = new_pool();
		Repo *repo = repo_create(pool, kinds[i]);
		struct copa_err err = COPA_ERR_INIT;
		int fd = open_dir(kinds[i]);
		int n = copa_rpmmd_load_dir(repo, fd, &err);
		_cleanup_free_ char *got = NULL;

		if (n < 0)
			fail_msg("%s: %s", kinds[i], err.msg);
		assert_int_equal(n, 3);
		got = list(repo);
		assert_string_equal(got, want);
		/* the dependency made it through */
		{
			Solvable *s;
			Id p;
			bool seen = false;

			FOR_REPO_SOLVABLES(repo, p, s)
			{
				Queue q;

				queue_init(&q);
				solvable_lookup_deparray(s, SOLVABLE_REQUIRES, &q, -1);
				for (int j = 0; j < q.count; j++)
					if (strcmp(pool_dep2str(pool, q.elements[j]),
					           "copa-lib >= 2.0") == 0)
						seen = true;
				queue_free(&q);
			}
			assert_true(seen);
		}
		close(fd);
		pool_free(pool);
	}
}

/* Copies the gz repository to sub and runs script in it ($R is the copy). */
static int variant(const char *sub, const char *script)
{
	_cleanup_free_ char *s =
	    copa_xasprintf("R=\"$T/%s\"; rm -rf \"$R\"; cp -r \"$T/gz\" \"$R\"; "
	                   "P=$(ls \"$R\"/repodata/*-primary.xml.gz); %s",
	                   sub, script);

	sh(s);
	return open_dir(sub);
}

static void load_fails(const char *sub, const char *script, int code, const char *want)
{
	Pool *pool = new_pool();
	Repo *repo = repo_create(pool, sub);
	struct copa_err err = COPA_ERR_INIT;
	int fd = variant(sub, script);

	if (copa_rpmmd_load_dir(repo, fd, &err) != -1)
		fail_msg("%s: accepted", sub);
	if (err.code != code || !strstr(err.msg, want))
		fail_msg("%s: got [%s] '%s', want [%s] '%s'", sub, copa_errcode_str(err.code),
		         err.msg, copa_errcode_str(code), want);
	assert_int_equal(repo->nsolvables, 0); /* nothing half-loaded */
	close(fd);
	pool_free(pool);
}

/* Rewrites repomd.xml's primary entry to vouch for whatever $P now holds. */
#define FIXUP                                                                                      \
	"h=$(sha256sum \"$P\" | cut -d' ' -f1); s=$(stat -c %s \"$P\"); "                          \
	"python3 - \"$R/repodata/repomd.xml\" \"$h\" \"$s\" <<'EOF'\n"                             \
	"import re,sys\np,h,sz=sys.argv[1:]\ns=open(p).read()\n"                                   \
	"i=s.index('<data type=\"primary\">');e=s.index('</data>',i)\nb=s[i:e]\n"                  \
	"b=re.sub(r'<checksum type=\"sha256\">[0-9a-f]+<','<checksum type=\"sha256\">'+h+'<',b)\n" \
	"b=re.sub(r'<open-checksum[^>]*>[0-9a-f]+</open-checksum>','',b)\n"                        \
	"b=re.sub(r'<size>[0-9]+<','<size>'+sz+'<',b)\n"                                           \
	"open(p,'w').write(s[:i]+b+s[e:])\nEOF"

static void refused(void **state)
{
	/* a tampered primary (its checksum no longer matches) is never parsed */
	load_fails("tampered",
	           "gunzip -c \"$P\" | sed 's/copa-lib/evil-lib/' | gzip -n > \"$P.new\"; "
	           "mv \"$P.new\" \"$P\"",
	           COPA_E_VERIFY, "does not match repomd.xml: sha256");
	/* a truncated one */
	load_fails("truncated", "head -c 100 \"$P\" > \"$P.new\"; mv \"$P.new\" \"$P\"",
	           COPA_E_VERIFY, "does not match repomd.xml");
	/* the size in repomd.xml disagrees */
	load_fails("size",
	           "s=$(stat -c %s \"$P\"); sed -i \"s|<size>$s</size>|<size>1$s</size>|\" "
	           "\"$R/repodata/repomd.xml\"",
	           COPA_E_VERIFY, "repomd.xml says");
	/* the open-checksum disagrees with what the primary decompresses to */
	load_fails("open",
	           "python3 - \"$R/repodata/repomd.xml\" <<'EOF'\n"
	           "import re,sys\np=sys.argv[1]\ns=open(p).read()\n"
	           "i=s.index('<data type=\"primary\">')\nj=s.index('<open-checksum',i)\n"
	           "k=s.index('>',j)+1\ns=s[:k]+('0'*64)+s[k+64:]\nopen(p,'w').write(s)\nEOF",
	           COPA_E_VERIFY, "open-checksum");
	/* a weak checksum type */
	load_fails("sha1",
	           "h=$(sha1sum \"$P\" | cut -d' ' -f1); o=$(sha256sum \"$P\" | cut -d' ' -f1); "
	           "sed -i \"s|<checksum type=\\\"sha256\\\">$o|<checksum type=\\\"sha1\\\">$h|\" "
	           "\"$R/repodata/repomd.xml\"",
	           COPA_E_VERIFY, "does not trust");
	/* a location out of the repository */
	load_fails("escape",
	           "sed -i \"s|href=\\\"repodata/$(basename \"$P\")|href=\\\"../../etc/passwd|\" "
	           "\"$R/repodata/repomd.xml\"",
	           COPA_E_INPUT, "is not a relative path");
	/* a symlinked primary is not followed */
	load_fails("symlink", "mv \"$P\" \"$R/elsewhere\"; ln -s ../elsewhere \"$P\"", COPA_E_INPUT,
	           "passes through a symlink");
	/* no primary entry */
	load_fails("noprimary",
	           "sed -i 's|type=\"primary\"|type=\"nothing\"|' \"$R/repodata/repomd.xml\"",
	           COPA_E_INPUT, "lists no primary index");
	/* not XML at all */
	load_fails("garbage", "echo 'hello' > \"$R/repodata/repomd.xml\"", COPA_E_INPUT,
	           "is not a repomd.xml");
	/* a primary that verifies but is not primary.xml */
	load_fails("notprimary",
	           "echo '<metadata><package type=\"rpm\"><name>x' | gzip -n > \"$P\"; " FIXUP,
	           COPA_E_INPUT, "cannot parse");
	/* a truncated zstd frame that repomd vouches for: libsolv's own zstd reader spun
	 * forever on it (fuzz_repomd); it must fail, not hang */
	load_fails("zstd-truncated", "printf '\\050\\265\\057\\375' > \"$P\"; " FIXUP, COPA_E_INPUT,
	           "cannot decompress");
	/* an empty primary */
	load_fails("empty", ": > \"$P\"; " FIXUP, COPA_E_INPUT, "");
}

/* repomd.xml alone: what is taken from it. */
static void repomd_fields(void **state)
{
	_cleanup_free_ char *p = copa_xasprintf("%s/xz/repodata/repomd.xml", top);
	struct copa_buf xml = COPA_BUF_INIT;
	struct copa_repomd md;
	struct copa_err err = COPA_ERR_INIT;

	assert_int_equal(copa_fs_read_file(AT_FDCWD, p, 1 << 20, &xml, &err), 0);
	assert_int_equal(copa_repomd_parse(xml.p, xml.len, "repomd.xml", &md, &err), 0);
	assert_true(copa_blob_starts(copa_blob_str(md.primary.location), "repodata/"));
	assert_true(copa_blob_ends(copa_blob_str(md.primary.location), "-primary.xml.xz"));
	assert_int_equal(md.primary.chksum_type, REPOKEY_TYPE_SHA256);
	assert_int_not_equal(md.primary.open_type, 0);
	assert_true(md.primary.size > 0);
	copa_repomd_release(&md);
	assert_int_equal(copa_repomd_parse("", 0, "empty", &md, &err), -1);
	assert_int_equal(copa_repomd_parse(xml.p, COPA_REPOMD_MAX + 1, "big", &md, &err), -1);
	assert_int_equal(err.code, COPA_E_LIMIT);
	copa_buf_release(&xml);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(each_compression),
	    cmocka_unit_test(refused),
	    cmocka_unit_test(repomd_fields),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
