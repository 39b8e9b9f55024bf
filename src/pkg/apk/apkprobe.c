/* apkprobe.c: an Alpine image's apk configuration and verified indexes (see apkprobe.h). */
#include "pkg/apk/apkprobe.h"

#include "util/buf.h"
#include "util/fs.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SMALL_FILE_MAX (1u << 20) /* etc/apk/arch, repositories, world */

const char *copa_apk_arch_from_oci(const char *arch, const char *variant)
{
	static const struct {
		const char *oci, *variant, *apk;
	} map[] = {
	    {"amd64", NULL, "x86_64"},    {"arm64", NULL, "aarch64"},
	    {"arm", "v6", "armhf"},       {"arm", "v5", "armhf"},
	    {"arm", NULL, "armv7"},       {"386", NULL, "x86"},
	    {"ppc64le", NULL, "ppc64le"}, {"s390x", NULL, "s390x"},
	    {"riscv64", NULL, "riscv64"}, {"loong64", NULL, "loongarch64"},
	};

	if (!arch)
		return NULL;
	for (size_t i = 0; i < COPA_ARRAY_SIZE(map); i++) {
		if (strcmp(map[i].oci, arch) != 0)
			continue;
		if (map[i].variant && (!variant || strcmp(map[i].variant, variant) != 0))
			continue;
		return map[i].apk;
	}
	return NULL;
}

/* Reads a small file of the image; 1 when present, 0 when absent. */
static int read_small(struct copa_view *v, const char *path, struct copa_buf *b,
                      struct copa_err *err)
{
	if (!copa_pm_has_file(v, path))
		return 0;
	if (copa_view_read(v, path, SMALL_FILE_MAX, b, err) < 0)
		return copa_err_wrap(err, "'%s'", path);
	return 1;
}

static bool arch_ok(struct copa_blob a)
{
	if (a.n == 0 || a.n > 32)
		return false;
	for (size_t i = 0; i < a.n; i++)
		if (!((a.p[i] >= 'a' && a.p[i] <= 'z') || (a.p[i] >= '0' && a.p[i] <= '9') ||
		      a.p[i] == '_'))
			return false;
	return true;
}

static int probe_arch(struct copa_apk_probe *p, const struct copa_pm_open_opts *o,
                      struct copa_err *err)
{
	struct copa_buf b = COPA_BUF_INIT;
	const char *apk;
	int r = read_small(o->view, "etc/apk/arch", &b, err);

	if (r < 0)
		return -1;
	if (r == 1) {
		struct copa_blob rest = copa_blob(b.p, b.len), line = {0};

		copa_blob_split(&rest, '\n', &line);
		line = copa_blob_trim(line);
		if (!arch_ok(line)) {
			copa_buf_release(&b);
			return copa_err_set(err, COPA_E_INPUT,
			                    "'etc/apk/arch' does not name an architecture");
		}
		p->arch = copa_blob_dup(line);
		copa_buf_release(&b);
		return 0;
	}
	copa_buf_release(&b);
	apk = copa_apk_arch_from_oci(o->oci_arch, o->oci_variant);
	if (!apk)
		return copa_err_set(err, COPA_E_UNSUPPORTED,
		                    "the image has no 'etc/apk/arch' and its platform '%s%s%s' has "
		                    "no apk architecture",
		                    o->oci_arch ? o->oci_arch : "?", o->oci_variant ? "/" : "",
		                    o->oci_variant ? o->oci_variant : "");
	p->arch = copa_xstrdup(apk);
	return 0;
}

/* Only http(s) repositories of the image are used: a file path names the build machine. */
static int add_image_repos(struct copa_apk_probe *p, const char *text, size_t n,
                           struct copa_out *out, struct copa_err *err)
{
	struct copa_apk_repos all = COPA_APK_REPOS_INIT;
	int r = copa_apk_repos_parse(&all, text, n, "'etc/apk/repositories'", err);

	for (size_t i = 0; r == 0 && i < all.nwarn; i++)
		copa_warn(out, "apk: %s", all.warnings[i]);
	for (size_t i = 0; r == 0 && i < all.n; i++) {
		const char *u = all.v[i].url;

		if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) {
			copa_warn(
			    out,
			    "apk: repository '%s' of 'etc/apk/repositories' is not an http(s) "
			    "URL and is skipped (give a mirror with --repo)",
			    u);
			continue;
		}
		r = copa_apk_repos_add(&p->repos, u, all.v[i].tag, err);
	}
	copa_apk_repos_release(&all);
	return r;
}

static int probe_repos(struct copa_apk_probe *p, const struct copa_pm_open_opts *o,
                       struct copa_err *err)
{
	struct copa_buf b = COPA_BUF_INIT;
	int r = 0;

	if (!o->repos_replace) {
		r = read_small(o->view, "etc/apk/repositories", &b, err);
		if (r == 1) {
			r = add_image_repos(p, b.p ? b.p : "", b.len, o->out, err);
		} else if (r == 0) {
			const char *id = o->os && o->os->id ? o->os->id : "";
			const char *ver = o->os && o->os->version_id ? o->os->version_id : "";
			size_t before = p->repos.n;

			r = read_small(o->view, "etc/alpine-release", &b, err);
			if (r == 1) {
				struct copa_blob rest = copa_blob(b.p, b.len), line = {0};
				_cleanup_free_ char *rel = NULL;

				copa_blob_split(&rest, '\n', &line);
				rel = copa_blob_dup(copa_blob_trim(line));
				r = copa_apk_repos_default(&p->repos, id, rel, err);
			} else if (r == 0) {
				r = copa_apk_repos_default(&p->repos, id, ver, err);
			}
			if (r < 0 && !o->repos)
				r = copa_err_wrap(err, "the image has no 'etc/apk/repositories'");
			else if (r < 0)
				copa_err_clear(err), r = 0;
			for (size_t i = before; i < p->repos.n; i++)
				copa_info(
				    o->out,
				    "apk: the image has no 'etc/apk/repositories': using '%s'",
				    p->repos.v[i].url);
		}
	}
	/* --repo: "URL" or "@tag URL", the repositories line format. */
	for (char *const *u = o->repos; r >= 0 && u && *u; u++) {
		struct copa_apk_repos one = COPA_APK_REPOS_INIT;

		r = copa_apk_repos_parse(&one, *u, strlen(*u), "--repo", err);
		if (r == 0 && one.n != 1)
			r = copa_err_set(
			    err, COPA_E_USAGE,
			    "--repo '%s' is not an apk repository (give 'URL' or '@tag URL')", *u);
		if (r == 0)
			r = copa_apk_repos_add(&p->repos, one.v[0].url, one.v[0].tag, err);
		copa_apk_repos_release(&one);
	}
	copa_buf_release(&b);
	if (r < 0)
		return -1;
	if (p->repos.n == 0)
		return copa_err_set(err, COPA_E_INPUT,
		                    "the image configures no apk repository: give one with --repo");
	return 0;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* Every file of a key directory of the image (a key that is not one is skipped with a warning).
 */
static int keys_from_view(struct copa_apk_probe *p, struct copa_view *v, const char *dir,
                          struct copa_out *out, struct copa_err *err)
{
	struct copa_buf canon = COPA_BUF_INIT, b = COPA_BUF_INIT;
	const struct copa_view_entry *e = NULL, **kids = NULL;
	struct copa_err e2 = COPA_ERR_INIT;
	size_t n = 0;
	int r = 0;

	if (copa_view_resolve(v, dir, COPA_VIEW_FOLLOW, &canon, &e, &e2) < 0 || !e ||
	    e->type != COPA_FT_DIR || copa_view_children(v, copa_buf_str(&canon), &kids, &n) < 0) {
		copa_buf_release(&canon);
		return 0;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		_cleanup_free_ char *path = NULL;

		if (kids[i]->type == COPA_FT_DIR)
			continue;
		path = copa_xasprintf("%s/%s", copa_buf_str(&canon), kids[i]->name);
		copa_err_clear(&e2);
		if (copa_view_read(v, path, COPA_APK_KEY_FILE_MAX, &b, &e2) < 0 ||
		    copa_apk_keys_add_pem(p->keys, kids[i]->name, b.p ? b.p : "", b.len, &e2) < 0)
			copa_warn(out, "apk: key '%s' of the image is not used: %s", path, e2.msg);
		if (copa_apk_keys_count(p->keys) >= COPA_APK_KEYS_MAX)
			r = copa_err_set(err, COPA_E_LIMIT, "more than %d apk keys",
			                 COPA_APK_KEYS_MAX);
	}
	free(kids);
	copa_buf_release(&b);
	copa_buf_release(&canon);
	return r;
}

static int probe_keys(struct copa_apk_probe *p, const struct copa_pm_open_opts *o,
                      struct copa_err *err)
{
	_cleanup_free_ char *arch_dir = copa_xasprintf("usr/share/apk/keys/%s", p->arch);
	struct copa_buf b = COPA_BUF_INIT;
	int r = 0;

	p->keys = copa_apk_keys_new();
	if (keys_from_view(p, o->view, "etc/apk/keys", o->out, err) < 0 ||
	    keys_from_view(p, o->view, arch_dir, o->out, err) < 0)
		return -1;
	for (char *const *k = o->keyrings; r == 0 && k && *k; k++) {
		r = copa_fs_read_file(AT_FDCWD, *k, COPA_APK_KEY_FILE_MAX, &b, err);
		if (r == 0)
			r = copa_apk_keys_add_pem(p->keys, base_name(*k), b.p ? b.p : "", b.len,
			                          err);
		if (r < 0)
			copa_err_wrap(err, "--keyring '%s'", *k);
	}
	copa_buf_release(&b);
	return r;
}

static int probe_world(struct copa_apk_probe *p, struct copa_view *v, struct copa_err *err)
{
	struct copa_buf b = COPA_BUF_INIT;
	int r = read_small(v, "etc/apk/world", &b, err);

	if (r == 1 &&
	    copa_apk_deps_parse(&p->arena, copa_blob(b.p ? b.p : "", b.len), &p->world, err) < 0)
		r = copa_err_wrap(err, "'etc/apk/world'");
	copa_buf_release(&b);
	return r < 0 ? -1 : 0;
}

static int probe_db(struct copa_apk_probe *p, struct copa_view *v, struct copa_err *err)
{
	static const char *const dbs[] = {"lib/apk/db/installed", "usr/lib/apk/db/installed"};
	struct copa_buf b = COPA_BUF_INIT;
	_cleanup_free_ char *what = NULL;
	int r;

	for (size_t i = 0; i < COPA_ARRAY_SIZE(dbs) && !p->db_path; i++)
		if (copa_pm_has_file(v, dbs[i]))
			p->db_path = copa_xstrdup(dbs[i]);
	if (!p->db_path)
		return copa_err_set(err, COPA_E_NOTFOUND, "the image has no apk database");
	what = copa_xasprintf("'%s'", p->db_path);
	r = copa_view_read(v, p->db_path, COPA_APKDB_MAX_FILE, &b, err);
	if (r == 0)
		r = copa_apkdb_parse(&p->db, b.p ? b.p : "", b.len, what, err);
	copa_buf_release(&b);
	return r;
}

int copa_apk_probe_image(struct copa_apk_probe *p, const struct copa_pm_open_opts *o,
                         struct copa_err *err)
{
	memset(p, 0, sizeof(*p));
	copa_apkdb_init(&p->db);
	p->repos = (struct copa_apk_repos)COPA_APK_REPOS_INIT;
	if (probe_db(p, o->view, err) < 0 || probe_arch(p, o, err) < 0 ||
	    probe_repos(p, o, err) < 0 || probe_keys(p, o, err) < 0 ||
	    probe_world(p, o->view, err) < 0) {
		copa_apk_probe_release(p);
		return -1;
	}
	return 0;
}

/* A verification failure says what to do about it. */
static void verify_hint(struct copa_err *err)
{
	size_t n = strlen(err->msg);

	if (err->code != COPA_E_VERIFY || strstr(err->msg, "--keyring"))
		return;
	snprintf(err->msg + n, sizeof(err->msg) - n,
	         " (copa uses only indexes signed by a trusted key: check the repository, or "
	         "add its key with --keyring)");
}

/* Cache namespace: index URL -> "digest\nLast-Modified\nETag\n" of the copy last verified. */
#define NS_INDEX "apk-index"

struct index_rec {
	char digest[COPA_DIGEST_MAX];
	char *last_modified, *etag; /* header values, or NULL */
};

static void index_rec_release(struct index_rec *r)
{
	free(r->last_modified);
	free(r->etag);
}

static bool header_ok(struct copa_blob v)
{
	if (v.n == 0 || v.n > 200)
		return false;
	for (size_t i = 0; i < v.n; i++)
		if ((unsigned char)v.p[i] < 0x20 || v.p[i] == 0x7f)
			return false;
	return true;
}

/* The record of the cached copy of url, when its blob is still there. */
static bool index_rec_get(const struct copa_cache *c, const char *key, struct index_rec *r)
{
	struct copa_buf b = COPA_BUF_INIT;
	struct copa_blob rest, d = {0}, lm = {0}, et = {0};
	bool ok = false;

	memset(r, 0, sizeof(*r));
	if (copa_cache_get(c, NS_INDEX, key, 1024, &b, NULL) != 1)
		goto out;
	rest = copa_blob(b.p, b.len);
	copa_blob_split(&rest, '\n', &d);
	copa_blob_split(&rest, '\n', &lm);
	copa_blob_split(&rest, '\n', &et);
	if (d.n >= sizeof(r->digest))
		goto out;
	memcpy(r->digest, d.p, d.n);
	r->digest[d.n] = '\0';
	if (!copa_digest_valid(r->digest) || !copa_cache_has_blob(c, r->digest))
		goto out;
	r->last_modified = header_ok(lm) ? copa_blob_dup(lm) : NULL;
	r->etag = header_ok(et) ? copa_blob_dup(et) : NULL;
	ok = r->last_modified || r->etag;
out:
	copa_buf_release(&b);
	return ok;
}

static void index_rec_put(const struct copa_cache *c, const char *key, const char *digest,
                          const struct copa_http_resp *resp, struct copa_out *out)
{
	const char *lm = copa_http_resp_header(resp, "Last-Modified");
	const char *et = copa_http_resp_header(resp, "ETag");
	struct copa_err e = COPA_ERR_INIT;
	_cleanup_free_ char *text = NULL;

	if (lm && !header_ok(copa_blob_str(lm)))
		lm = NULL;
	if (et && !header_ok(copa_blob_str(et)))
		et = NULL;
	if (!lm && !et)
		return;
	text = copa_xasprintf("%s\n%s\n%s\n", digest, lm ? lm : "", et ? et : "");
	if (copa_cache_put(c, NS_INDEX, key, text, strlen(text), &e) < 0)
		copa_debug(out, "apk: cannot record the index in the cache: %s", e.msg);
}

/*
 * Downloads and verifies one repository's index; 0 when loaded, 1 when it has
 * none (404). A copy verified before is asked for conditionally (If-None-Match,
 * If-Modified-Since): the server says whether it is current, so no stale index
 * is used, and the signature is checked again on every run.
 */
static int load_index(struct copa_apk_probe *p, size_t i, const struct copa_pm_open_opts *o,
                      struct copa_err *err)
{
	const struct copa_apk_repo *repo = &p->repos.v[i];
	_cleanup_free_ char *url = copa_apk_repo_index_url(repo, p->arch);
	_cleanup_free_ char *what = copa_xasprintf("index '%s'", url);
	_cleanup_free_ char *ims = NULL, *inm = NULL;
	char key[COPA_HASH_HEX_MAX], digest[COPA_DIGEST_MAX];
	const char *headers[4] = {"Cache-Control: max-age=0", NULL, NULL, NULL};
	struct copa_http_resp resp = {0};
	struct copa_tmpfile t = {.fd = -1};
	struct copa_buf b = COPA_BUF_INIT;
	struct index_rec rec;
	bool have_rec, cached = false;
	int r = -1;

	copa_hash_hex(COPA_HASH_SHA256, url, strlen(url), key);
	have_rec = index_rec_get(o->cache, key, &rec);
	if (have_rec) {
		size_t n = 1;

		if (rec.etag)
			headers[n++] = inm = copa_xasprintf("If-None-Match: %s", rec.etag);
		if (rec.last_modified)
			headers[n++] = ims =
			    copa_xasprintf("If-Modified-Since: %s", rec.last_modified);
	}
	if (copa_cache_begin(o->cache, &t, err) < 0)
		goto out;
	{
		struct copa_http_fetch f = {.url = url,
		                            .headers = headers,
		                            .expect_size = -1,
		                            .max_size = COPA_APK_INDEX_MAX_FILE,
		                            .fd = t.fd,
		                            .what = what,
		                            .not_modified_ok = have_rec};

		if (copa_http_fetch(o->http, &f, &resp, err) < 0) {
			if (err->code == COPA_E_NOTFOUND) {
				copa_warn(o->out,
				          "apk: repository '%s' has no index for %s (%s): skipped",
				          repo->url, p->arch, url);
				copa_err_clear(err);
				r = 1;
			}
			goto out;
		}
	}
	cached = resp.status == 304;
	if (cached) {
		_cleanup_free_ char *path = copa_cache_blob_path(o->cache, rec.digest);

		if (copa_fs_read_file(AT_FDCWD, path, COPA_APK_INDEX_MAX_FILE, &b, err) < 0)
			goto out;
	} else if (copa_fs_read_file(t.dirfd, t.tmp, COPA_APK_INDEX_MAX_FILE, &b, err) < 0) {
		goto out;
	}
	if (copa_apk_index_load(&p->idx[i], b.p ? b.p : "", b.len, p->keys, what, err) < 0) {
		verify_hint(err);
		goto out;
	}
	p->loaded[i] = true;
	copa_info(o->out, "apk: %s%s%s: %zu packages, signed by '%s'%s", repo->url,
	          repo->tag ? " @" : "", repo->tag ? repo->tag : "", p->idx[i].n,
	          p->idx[i].signed_by ? p->idx[i].signed_by : "?",
	          cached ? " (not modified: the cached copy)" : "");
	/* Only a verified index enters the cache. */
	if (!cached && copa_cache_commit_blob(o->cache, &t, NULL, false, digest, NULL) == 0)
		index_rec_put(o->cache, key, digest, &resp, o->out);
	r = 0;
out:
	if (have_rec)
		index_rec_release(&rec);
	copa_http_resp_release(&resp);
	copa_buf_release(&b);
	copa_tmpfile_release(&t);
	if (r < 0)
		copa_err_wrap(err, "apk repository '%s'", repo->url);
	return r;
}

int copa_apk_probe_open(struct copa_apk_probe *p, const struct copa_pm_open_opts *o,
                        struct copa_err *err)
{
	size_t loaded = 0;

	if (!o->http || !o->cache)
		COPA_BUG("copa_apk_probe_open needs http and cache");
	if (copa_apk_probe_image(p, o, err) < 0)
		return -1;
	p->idx = copa_xcalloc(p->repos.n + 1, sizeof(*p->idx));
	p->loaded = copa_xcalloc(p->repos.n + 1, sizeof(*p->loaded));
	for (size_t i = 0; i < p->repos.n; i++)
		p->idx[i] = (struct copa_apk_index)COPA_APK_INDEX_INIT;
	for (size_t i = 0; i < p->repos.n; i++) {
		int r = load_index(p, i, o, err);

		if (r < 0) {
			copa_apk_probe_release(p);
			return -1;
		}
		loaded += r == 0;
	}
	if (!loaded) {
		copa_err_set(err, COPA_E_NOTFOUND,
		             "no apk repository of the image has an index for %s (give one with "
		             "--repo)",
		             p->arch);
		copa_apk_probe_release(p);
		return -1;
	}
	return 0;
}

void copa_apk_probe_release(struct copa_apk_probe *p)
{
	if (p->idx)
		for (size_t i = 0; i < p->repos.n; i++)
			copa_apk_index_release(&p->idx[i]);
	free(p->idx);
	free(p->loaded);
	copa_apk_keys_free(p->keys);
	copa_apk_repos_release(&p->repos);
	copa_apkdb_release(&p->db);
	copa_arena_release(&p->arena);
	free(p->arch);
	free(p->db_path);
	memset(p, 0, sizeof(*p));
}
