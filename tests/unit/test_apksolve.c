/*
 * test_apksolve.c: the apk resolver (src/pkg/apk/apksolve.h), table-driven
 * (one case a row: installed packages, repositories, world, what to
 * upgrade, the expected changes), and held out against Alpine's own apk:
 * the real 3.15.11 minirootfs upgraded from the real signed v3.16 main
 * index must give the 9 actions apk 2.12.7 plans for it, obtained with
 *   bwrap --unshare-all --bind ROOT / --ro-bind REPO /repo --proc /proc --dev /dev \
 *     /sbin/apk --repositories-file /dev/null -X /repo upgrade --simulate
 * (1 install, 7 upgrades, 1 purge); and the 3.19.4 and 3.20.3 minirootfs
 * from the same index: nothing (their packages are newer; 3.20's musl-utils
 * provides libc-utils=1.2.5-r0, which beats the index's libc-utils-0.7.2-r3).
 * The cases are listed in data/apk_heldout.txt and checked against the real
 * apk by apk_reference.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "pkg/apk/apkdb.h"
#include "pkg/apk/apkindex.h"
#include "pkg/apk/apksolve.h"
#include "testutil.h"
#include "apkutil.h"

/* "name-ver[;D:..][;p:..][;i:..][;k:..]" records separated by '|' → index text. */
static void to_index(const char *spec, struct copa_buf *out)
{
	char *dup = copa_xstrdup(spec), *save = NULL;

	for (char *rec = strtok_r(dup, "|", &save); rec; rec = strtok_r(NULL, "|", &save)) {
		char *save2 = NULL, *head = strtok_r(rec, ";", &save2), *dash = strrchr(head, '-');

		/* the version starts at the last '-' followed by a digit (and "-rN" belongs to it)
		 */
		if (dash && dash[1] == 'r' && dash > head) {
			char *d2 = dash - 1;

			while (d2 > head && *d2 != '-')
				d2--;
			dash = d2;
		}
		/* a distinct checksum per name and version: their letters and digits, padded */
		char csum[28];
		size_t k = 0;

		for (const char *c = head; *c && k < 27; c++)
			if ((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9'))
				csum[k++] = *c;
		while (k < 27)
			csum[k++] = 'A';
		csum[27] = '\0';
		copa_buf_addf(out, "C:Q1%s=\nP:%.*s\nV:%s\n", csum, (int)(dash - head), head,
		              dash + 1);
		for (char *f = strtok_r(NULL, ";", &save2); f; f = strtok_r(NULL, ";", &save2))
			copa_buf_addf(out, "%s\n", f);
		copa_buf_addc(out, '\n');
	}
	free(dup);
}

struct world {
	struct copa_arena a;
	struct copa_apk_deps deps;
};

static void changes_str(const struct copa_apksolve_out *o, struct copa_buf *out)
{
	/* sorted, so the order the solver found them in does not matter */
	char **v = copa_xcalloc(o->nchanges + 1, sizeof(*v));

	for (size_t i = 0; i < o->nchanges; i++) {
		const struct copa_apksolve_change *c = &o->changes[i];

		if (c->kind == COPA_APKSOLVE_ADD)
			v[i] = copa_xasprintf("+%s-%s", c->pkg->name, c->pkg->version);
		else if (c->kind == COPA_APKSOLVE_UPGRADE)
			v[i] = copa_xasprintf("^%s-%s>%s", c->pkg->name, c->old->version,
			                      c->pkg->version);
		else
			v[i] = copa_xasprintf("-%s-%s", c->old->name, c->old->version);
	}
	for (size_t i = 0; i < o->nchanges; i++)
		for (size_t j = i + 1; j < o->nchanges; j++)
			if (strcmp(v[i], v[j]) > 0) {
				char *t = v[i];
				v[i] = v[j];
				v[j] = t;
			}
	for (size_t i = 0; i < o->nchanges; i++)
		copa_buf_addf(out, "%s%s", i ? " " : "", v[i]);
	copa_strv_free(v);
}

struct row {
	const char *name, *installed, *repo, *edge, *world,
	    *upgrade;     /* upgrade: "*" all, or one name */
	const char *want; /* sorted changes, or "!message part" */
};

static const struct row rows[] = {
    {"upgrade all", "a-1", "a-2", NULL, "a", "*", "^a-1>2"},
    {"nothing asked", "a-1", "a-2", NULL, "a", "", ""},
    {"one name", "a-1|b-1", "a-2|b-2", NULL, "a b", "a", "^a-1>2"},
    {"new dependency", "a-1", "a-2;D:b|b-1.0-r0", NULL, "a", "*", "+b-1.0-r0 ^a-1>2"},
    {"so: provider", "a-1", "a-2;D:so:libx.so.1|libx-3;p:so:libx.so.1=1", NULL, "a", "*",
     "+libx-3 ^a-1>2"},
    {"provider_priority", "", "a-1;D:cmd:sh|dash-1;p:cmd:sh;k:100|bash-1;p:cmd:sh;k:200", NULL, "a",
     "*", "+a-1 +bash-1"},
    {"installed provider kept", "a-1;D:cmd:sh|dash-1;p:cmd:sh",
     "a-2;D:cmd:sh|dash-2;p:cmd:sh|bash-1;p:cmd:sh;k:200", NULL, "a", "*", "^a-1>2 ^dash-1>2"},
    {"unversioned provide alone", "", "a-1;D:/bin/sh|sh-1;p:/bin/sh", NULL, "a", "*",
     "!'a' needs '/bin/sh', which no repository provides"},
    {"versioned provide", "", "a-1;D:so:x=2|x-1;p:so:x=1|y-1;p:so:x=2", NULL, "a", "*",
     "+a-1 +y-1"},
    {"install_if", "x-1|docs-1", "x-1|docs-1|x-doc-1;i:x docs", NULL, "x docs", "*", "+x-doc-1"},
    {"install_if not met", "x-1", "x-1|x-doc-1;i:x docs", NULL, "x", "*", ""},
    {"install_if versioned", "b-1|s-1", "b-2|s-1|c-2;i:b=2 s", NULL, "b s", "*", "+c-2 ^b-1>2"},
    {"conflict", "", "a-1;D:!b|b-1", NULL, "a b", "*", "!'a-1' conflicts with 'b-1'"},
    {"world version", "a-1", "a-2|a-1.5", NULL, "a<2", "*", "^a-1>1.5"},
    {"world fuzzy", "a-1.2", "a-1.2.5|a-1.3", NULL, "a~1.2", "*", "^a-1.2>1.2.5"},
    {"orphan purged", "a-1;D:c|c-1", "a-2", NULL, "a", "*", "-c-1 ^a-1>2"},
    {"installed newer kept", "a-2", "a-1", NULL, "a", "*", ""},
    {"pinned repo unused", "a-1", "a-2", "a-3", "a", "*", "^a-1>2"},
    {"pinned repo used", "a-1", "a-2", "a-3", "a@edge", "*", "^a-1>3"},
    {"missing dependency", "a-1", "a-2;D:nope>=1", NULL, "a", "*",
     "!'a' needs 'nope>=1', which no repository provides"},
    {"checksum pin", "a-1", "a-2", NULL, "a><Q1a1AAAAAAAAAAAAAAAAAAAAAAAAA=", "*", ""},
    {"conflict by version", "", "a-1;D:!b<2|b-2", NULL, "a b", "*", "+a-1 +b-2"},
    {"add -u spreads to dependencies", "a-1;D:so:b|b-1;p:so:b=1|c-1", "a-2;D:so:b|b-2;p:so:b=1|c-2",
     NULL, "a c", "a", "^a-1>2 ^b-1>2"},
    {"add -u spread is order-free", "z-1;D:b|a-1;D:b|b-1", "z-1;D:b|a-2;D:b|b-2", NULL, "z a", "a",
     "^a-1>2 ^b-1>2"},
    {"install_if follows its condition", "x-1|s-1;i:x=1", "x-2|s-1;i:x=1|s-2;i:x=2", NULL, "x", "*",
     "^s-1>2 ^x-1>2"},
    {"install_if no longer met", "x-1|s-1;i:x=1", "x-2|s-1;i:x=1", NULL, "x", "*", "-s-1 ^x-1>2"},
};

static void table(void **state)
{
	for (size_t r = 0; r < COPA_ARRAY_SIZE(rows); r++) {
		const struct row *w = &rows[r];
		struct copa_err err = COPA_ERR_INIT;
		struct copa_apk_index inst = COPA_APK_INDEX_INIT, repo = COPA_APK_INDEX_INIT,
		                      edge = COPA_APK_INDEX_INIT;
		struct copa_buf t = COPA_BUF_INIT, got = COPA_BUF_INIT;
		struct copa_arena a = COPA_ARENA_INIT;
		struct copa_apk_deps world;
		struct copa_apksolve_repo repos[2];
		struct copa_apksolve_out out;
		const char *up = w->upgrade;
		struct copa_apksolve_in in = {0};
		int rc;

		to_index(w->installed, &t);
		assert_ok(copa_apk_index_parse_text(&inst, t.p, t.len, "installed", &err));
		copa_buf_reset(&t);
		to_index(w->repo, &t);
		assert_ok(copa_apk_index_parse_text(&repo, t.p, t.len, "repo", &err));
		copa_buf_reset(&t);
		if (w->edge) {
			to_index(w->edge, &t);
			assert_ok(copa_apk_index_parse_text(&edge, t.p, t.len, "edge", &err));
		}
		assert_ok(copa_apk_deps_parse(&a, copa_blob_str(w->world), &world, &err));
		repos[0] = (struct copa_apksolve_repo){
		    (const struct copa_apk_pkg *const *)repo.pkgs, repo.n, NULL};
		repos[1] = (struct copa_apksolve_repo){
		    (const struct copa_apk_pkg *const *)edge.pkgs, edge.n, "edge"};
		in.installed = (const struct copa_apk_pkg *const *)inst.pkgs;
		in.ninstalled = inst.n;
		in.repos = repos;
		in.nrepos = w->edge ? 2 : 1;
		in.world = &world;
		in.upgrade_all = strcmp(up, "*") == 0;
		if (*up && !in.upgrade_all) {
			in.upgrade = &w->upgrade;
			in.nupgrade = 1;
		}
		rc = copa_apksolve(&in, &out, &err);
		if (w->want[0] == '!') {
			if (rc == 0 || !strstr(err.msg, w->want + 1))
				fail_msg("%s: want error '%s', got rc %d '%s'", w->name,
				         w->want + 1, rc, err.msg);
		} else {
			if (rc < 0)
				fail_msg("%s: %s", w->name, err.msg);
			changes_str(&out, &got);
			if (strcmp(copa_buf_str(&got), w->want) != 0)
				fail_msg("%s: want '%s', got '%s'", w->name, w->want,
				         copa_buf_str(&got));
			copa_apksolve_out_release(&out);
		}
		copa_apk_index_release(&inst);
		copa_apk_index_release(&repo);
		copa_apk_index_release(&edge);
		copa_arena_release(&a);
		copa_buf_release(&t);
		copa_buf_release(&got);
	}
}

/* One held-out case: copa's plan must be the list apk itself made. */
static void held_out_case(const char *root, const char *index_rel, const char *expected,
                          size_t count, const char *add_u)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf db_text = COPA_BUF_INIT, world_text = COPA_BUF_INIT,
	                idx_file = COPA_BUF_INIT, got = COPA_BUF_INIT, want = COPA_BUF_INIT;
	struct copa_apkdb db;
	struct copa_apk_index idx = COPA_APK_INDEX_INIT;
	struct copa_apk_keys *keys = copa_apk_keys_new();
	char *keydir = copa_test_shared_path("alpine/keys");
	char *want_path = copa_xasprintf("%s/%s", COPA_TEST_DATA, expected);
	struct copa_arena a = COPA_ARENA_INIT;
	struct copa_apk_deps world;
	const struct copa_apk_pkg **inst;
	struct copa_apksolve_repo repo;
	struct copa_apksolve_in in;
	struct copa_apksolve_out out;

	apk_rootfs_read(root, "lib/apk/db/installed", &db_text);
	apk_rootfs_read(root, "etc/apk/world", &world_text);
	copa_apkdb_init(&db);
	assert_ok(copa_apkdb_parse(&db, db_text.p, db_text.len, "installed", &err));
	/* apk add -u NAME upgrades NAME and adds it to world */
	if (add_u) {
		copa_buf_addc(&world_text, ' ');
		copa_buf_adds(&world_text, add_u);
	}
	assert_ok(copa_apk_deps_parse(&a, copa_blob(world_text.p, world_text.len), &world, &err));
	assert_ok(copa_apk_keys_add_dir(keys, AT_FDCWD, keydir, &err));
	apk_read_shared(index_rel, &idx_file);
	assert_ok(copa_apk_index_load(&idx, idx_file.p, idx_file.len, keys, index_rel, &err));

	inst = copa_xcalloc(db.n, sizeof(*inst));
	for (size_t i = 0; i < db.n; i++)
		inst[i] = &db.pkgs[i]->pkg;
	repo =
	    (struct copa_apksolve_repo){(const struct copa_apk_pkg *const *)idx.pkgs, idx.n, NULL};
	in = (struct copa_apksolve_in){inst,   db.n,          &repo,  1,
	                               &world, add_u == NULL, &add_u, add_u != NULL};
	assert_ok(copa_apksolve(&in, &out, &err));
	changes_str(&out, &got);
	print_message("%s %s: copa plans %zu actions: %s\n", root, add_u ? add_u : "upgrade",
	              out.nchanges, copa_buf_str(&got));
	/* the list apk itself plans (apk_reference.py keeps it so), one action a line */
	assert_ok(copa_fs_read_file(AT_FDCWD, want_path, 4096, &want, &err));
	while (want.len && want.p[want.len - 1] == '\n')
		copa_buf_truncate(&want, want.len - 1);
	for (size_t i = 0; i < want.len; i++)
		if (want.p[i] == '\n')
			want.p[i] = ' ';
	/* (an empty file can leave want.p without its NUL: compare by length) */
	assert_string_equal(copa_buf_str(&got), want.len ? want.p : "");
	/* apk --simulate's "OK: N MiB in COUNT packages" counts the database as it is */
	assert_int_equal(db.n, count);
	copa_apksolve_out_release(&out);
	free(inst);
	free(keydir);
	free(want_path);
	copa_apk_keys_free(keys);
	copa_apk_index_release(&idx);
	copa_apkdb_release(&db);
	copa_arena_release(&a);
	copa_buf_release(&db_text);
	copa_buf_release(&world_text);
	copa_buf_release(&idx_file);
	copa_buf_release(&got);
	copa_buf_release(&want);
}

static void held_out(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf list = COPA_BUF_INIT;
	struct copa_blob rest, line;
	int cases = 0;

	assert_ok(
	    copa_fs_read_file(AT_FDCWD, COPA_TEST_DATA "/apk_heldout.txt", 65536, &list, &err));
	rest = copa_blob(list.p, list.len);
	while (copa_blob_split(&rest, '\n', &line)) {
		char arch[32], root[256], index_rel[256], expected[128], mode[128] = "";
		size_t count;
		char *l = copa_blob_dup(line);

		if (l[0] && l[0] != '#' &&
		    sscanf(l, "%31s %255s %255s %127s %zu %127s", arch, root, index_rel, expected,
		           &count, mode) >= 5) {
			held_out_case(root, index_rel, expected, count,
			              strncmp(mode, "add-u:", 6) == 0 ? mode + 6 : NULL);
			cases++;
		}
		free(l);
	}
	assert_true(cases >= 8);
	copa_buf_release(&list);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(table),
	    cmocka_unit_test(held_out),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
