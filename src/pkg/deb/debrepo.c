#include "pkg/deb/debrepo.h"

#include "pgp/gpgv.h"
#include "pkg/deb/release.h"
#include "util/fs.h"
#include "util/mem.h"

#include <archive.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Cache namespace: compressed index sha256 -> digest of its uncompressed content. */
#define NS_INDEX "deb-index"
/* Cache namespace: (InRelease bytes, keyring, allowed signers) -> a record of gpgv's good
 * verdict on them (see "Verified InRelease" in docs/ARCHITECTURE.md). */
#define NS_VERIFIED "deb-inrelease"
/* A verdict is reused for a day at most: gpgv's answer depends on the clock too (a key or a
 * signature that expires), and a nightly run then checks every signature at least once. */
#define VERIFIED_TTL (24 * 3600)
#define VERIFIED_MAX 1024

void copa_deb_indexes_release(struct copa_deb_indexes *x)
{
	for (size_t i = 0; i < x->n; i++) {
		free(x->v[i].repo);
		free(x->v[i].label);
		free(x->v[i].base_uri);
		free(x->v[i].component);
		free(x->v[i].arch);
		free(x->v[i].path);
		free(x->v[i].rel_origin);
		free(x->v[i].rel_label);
		free(x->v[i].rel_suite);
		free(x->v[i].rel_codename);
		free(x->v[i].host);
	}
	free(x->v);
	memset(x, 0, sizeof(*x));
}

int copa_debrepo_decompress(int in_fd, int out_fd, uint64_t max, const char *what,
                            char hex[COPA_HASH_HEX_MAX], uint64_t *size, struct copa_err *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	struct copa_hash h;
	char buf[65536];
	uint64_t total = 0;
	int r = -1, ar;

	copa_hash_init(&h, COPA_HASH_SHA256);
	archive_read_support_filter_all(a);
	archive_read_support_format_raw(a);
	archive_read_support_format_empty(a);
	if (archive_read_open_fd(a, in_fd, sizeof(buf)) != ARCHIVE_OK) {
		copa_err_set(err, COPA_E_INPUT, "%s: cannot decompress: %s", what,
		             archive_error_string(a));
		goto out;
	}
	ar = archive_read_next_header(a, &ae);
	if (ar == ARCHIVE_OK) {
		for (;;) {
			la_ssize_t n = archive_read_data(a, buf, sizeof(buf));

			if (n == 0)
				break;
			if (n < 0) {
				copa_err_set(err, COPA_E_INPUT, "%s: cannot decompress: %s", what,
				             archive_error_string(a));
				goto out;
			}
			if (total + (uint64_t)n > max) {
				copa_err_set(err, COPA_E_LIMIT,
				             "%s: decompresses to more than %llu bytes", what,
				             (unsigned long long)max);
				goto out;
			}
			if (copa_fs_write_all(out_fd, buf, (size_t)n, err) < 0) {
				copa_err_wrap(err, "%s", what);
				goto out;
			}
			copa_hash_update(&h, buf, (size_t)n);
			total += (uint64_t)n;
		}
	} else if (ar != ARCHIVE_EOF) {
		copa_err_set(err, COPA_E_INPUT, "%s: cannot decompress: %s", what,
		             archive_error_string(a));
		goto out;
	}
	copa_hash_final_hex(&h, hex);
	*size = total;
	r = 0;
out:
	copa_hash_release(&h);
	archive_read_free(a);
	return r;
}

struct ctx {
	const struct copa_debrepo_opts *o;
	char *work; /* private directory: downloads of Release files, gpgv home and keyring */
	unsigned seq;
	int64_t now;
	bool index_mismatch; /* the last failure was an index not matching its Release */
};

/* The host of a URI ("deb.debian.org" of "http://deb.debian.org/debian"); "" for file: URIs. */
static char *uri_host(const char *uri)
{
	const char *p = strstr(uri, "://"), *end, *at, *colon;

	if (!p)
		return copa_xstrdup("");
	p += 3;
	end = p + strcspn(p, "/?#");
	at = memrchr(p, '@', (size_t)(end - p));
	if (at)
		p = at + 1;
	colon = *p == '[' ? NULL : memchr(p, ':', (size_t)(end - p));
	return copa_xstrndup(p, (size_t)((colon ? colon : end) - p));
}

static bool scheme_is(const char *uri, const char *scheme)
{
	size_t n = strlen(scheme);

	return strncasecmp(uri, scheme, n) == 0 && uri[n] == ':';
}

static int check_scheme(const struct copa_deb_source *src, const char *label, struct copa_err *err)
{
	const char *colon = strchr(src->uri, ':');

	if (scheme_is(src->uri, "http") || scheme_is(src->uri, "https"))
		return 0;
	if (scheme_is(src->uri, "file")) {
		if (src->user)
			return 0;
		/* An image's file: URI names its build host; never read the host's files for it. */
		return copa_err_set(err, COPA_E_UNSUPPORTED,
		                    "repository '%s' (%s) is a local directory of the machine the "
		                    "image was built on: give copa a mirror with --repo (file:// "
		                    "mirrors are accepted there)",
		                    label, src->where);
	}
	return copa_err_set(err, COPA_E_UNSUPPORTED,
	                    "repository '%s' (%s) uses the '%.*s' method, which copa does not "
	                    "support: name a plain http(s) mirror with --repo (and --repo-replace)",
	                    label, src->where, colon ? (int)(colon - src->uri) : 0, src->uri);
}

static char *tmp_path(struct ctx *c, const char *name)
{
	return copa_xasprintf("%s/%u-%s", c->work, c->seq++, name);
}

/*
 * Downloads url into a new file of the work directory (no digest known yet:
 * only the signature check makes it trustworthy). Returns its path.
 */
static char *fetch_small(struct ctx *c, const char *url, const char *name, const char *what,
                         struct copa_err *err)
{
	static const char *const headers[] = {"Cache-Control: max-age=0", NULL};
	char *path = tmp_path(c, name);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	struct copa_http_fetch f = {.url = url,
	                            .headers = headers,
	                            .expect_size = -1,
	                            .max_size = COPA_RELEASE_MAX,
	                            .fd = fd,
	                            .what = what};
	int r;

	if (fd < 0) {
		copa_err_sys(err, COPA_E_IO, errno, "cannot create '%s'", path);
		free(path);
		return NULL;
	}
	r = copa_http_fetch(c->o->http, &f, NULL, err);
	close(fd);
	if (r < 0) {
		unlink(path);
		free(path);
		return NULL;
	}
	return path;
}

static void fmt_time(int64_t t, char *buf, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(buf, cap, "%a, %d %b %Y %H:%M:%S UTC", &tm))
		snprintf(buf, cap, "%lld", (long long)t);
}

/*
 * The record of a good verdict: what was verified (the InRelease bytes, the keys, the allowed
 * signers), what copa read out of it (the digest of its own dash-unescaped message text, which
 * gpgv's output equalled), who signed and when it was checked, then a digest of those lines.
 */
struct verified_key {
	char inrelease[COPA_HASH_HEX_MAX], keyring[COPA_HASH_HEX_MAX], fprs[COPA_HASH_HEX_MAX];
	char name[COPA_HASH_HEX_MAX]; /* the cache key: a digest of the three */
};

static void verified_key_init(struct verified_key *k, const struct copa_deb_source *src,
                              const struct copa_buf *text)
{
	struct copa_hash h;
	char *const *f;

	copa_hash_hex(COPA_HASH_SHA256, text->p ? text->p : "", text->len, k->inrelease);
	copa_hash_hex(COPA_HASH_SHA256, src->keyring.p ? src->keyring.p : "", src->keyring.len,
	              k->keyring);
	copa_hash_init(&h, COPA_HASH_SHA256);
	/* "any signer" and "these signers" must not collide: a marker first. */
	copa_hash_update(&h, src->fingerprints ? "fprs\n" : "any\n", 5);
	for (f = src->fingerprints; f && *f; f++) {
		copa_hash_update(&h, *f, strlen(*f));
		copa_hash_update(&h, "\n", 1);
	}
	copa_hash_final_hex(&h, k->fprs);
	copa_hash_release(&h);
	copa_hash_init(&h, COPA_HASH_SHA256);
	copa_hash_update(&h, "copa-inrelease-v1 ", 18);
	copa_hash_update(&h, k->inrelease, strlen(k->inrelease));
	copa_hash_update(&h, k->keyring, strlen(k->keyring));
	copa_hash_update(&h, k->fprs, strlen(k->fprs));
	copa_hash_final_hex(&h, k->name);
	copa_hash_release(&h);
}

/* The lines of a record up to the signer: what was verified and copa's reading of it. */
static char *verified_prefix(const struct verified_key *k, const char *signed_hex)
{
	return copa_xasprintf("copa-inrelease-v1\ninrelease %s\nkeyring %s\nfingerprints %s\n"
	                      "signed %s\n",
	                      k->inrelease, k->keyring, k->fprs, signed_hex);
}

/* Records a good verdict; the cache only saves time, so a failure is a debug line. */
static void verified_put(struct ctx *c, const struct verified_key *k, const char *mine,
                         size_t mine_len, const char *signer)
{
	char shex[COPA_HASH_HEX_MAX], check[COPA_HASH_HEX_MAX];
	struct copa_err e2 = COPA_ERR_INIT;
	_cleanup_free_ char *lines = NULL, *rec = NULL;

	copa_hash_hex(COPA_HASH_SHA256, mine, mine_len, shex);
	{
		_cleanup_free_ char *prefix = verified_prefix(k, shex);

		lines = copa_xasprintf("%ssigner %s\nverified %lld\n", prefix, signer,
		                       (long long)c->now);
	}
	copa_hash_hex(COPA_HASH_SHA256, lines, strlen(lines), check);
	rec = copa_xasprintf("%scheck %s\n", lines, check);
	if (copa_cache_put(c->o->cache, NS_VERIFIED, k->name, rec, strlen(rec), &e2) < 0)
		copa_debug(c->o->out, "not recording the verified InRelease: %s", e2.msg);
}

static bool is_hex_upper(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'A' && p[i] <= 'F')))
			return false;
	return n > 0;
}

/* Skips `word` at *p; false when it is not there. */
static bool skip(const char **p, const char *word)
{
	size_t n = strlen(word);

	if (strncmp(*p, word, n) != 0)
		return false;
	*p += n;
	return true;
}

bool copa_debrepo_verified_parse(const char *rec, const char *expect, char signer[72],
                                 int64_t *when)
{
	const char *p = rec, *check_at;
	char check[COPA_HASH_HEX_MAX];
	size_t n;
	int64_t t = 0;

	if (!skip(&p, expect) || !skip(&p, "signer "))
		return false;
	n = strcspn(p, "\n");
	if (n >= 72 || !is_hex_upper(p, n) || p[n] != '\n')
		return false;
	memcpy(signer, p, n);
	signer[n] = 0;
	p += n + 1;
	if (!skip(&p, "verified "))
		return false;
	for (n = 0; p[n] >= '0' && p[n] <= '9' && n < 12; n++)
		t = t * 10 + (p[n] - '0');
	if (n == 0 || p[n] != '\n')
		return false;
	p += n + 1;
	check_at = p;
	if (!skip(&p, "check "))
		return false;
	copa_hash_hex(COPA_HASH_SHA256, rec, (size_t)(check_at - rec), check);
	if (!skip(&p, check) || strcmp(p, "\n") != 0)
		return false;
	*when = t;
	return true;
}

/*
 * Whether a record says these exact InRelease bytes were verified good with these keys and
 * signers less than VERIFIED_TTL ago, and copa's reading of them (mine) is what was verified
 * then. Any other record (changed, damaged, stale, another format) is ignored, so gpgv runs
 * and a fresh one replaces it. signer receives the recorded signer.
 */
static bool verified_get(struct ctx *c, const struct verified_key *k, const char *mine,
                         size_t mine_len, char signer[72])
{
	struct copa_buf rec = COPA_BUF_INIT;
	struct copa_err e2 = COPA_ERR_INIT;
	char shex[COPA_HASH_HEX_MAX];
	_cleanup_free_ char *prefix = NULL;
	int64_t when = 0;
	bool ok = false;

	if (copa_cache_get(c->o->cache, NS_VERIFIED, k->name, VERIFIED_MAX, &rec, &e2) != 1)
		goto out;
	copa_hash_hex(COPA_HASH_SHA256, mine, mine_len, shex);
	prefix = verified_prefix(k, shex);
	ok = copa_debrepo_verified_parse(copa_buf_str(&rec), prefix, signer, &when) &&
	     when <= c->now + 600 && c->now - when < VERIFIED_TTL;
out:
	copa_buf_release(&rec);
	return ok;
}

/* The signed text of a clearsigned file, checked with gpgv; malloc'd. */
static int verify_inrelease(struct ctx *c, const struct copa_deb_source *src, const char *path,
                            const char *label, char **body, size_t *len, struct copa_err *err)
{
	struct copa_buf text = COPA_BUF_INIT, verified = COPA_BUF_INIT;
	_cleanup_free_ char *mine = NULL;
	_cleanup_free_ char *outp = tmp_path(c, "InRelease.verified");
	_cleanup_free_ char *what = copa_xasprintf("'InRelease' from '%s'", label);
	struct verified_key vk;
	char signer[72] = "";
	size_t mine_len = 0;
	int r = -1;

	if (copa_fs_read_file(AT_FDCWD, path, COPA_RELEASE_MAX, &text, err) < 0)
		goto out;
	if (copa_clearsign_split(copa_buf_str(&text), text.len, what, &mine, &mine_len, err) < 0) {
		err->code = COPA_E_VERIFY;
		copa_err_wrap(err, "cannot verify 'InRelease' from '%s'", label);
		goto out;
	}
	if (src->trusted) {
		copa_warn(c->o->out, "not checking the signature of '%s' (%s: trusted=yes)", label,
		          src->where);
		*body = steal_ptr(&mine);
		*len = mine_len;
		r = 0;
		goto out;
	}
	verified_key_init(&vk, src, &text);
	if (verified_get(c, &vk, mine, mine_len, signer)) {
		copa_debug(c->o->out,
		           "'InRelease' from '%s': verified before (good signature by %s)", label,
		           signer);
		*body = steal_ptr(&mine);
		*len = mine_len;
		r = 0;
		goto out;
	}
	{
		struct copa_gpgv_req req = {.gpgv = c->o->gpgv,
		                            .workdir = c->work,
		                            .keyring = src->keyring.p,
		                            .keyring_len = src->keyring.len,
		                            .fingerprints = src->fingerprints,
		                            .signed_path = path,
		                            .output_path = outp};
		struct copa_gpgv_status st;
		char why[256];

		if (copa_gpgv_run(&req, &st, err) < 0) {
			copa_err_wrap(err, "cannot verify 'InRelease' from '%s'", label);
			goto out;
		}
		if (st.verdict != COPA_GPGV_GOOD) {
			copa_gpgv_describe(&st, why, sizeof(why));
			copa_err_set(err, COPA_E_VERIFY,
			             "cannot verify 'InRelease' from '%s': %s%s%s", label, why,
			             src->keyring_desc ? "; keys from " : "",
			             src->keyring_desc ? src->keyring_desc : "");
			goto out;
		}
		copa_debug(c->o->out, "'InRelease' from '%s': %s", label,
		           (copa_gpgv_describe(&st, why, sizeof(why)), why));
		snprintf(signer, sizeof(signer), "%s", st.signer);
	}
	if (copa_fs_read_file(AT_FDCWD, outp, COPA_RELEASE_MAX, &verified, err) < 0)
		goto out;
	/* What gpgv verified must be what copa parses. */
	if (verified.len != mine_len || memcmp(verified.p ? verified.p : "", mine, mine_len) != 0) {
		copa_err_set(
		    err, COPA_E_VERIFY,
		    "cannot verify 'InRelease' from '%s': the signed text differs from the "
		    "message text",
		    label);
		goto out;
	}
	if (is_hex_upper(signer, strlen(signer)))
		verified_put(c, &vk, mine, mine_len, signer);
	*body = copa_buf_detach(&verified, len);
	r = 0;
out:
	unlink(outp);
	copa_buf_release(&text);
	copa_buf_release(&verified);
	return r;
}

static int verify_detached(struct ctx *c, const struct copa_deb_source *src, const char *data,
                           const char *sig, const char *label, struct copa_err *err)
{
	struct copa_gpgv_req req = {.gpgv = c->o->gpgv,
	                            .workdir = c->work,
	                            .keyring = src->keyring.p,
	                            .keyring_len = src->keyring.len,
	                            .fingerprints = src->fingerprints,
	                            .signed_path = sig,
	                            .data_path = data};
	struct copa_gpgv_status st;
	char why[256];

	if (copa_gpgv_run(&req, &st, err) < 0)
		return copa_err_wrap(err, "cannot verify 'Release' from '%s'", label);
	if (st.verdict != COPA_GPGV_GOOD) {
		copa_gpgv_describe(&st, why, sizeof(why));
		return copa_err_set(err, COPA_E_VERIFY, "cannot verify 'Release' from '%s': %s%s%s",
		                    label, why, src->keyring_desc ? "; keys from " : "",
		                    src->keyring_desc ? src->keyring_desc : "");
	}
	return 0;
}

/*
 * Fetches and verifies the Release of src at base. Returns 0 with *body
 * (malloc'd), -1 with COPA_E_NOTFOUND when the suite has neither InRelease
 * nor Release there, -1 otherwise.
 */
static int fetch_release(struct ctx *c, const struct copa_deb_source *src, const char *base,
                         const char *label, char **body, size_t *len, struct copa_err *err)
{
	_cleanup_free_ char *url = copa_deb_source_url(src, base, "InRelease");
	_cleanup_free_ char *what = copa_xasprintf("'InRelease' from '%s'", label);
	_cleanup_free_ char *path = fetch_small(c, url, "InRelease", what, err);
	_cleanup_free_ char *rurl = NULL, *rwhat = NULL, *rpath = NULL;
	_cleanup_free_ char *gurl = NULL, *gwhat = NULL, *gpath = NULL;
	struct copa_buf text = COPA_BUF_INIT;
	int r = -1;

	if (path) {
		r = verify_inrelease(c, src, path, label, body, len, err);
		unlink(path);
		return r;
	}
	if (err->code != COPA_E_NOTFOUND)
		return -1;
	/* No InRelease: the older Release + Release.gpg pair. */
	copa_err_clear(err);
	rurl = copa_deb_source_url(src, base, "Release");
	rwhat = copa_xasprintf("'Release' from '%s'", label);
	rpath = fetch_small(c, rurl, "Release", rwhat, err);
	if (!rpath)
		return -1;
	if (!src->trusted) {
		gurl = copa_deb_source_url(src, base, "Release.gpg");
		gwhat = copa_xasprintf("'Release.gpg' from '%s'", label);
		gpath = fetch_small(c, gurl, "Release.gpg", gwhat, err);
		if (!gpath) {
			if (err->code == COPA_E_NOTFOUND)
				copa_err_set(err, COPA_E_VERIFY,
				             "cannot verify 'Release' from '%s': the repository is "
				             "not signed (no InRelease, no Release.gpg)",
				             label);
			goto out;
		}
		if (verify_detached(c, src, rpath, gpath, label, err) < 0)
			goto out;
	} else {
		copa_warn(c->o->out, "not checking the signature of '%s' (%s: trusted=yes)", label,
		          src->where);
	}
	if (copa_fs_read_file(AT_FDCWD, rpath, COPA_RELEASE_MAX, &text, err) < 0)
		goto out;
	*body = copa_buf_detach(&text, len);
	r = 0;
out:
	if (gpath)
		unlink(gpath);
	unlink(rpath);
	copa_buf_release(&text);
	return r;
}

static int check_release(struct ctx *c, const struct copa_deb_source *src,
                         const struct copa_release *rel, const char *label, struct copa_err *err)
{
	char when[64];

	if (rel->date > c->now + 600) {
		fmt_time(rel->date, when, sizeof(when));
		return copa_err_set(
		    err, COPA_E_VERIFY,
		    "cannot use the Release of '%s': it is not valid yet (Date %s is "
		    "in the future; check the clock)",
		    label, when);
	}
	if (rel->valid_until >= 0 && src->check_valid_until != 0 && c->now > rel->valid_until) {
		fmt_time(rel->valid_until, when, sizeof(when));
		return copa_err_set(
		    err, COPA_E_VERIFY,
		    "cannot use the Release of '%s': it expired on %s (Valid-Until): "
		    "the mirror serves stale metadata or the clock is wrong",
		    label, when);
	}
	if (!src->flat) {
		size_t sl = strlen(src->suite);
		bool match = (rel->suite && strcmp(rel->suite, src->suite) == 0) ||
		             (rel->codename && strcmp(rel->codename, src->suite) == 0);

		/* "buster/updates" carries Codename: buster. */
		if (!match && sl > 8 && strcmp(src->suite + sl - 8, "/updates") == 0)
			match = rel->codename && strlen(rel->codename) == sl - 8 &&
			        strncmp(rel->codename, src->suite, sl - 8) == 0;
		if (!match)
			copa_warn(c->o->out,
			          "'%s': the Release names suite '%s' and codename '%s', not '%s'",
			          label, rel->suite ? rel->suite : "",
			          rel->codename ? rel->codename : "", src->suite);
	}
	return 0;
}

static const char *const index_exts[] = {".xz", ".gz", ".zst", ".bz2", ".lzma", ""};

/*
 * Finds a cached index; returns 1 when present, 0 when absent. Not re-hashed here: bookworm's
 * main index is 50 MB, and a run that finds its .solv form never reads it. Whoever reads the
 * text checks it against ix->digest (plan.c's reader does, at the end of the file).
 */
static int cached_index(struct ctx *c, const char *digest, struct copa_deb_index *ix)
{
	struct copa_err e2 = COPA_ERR_INIT;
	int fd = copa_cache_open_blob(c->o->cache, digest, false, &e2);
	struct stat st;

	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return 0;
	}
	close(fd);
	snprintf(ix->digest, sizeof(ix->digest), "%s", digest);
	ix->size = (uint64_t)st.st_size;
	ix->path = copa_cache_blob_path(c->o->cache, digest);
	return 1;
}

static int download_index(struct ctx *c, const char *base_url_dir, const char *rel_base,
                          const char *ext, const struct copa_release_file *f,
                          const struct copa_release_file *plain, bool by_hash, const char *label,
                          struct copa_deb_index *ix, struct copa_err *err)
{
	struct copa_tmpfile tz = {.fd = -1}, tu = {.fd = -1};
	_cleanup_free_ char *what = copa_xasprintf("'%s%s' from '%s'", rel_base, ext, label);
	_cleanup_free_ char *digest = copa_xasprintf("sha256:%s", f->sha256);
	_cleanup_free_ char *url = NULL;
	char hex[COPA_HASH_HEX_MAX], udigest[COPA_DIGEST_MAX];
	uint64_t usize = 0;
	_cleanup_close_ int rfd = -1;
	int r = -1;

	if (copa_cache_begin(c->o->cache, &tz, err) < 0)
		return -1;
	for (int attempt = 0; attempt < 2; attempt++) {
		struct copa_http_fetch fx = {.expect_digest = digest,
		                             .expect_size = (int64_t)f->size,
		                             .fd = tz.fd,
		                             .what = what};
		const char *slash = strrchr(rel_base, '/');

		free(url);
		if (by_hash && attempt == 0)
			url = copa_xasprintf("%s/%.*sby-hash/SHA256/%s", base_url_dir,
			                     slash ? (int)(slash - rel_base + 1) : 0, rel_base,
			                     f->sha256);
		else
			url = copa_xasprintf("%s/%s%s", base_url_dir, rel_base, ext);
		fx.url = url;
		if (copa_http_fetch(c->o->http, &fx, NULL, err) == 0)
			break;
		/* by-hash is an optimisation: apt falls back to the file name when it is missing.
		 */
		if (by_hash && attempt == 0 && err->code == COPA_E_NOTFOUND) {
			copa_err_clear(err);
			if (ftruncate(tz.fd, 0) < 0 || lseek(tz.fd, 0, SEEK_SET) < 0) {
				copa_err_sys(err, COPA_E_IO, errno, "%s", what);
				goto out;
			}
			continue;
		}
		if (err->code == COPA_E_VERIFY) {
			c->index_mismatch = true;
			copa_err_wrap(err,
			              "cannot use the index of '%s' (it does not match the "
			              "signed Release)",
			              label);
		}
		goto out;
	}
	/* The download file is write-only; read it back through its name. */
	rfd = openat(tz.dirfd, tz.tmp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (rfd < 0) {
		copa_err_sys(err, COPA_E_IO, errno, "%s: cannot reopen the download", what);
		goto out;
	}
	if (copa_cache_begin(c->o->cache, &tu, err) < 0)
		goto out;
	if (copa_debrepo_decompress(rfd, tu.fd, plain ? plain->size : COPA_DEB_INDEX_MAX, what, hex,
	                            &usize, err) < 0)
		goto out;
	if (plain && (plain->size != usize || strcmp(plain->sha256, hex) != 0)) {
		c->index_mismatch = true;
		copa_err_set(err, COPA_E_VERIFY,
		             "cannot use the index of '%s': '%s' decompresses to content that "
		             "does not match the signed Release",
		             label, rel_base);
		goto out;
	}
	snprintf(udigest, sizeof(udigest), "sha256:%s", hex);
	if (copa_cache_commit_blob(c->o->cache, &tu, udigest, true, NULL, err) < 0)
		goto out;
	if (!plain &&
	    copa_cache_put(c->o->cache, NS_INDEX, f->sha256, udigest, strlen(udigest), err) < 0)
		goto out;
	snprintf(ix->digest, sizeof(ix->digest), "%s", udigest);
	ix->size = usize;
	ix->path = copa_cache_blob_path(c->o->cache, udigest);
	r = 0;
out:
	copa_tmpfile_release(&tz);
	copa_tmpfile_release(&tu);
	return r;
}

/*
 * Loads one Packages index (rel_base like "main/binary-amd64/Packages").
 * Returns 1 when loaded, 0 when the Release does not list it, -1 on error.
 */
static int load_index(struct ctx *c, const struct copa_deb_source *src, const char *base,
                      const struct copa_release *rel, const char *rel_base, const char *label,
                      struct copa_deb_index *ix, struct copa_err *err)
{
	const struct copa_release_file *plain = copa_release_find(rel, rel_base), *f = NULL;
	const char *ext = NULL;
	_cleanup_free_ char *dir = copa_deb_source_url(src, base, "");
	size_t dl = strlen(dir);

	for (size_t i = 0; i < COPA_ARRAY_SIZE(index_exts) && !f; i++) {
		_cleanup_free_ char *p = copa_xasprintf("%s%s", rel_base, index_exts[i]);

		f = copa_release_find(rel, p);
		ext = index_exts[i];
	}
	if (!f)
		return 0;
	while (dl && dir[dl - 1] == '/')
		dir[--dl] = 0;
	if (plain) {
		_cleanup_free_ char *d = copa_xasprintf("sha256:%s", plain->sha256);

		if (cached_index(c, d, ix))
			return 1;
	} else {
		struct copa_buf m = COPA_BUF_INIT;
		struct copa_err e2 = COPA_ERR_INIT;
		int found =
		    copa_cache_get(c->o->cache, NS_INDEX, f->sha256, COPA_DIGEST_MAX, &m, &e2);
		int hit = found == 1 && copa_digest_valid(copa_buf_str(&m)) &&
		          cached_index(c, copa_buf_str(&m), ix);

		copa_buf_release(&m);
		if (hit)
			return 1;
	}
	if (download_index(c, dir, rel_base, ext, f, plain, rel->acquire_by_hash, label, ix, err) <
	    0)
		return -1;
	return 1;
}

static void push_arch(char ***v, size_t *n, size_t *cap, const char *a)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i], a) == 0)
			return;
	*v = copa_xgrow(*v, cap, *n + 2, sizeof(char *));
	(*v)[(*n)++] = copa_xstrdup(a);
	(*v)[*n] = NULL;
}

static bool offers_all(const struct copa_release *rel)
{
	if (!rel->architectures[0])
		return true;
	for (char **a = rel->architectures; *a; a++)
		if (strcmp(*a, "all") == 0)
			return true;
	return false;
}

static bool lists_index(const struct copa_release *rel, const char *rel_base)
{
	for (size_t i = 0; i < COPA_ARRAY_SIZE(index_exts); i++) {
		_cleanup_free_ char *p = copa_xasprintf("%s%s", rel_base, index_exts[i]);

		if (copa_release_find(rel, p))
			return true;
	}
	return false;
}

static int load_source(struct ctx *c, const struct copa_deb_sources *s, size_t si,
                       struct copa_deb_indexes *out, struct copa_err *err)
{
	const struct copa_deb_source *src = &s->v[si];
	const char *base = src->uri;
	_cleanup_free_ char *body = NULL;
	_cleanup_free_ char *label = NULL;
	struct copa_release rel = {0};
	char **archs = NULL;
	size_t nb = 0, na = 0, acap = 0, loaded = 0;
	int r = -1;

	{
		_cleanup_free_ char *u = copa_deb_source_url(src, base, "");
		size_t l = strlen(u);

		while (l && u[l - 1] == '/')
			u[--l] = 0;
		label = steal_ptr(&u);
	}
	if (check_scheme(src, label, err) < 0)
		return -1;
	if (src->trusted && !c->o->allow_insecure)
		return copa_err_set(err, COPA_E_VERIFY,
		                    "repository '%s' (%s) is marked trusted=yes, which turns off "
		                    "signature checks: copa refuses it unless you pass "
		                    "--allow-insecure-repo",
		                    label, src->where);
	if (fetch_release(c, src, base, label, &body, &nb, err) < 0) {
		if (err->code != COPA_E_NOTFOUND)
			return -1;
		if (!src->fallback_uri) {
			return copa_err_set(
			    err, COPA_E_NOTFOUND,
			    "repository '%s' (%s) has no InRelease or Release file: "
			    "check the suite name, or the release has left the "
			    "mirrors (point --repo at an archive)",
			    label, src->where);
		}
		copa_err_clear(err);
		base = src->fallback_uri;
		free(label);
		{
			char *u = copa_deb_source_url(src, base, "");
			size_t l = strlen(u);

			while (l && u[l - 1] == '/')
				u[--l] = 0;
			label = u;
		}
		copa_warn(c->o->out, "suite '%s' is no longer on '%s'; using the archive '%s'",
		          src->suite, src->uri, base);
		if (fetch_release(c, src, base, label, &body, &nb, err) < 0) {
			if (err->code == COPA_E_NOTFOUND)
				copa_err_set(err, COPA_E_NOTFOUND,
				             "repository '%s %s' (%s) has no InRelease or Release "
				             "file, neither there nor at '%s'",
				             src->uri, src->suite, src->where, base);
			return -1;
		}
	}
	{
		_cleanup_free_ char *what = copa_xasprintf("the Release of '%s'", label);

		if (copa_release_parse(body, nb, what, &rel, err) < 0) {
			err->code = err->code == COPA_E_LIMIT ? COPA_E_LIMIT : COPA_E_INPUT;
			return -1;
		}
	}
	if (check_release(c, src, &rel, label, err) < 0)
		goto out;
	if (src->archs && src->archs[0]) {
		for (char **a = src->archs; *a; a++)
			push_arch(&archs, &na, &acap, *a);
	} else {
		push_arch(&archs, &na, &acap, c->o->native_arch);
		for (char *const *a = c->o->foreign_archs; a && *a; a++)
			push_arch(&archs, &na, &acap, *a);
	}
	for (size_t ci = 0; src->flat ? ci < 1 : src->components[ci] != NULL; ci++) {
		const char *comp = src->flat ? "" : src->components[ci];
		size_t n_arch = na;

		/* apt fetches binary-all only when the Release offers "all" and does not say
		 * those packages are in every binary-<arch> already. */
		if (!src->flat && !rel.no_arch_all && offers_all(&rel)) {
			_cleanup_free_ char *p = copa_xasprintf("%s/binary-all/Packages", comp);

			if (lists_index(&rel, p))
				push_arch(&archs, &na, &acap, "all");
		}
		for (size_t ai = 0; ai < (src->flat ? 1 : na); ai++) {
			const char *arch = src->flat ? "" : archs[ai];
			_cleanup_free_ char *rel_base =
			    src->flat ? copa_xstrdup("Packages")
			              : copa_xasprintf("%s/binary-%s/Packages", comp, arch);
			struct copa_deb_index ix = {0};
			int lr = load_index(c, src, base, &rel, rel_base, label, &ix, err);

			if (lr < 0)
				goto out;
			if (lr == 0) {
				if (strcmp(arch, "all") != 0)
					copa_warn(
					    c->o->out,
					    "repository '%s' does not list '%s' (component or "
					    "architecture not offered there)",
					    label, rel_base);
				continue;
			}
			ix.repo = src->flat ? copa_xstrdup(label)
			                    : copa_xasprintf("%s %s/%s", base, src->suite, comp);
			ix.label = src->flat ? copa_xstrdup(label)
			                     : copa_xasprintf("%s %s", ix.repo, arch);
			ix.base_uri = copa_xstrdup(base);
			ix.component = copa_xstrdup(comp);
			ix.arch = copa_xstrdup(arch);
			ix.not_automatic = rel.not_automatic;
			ix.but_automatic_upgrades = rel.but_automatic_upgrades;
			ix.rel_origin = copa_xstrdup(rel.origin ? rel.origin : "");
			ix.rel_label = copa_xstrdup(rel.label ? rel.label : "");
			ix.rel_suite = copa_xstrdup(rel.suite ? rel.suite : "");
			ix.rel_codename = copa_xstrdup(rel.codename ? rel.codename : "");
			ix.host = uri_host(base);
			ix.source = si;
			out->v = copa_xgrow(out->v, &out->cap, out->n + 1, sizeof(*out->v));
			out->v[out->n++] = ix;
			loaded++;
			copa_debug(c->o->out, "index %s: %s (%llu bytes)", out->v[out->n - 1].label,
			           out->v[out->n - 1].digest,
			           (unsigned long long)out->v[out->n - 1].size);
		}
		/* "all" was added for this component only. */
		while (na > n_arch) {
			free(archs[--na]);
			archs[na] = NULL;
		}
	}
	if (!loaded) {
		copa_err_set(err, COPA_E_NOTFOUND,
		             "repository '%s' (%s) has no package index for the configured "
		             "components and architectures",
		             label, src->where);
		goto out;
	}
	r = 0;
out:
	if (archs)
		copa_strv_free(archs);
	copa_release_release(&rel);
	return r;
}

int copa_debrepo_load(const struct copa_deb_sources *s, const struct copa_debrepo_opts *o,
                      struct copa_deb_indexes *out, struct copa_err *err)
{
	struct ctx c = {.o = o};
	int r = 0;

	if (!o->http || !o->cache || !o->native_arch)
		COPA_BUG("copa_debrepo_load needs http, cache and native_arch");
	c.now = o->now ? o->now : (int64_t)time(NULL);
	c.work = copa_fs_mkdtemp(o->tmpdir ? o->tmpdir : copa_fs_tmpdir(), "copa-apt-", err);
	if (!c.work)
		return -1;
	for (size_t i = 0; i < s->n && r == 0; i++) {
		c.index_mismatch = false;
		r = load_source(&c, s, i, out, err);
		/*
		 * A mirror caught mid-sync serves a Release and indexes of different
		 * generations. Everything is verified again from a fresh InRelease, once;
		 * a second mismatch is the error.
		 */
		if (r < 0 && c.index_mismatch) {
			copa_warn(o->out, "%s; fetching the repository's metadata again", err->msg);
			copa_err_clear(err);
			sleep(2);
			r = load_source(&c, s, i, out, err);
		}
	}
	{
		struct copa_err e2 = COPA_ERR_INIT;

		copa_fs_rm_rf(AT_FDCWD, c.work, &e2);
	}
	free(c.work);
	return r;
}
