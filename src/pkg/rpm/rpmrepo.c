/*
 * rpmrepo.c: choosing, verifying and loading rpm-md repositories (see rpmrepo.h).
 */
#include "pkg/rpm/rpmrepo.h"

#include "pgp/armor.h"
#include "pgp/gpgv.h"
#include "pkg/rpm/metalink.h"
#include "pkg/rpm/repofile.h"
#include "pkg/rpm/rpmdefaults.h"
#include "pkg/rpm/rpmmd.h"
#include "util/fs.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <solv/knownid.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

void copa_rpm_sources_release(struct copa_rpm_sources *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct copa_rpm_source *r = &s->v[i];

		free(r->id);
		free(r->base);
		for (size_t k = 0; k < r->n_keys; k++)
			copa_buf_release(&r->keys[k]);
		free(r->keys);
		free(r->keys_desc);
	}
	free(s->v);
	memset(s, 0, sizeof(*s));
}

struct ctx {
	const struct copa_rpmrepo_opts *o;
	unsigned seq;
};

static bool has_scheme(const char *url, const char *scheme)
{
	size_t n = strlen(scheme);

	return strncasecmp(url, scheme, n) == 0 && strncmp(url + n, "://", 3) == 0;
}

/* Downloads a small file (no digest known) into the work directory; returns its path. */
static char *fetch_small(struct ctx *c, const char *url, uint64_t max, const char *what,
                         bool *missing, struct copa_err *err)
{
	static const char *const headers[] = {"Cache-Control: max-age=0", NULL};
	char *path = copa_xasprintf("%s/dl-%u", c->o->work, c->seq++);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	struct copa_http_fetch f = {.url = url,
	                            .headers = headers,
	                            .expect_size = -1,
	                            .max_size = max,
	                            .fd = fd,
	                            .what = what};
	int r;

	if (missing)
		*missing = false;
	if (fd < 0) {
		copa_err_sys(err, COPA_E_IO, errno, "cannot create '%s'", path);
		free(path);
		return NULL;
	}
	r = copa_http_fetch(c->o->http, &f, NULL, err);
	close(fd);
	if (r < 0) {
		if (missing && err->code == COPA_E_NOTFOUND)
			*missing = true;
		unlink(path);
		free(path);
		return NULL;
	}
	return path;
}

/* Adds the key(s) of one file's bytes (armoured or binary) to src. */
static int add_key(struct copa_rpm_source *src, const struct copa_buf *raw, const char *what,
                   struct copa_err *err)
{
	struct copa_buf bin = COPA_BUF_INIT;

	if (src->n_keys >= COPA_RPM_KEYS_MAX)
		return copa_err_set(err, COPA_E_LIMIT, "repository '%s' has more than %d keys",
		                    src->id, COPA_RPM_KEYS_MAX);
	if (copa_pgp_is_armored(raw->p, raw->len)) {
		if (copa_pgp_dearmor(copa_buf_str(raw), raw->len, what, &bin, err) < 0)
			return -1;
	} else {
		copa_buf_add(&bin, raw->p, raw->len);
	}
	if (bin.len == 0) {
		copa_buf_release(&bin);
		return copa_err_set(err, COPA_E_INPUT, "key %s is empty", what);
	}
	src->keys = copa_xrealloc(src->keys, (src->n_keys + 1) * sizeof(*src->keys));
	src->keys[src->n_keys++] = bin;
	return 0;
}

static int load_keys(struct ctx *c, const struct copa_rpm_repo *r, struct copa_rpm_source *src,
                     struct copa_err *err)
{
	struct copa_buf desc = COPA_BUF_INIT;

	for (size_t i = 0; r->gpgkeys && r->gpgkeys[i]; i++) {
		const char *k = r->gpgkeys[i];
		struct copa_buf raw = COPA_BUF_INIT;
		_cleanup_free_ char *what = copa_xasprintf("'%s' of repository '%s'", k, r->id);
		int rc;

		if (has_scheme(k, "file")) {
			rc = copa_view_read(c->o->view, k + strlen("file://"), COPA_RPM_KEY_MAX,
			                    &raw, err);
			if (rc < 0 && err->code == COPA_E_NOTFOUND) {
				/* dnf warns and carries on with the other keys */
				copa_warn(c->o->out, "key %s is not in the image", what);
				copa_err_clear(err);
				copa_buf_release(&raw);
				continue;
			}
		} else if (has_scheme(k, "https") || has_scheme(k, "http")) {
			_cleanup_free_ char *p =
			    fetch_small(c, k, COPA_RPM_KEY_MAX, what, NULL, err);

			rc = p ? copa_fs_read_file(AT_FDCWD, p, COPA_RPM_KEY_MAX, &raw, err) : -1;
			if (p)
				unlink(p);
		} else {
			copa_warn(c->o->out, "key %s: unsupported URL, ignored", what);
			continue;
		}
		if (rc == 0)
			rc = add_key(src, &raw, what, err);
		copa_buf_release(&raw);
		if (rc < 0) {
			copa_buf_release(&desc);
			return copa_err_wrap(err, "cannot read key %s", what);
		}
		copa_buf_addf(&desc, "%s%s", desc.len ? ", " : "", k);
	}
	for (size_t i = 0; c->o->keyrings && c->o->keyrings[i]; i++) {
		struct copa_buf raw = COPA_BUF_INIT;
		_cleanup_free_ char *what = copa_xasprintf("'%s'", c->o->keyrings[i]);
		int rc =
		    copa_fs_read_file(AT_FDCWD, c->o->keyrings[i], COPA_RPM_KEY_MAX, &raw, err);

		if (rc == 0)
			rc = add_key(src, &raw, what, err);
		copa_buf_release(&raw);
		if (rc < 0) {
			copa_buf_release(&desc);
			return copa_err_wrap(err, "--keyring");
		}
		copa_buf_addf(&desc, "%s%s", desc.len ? ", " : "", c->o->keyrings[i]);
	}
	src->keys_desc = copa_buf_detach(&desc, NULL);
	return 0;
}

/* The keys of src concatenated: gpgv's keyring. */
static void keyring_of(const struct copa_rpm_source *src, struct copa_buf *out)
{
	for (size_t i = 0; i < src->n_keys; i++)
		copa_buf_add(out, src->keys[i].p, src->keys[i].len);
}

static int verify_repomd(struct ctx *c, const struct copa_rpm_source *src, const char *xml,
                         const char *sig, struct copa_err *err)
{
	struct copa_buf ring = COPA_BUF_INIT;
	struct copa_gpgv_req req = {.workdir = c->o->work, .signed_path = sig, .data_path = xml};
	struct copa_gpgv_status st;
	char why[256];
	int rc;

	keyring_of(src, &ring);
	req.keyring = ring.p;
	req.keyring_len = ring.len;
	rc = copa_gpgv_run(&req, &st, err);
	copa_buf_release(&ring);
	if (rc < 0)
		return copa_err_wrap(err, "cannot verify 'repomd.xml' of repository '%s'", src->id);
	if (st.verdict != COPA_GPGV_GOOD) {
		copa_gpgv_describe(&st, why, sizeof(why));
		return copa_err_set(
		    err, COPA_E_VERIFY, "cannot verify 'repomd.xml' of repository '%s': %s%s%s",
		    src->id, why, src->keys_desc && *src->keys_desc ? "; keys from " : "",
		    src->keys_desc ? src->keys_desc : "");
	}
	return 0;
}

static void to_hex(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = 0;
}

/* Opens the primary file: from the cache by its sha256, else downloaded (and cached). */
static int open_primary(struct ctx *c, const struct copa_rpm_source *src,
                        const struct copa_repomd_file *f, struct copa_err *err)
{
	_cleanup_free_ char *url = copa_xasprintf("%s%s", src->base, f->location);
	_cleanup_free_ char *what = copa_xasprintf("'%s' of repository '%s'", f->location, src->id);
	char hex[2 * COPA_RPMMD_CHKSUM_MAX + 1], digest[COPA_DIGEST_MAX] = "";
	struct copa_tmpfile t = {.fd = -1};
	struct copa_err e2 = COPA_ERR_INIT;
	int fd;

	if (f->chksum_type == REPOKEY_TYPE_SHA256) {
		to_hex(f->chksum, 32, hex);
		snprintf(digest, sizeof(digest), "sha256:%s", hex);
	} else if (f->chksum_type == REPOKEY_TYPE_SHA512) {
		to_hex(f->chksum, 64, hex);
		snprintf(digest, sizeof(digest), "sha512:%s", hex);
	}
	if (*digest) {
		fd = copa_cache_open_blob(c->o->cache, digest, true, &e2);
		if (fd >= 0)
			return fd;
	}
	if (copa_cache_begin(c->o->cache, &t, err) < 0)
		return -1;
	{
		struct copa_http_fetch fx = {.url = url,
		                             .expect_digest = *digest ? digest : NULL,
		                             .expect_size = f->size ? (int64_t)f->size : -1,
		                             .max_size = COPA_RPMMD_PRIMARY_MAX,
		                             .fd = t.fd,
		                             .what = what};

		if (copa_http_fetch(c->o->http, &fx, NULL, err) < 0) {
			copa_tmpfile_release(&t);
			return -1; /* `what` names the file and the repository */
		}
	}
	if (*digest) {
		if (copa_cache_commit_blob(c->o->cache, &t, digest, true, NULL, err) < 0) {
			copa_tmpfile_release(&t);
			return -1;
		}
		copa_tmpfile_release(&t);
		return copa_cache_open_blob(c->o->cache, digest, false, err);
	}
	/* sha384: not a cache digest; read the download itself (add_primary verifies it) */
	fd = openat(t.dirfd, t.tmp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		copa_err_sys(err, COPA_E_IO, errno, "%s: cannot reopen the download", what);
	copa_tmpfile_release(&t);
	return fd;
}

static int load_one(struct ctx *c, Pool *pool, struct copa_rpm_source *src, const bool repo_gpg,
                    const struct copa_metalink *ml, size_t index, struct copa_err *err)
{
	_cleanup_free_ char *url = copa_xasprintf("%srepodata/repomd.xml", src->base);
	_cleanup_free_ char *what = copa_xasprintf("'repomd.xml' of repository '%s'", src->id);
	_cleanup_free_ char *xml = NULL, *sig = NULL;
	struct copa_buf text = COPA_BUF_INIT;
	struct copa_repomd md = {0};
	int fd = -1, rc = -1, n;

	xml = fetch_small(c, url, COPA_REPOMD_MAX, what, NULL, err);
	if (!xml)
		return -1; /* `what` names the file and the repository */
	if (copa_fs_read_file(AT_FDCWD, xml, COPA_REPOMD_MAX, &text, err) < 0)
		goto out;
	if (ml) {
		char why[160];

		/* as librepo: the metalink's size and hashes, before anything else reads it */
		if (!copa_metalink_match(ml, text.p ? text.p : "", text.len, why, sizeof(why))) {
			copa_err_set(err, COPA_E_VERIFY,
			             "'%s' of repository '%s' does not match its metalink: %s", url,
			             src->id, why);
			goto out;
		}
	}
	if (repo_gpg) {
		_cleanup_free_ char *surl = copa_xasprintf("%s.asc", url);
		_cleanup_free_ char *swhat =
		    copa_xasprintf("'repomd.xml.asc' of repository '%s'", src->id);
		bool missing;

		sig = fetch_small(c, surl, 1u << 20, swhat, &missing, err);
		if (!sig) {
			if (missing)
				copa_err_set(err, COPA_E_VERIFY,
				             "cannot verify 'repomd.xml' of repository '%s': it "
				             "has no signature (repodata/repomd.xml.asc) and "
				             "repo_gpgcheck is on",
				             src->id);
			goto out;
		}
		if (verify_repomd(c, src, xml, sig, err) < 0)
			goto out;
	}
	if (copa_repomd_parse(text.p ? text.p : "", text.len, url, &md, err) < 0)
		goto out;
	fd = open_primary(c, src, &md.primary, err);
	if (fd < 0)
		goto out;
	src->repo = repo_create(pool, src->id);
	src->repo->appdata = (void *)(uintptr_t)(index + 1);
	n = copa_rpmmd_add_primary(src->repo, fd, &md.primary, md.primary.location, err);
	if (n < 0) {
		copa_err_wrap(err, "repository '%s'", src->id);
		goto out;
	}
	copa_debug(c->o->out, "repository '%s' (%s): %d packages", src->id, src->base, n);
	rc = 0;
out:
	if (rc < 0 && src->repo) {
		repo_free(src->repo, 1); /* the next mirror starts from nothing */
		src->repo = NULL;
	}
	if (fd >= 0)
		close(fd);
	if (xml)
		unlink(xml);
	if (sig)
		unlink(sig);
	copa_repomd_release(&md);
	copa_buf_release(&text);
	return rc;
}

int copa_rpm_mirrorlist_first(const char *text, size_t n, char **url, struct copa_err *err)
{
	size_t i = 0;

	*url = NULL;
	while (i < n) {
		size_t a = i, b;
		bool ok = true;

		while (i < n && text[i] != '\n')
			i++;
		b = i++;
		while (a < b && (text[a] == ' ' || text[a] == '\t'))
			a++;
		while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t' || text[b - 1] == '\r'))
			b--;
		if (a == b || text[a] == '#' || b - a > COPA_RPM_VALUE_MAX)
			continue;
		for (size_t k = a; k < b && ok; k++)
			ok = (unsigned char)text[k] > 0x20 && text[k] != 0x7f;
		if (!ok || !((b - a > 7 && strncasecmp(text + a, "http://", 7) == 0) ||
		             (b - a > 8 && strncasecmp(text + a, "https://", 8) == 0)))
			continue;
		*url = copa_xstrndup(text + a, b - a);
		return 0;
	}
	return copa_err_set(err, COPA_E_INPUT, "the mirrorlist names no http(s) mirror");
}

/* Appends a copy of url to the candidate list (*v, *n), a '/' added when missing. */
static void push_base(char ***v, size_t *n, const char *url)
{
	*v = copa_xrealloc(*v, (*n + 2) * sizeof(**v));
	(*v)[(*n)++] = copa_xasprintf("%s%s", url, url[strlen(url) - 1] == '/' ? "" : "/");
	(*v)[*n] = NULL;
}

/* Every http(s) mirror of a mirrorlist, in its order (dnf tries them in turn). */
static int from_mirrorlist(struct ctx *c, const struct copa_rpm_repo *r, char ***v, size_t *n,
                           struct copa_err *err)
{
	_cleanup_free_ char *what = copa_xasprintf("mirrorlist of repository '%s'", r->id);
	_cleanup_free_ char *path = NULL;
	struct copa_buf text = COPA_BUF_INIT;
	char *url = NULL;
	int rc = -1;

	path = fetch_small(c, r->mirrorlist, COPA_RPM_MIRRORLIST_MAX, what, NULL, err);
	if (!path || copa_fs_read_file(AT_FDCWD, path, COPA_RPM_MIRRORLIST_MAX, &text, err) < 0 ||
	    copa_rpm_mirrorlist_first(text.p ? text.p : "", text.len, &url, err) < 0)
		goto out;
	/* the first usable line is known to exist; take every usable line, one at a time */
	for (size_t i = 0; i < text.len;) {
		size_t e = i;
		struct copa_err e2 = COPA_ERR_INIT;
		char *u = NULL;

		while (e < text.len && text.p[e] != '\n')
			e++;
		if (copa_rpm_mirrorlist_first(text.p + i, e - i, &u, &e2) == 0 &&
		    *n < COPA_RPM_REPO_URLS_MAX)
			push_base(v, n, u);
		free(u);
		i = e + 1;
	}
	rc = 0;
out:
	if (rc < 0)
		copa_err_wrap(err, "repository '%s' (%s): mirrorlist '%s'", r->id, r->where,
		              r->mirrorlist);
	if (path)
		unlink(path);
	free(url);
	copa_buf_release(&text);
	return rc;
}

/* The metalink of a repository: its mirrors (best first) and repomd.xml's hashes. */
static int from_metalink(struct ctx *c, const struct copa_rpm_repo *r, struct copa_metalink *ml,
                         char ***v, size_t *n, struct copa_err *err)
{
	_cleanup_free_ char *what = copa_xasprintf("metalink of repository '%s'", r->id);
	_cleanup_free_ char *path = NULL;
	struct copa_buf text = COPA_BUF_INIT;
	int rc = -1;

	path = fetch_small(c, r->metalink, COPA_METALINK_MAX, what, NULL, err);
	if (!path || copa_fs_read_file(AT_FDCWD, path, COPA_METALINK_MAX, &text, err) < 0 ||
	    copa_metalink_parse(copa_buf_str(&text), text.len, r->metalink, ml, err) < 0) {
		copa_err_wrap(err, "repository '%s' (%s)", r->id, r->where);
		goto out;
	}
	for (size_t i = 0; i < ml->n_bases; i++)
		push_base(v, n, ml->bases[i]);
	rc = 0;
out:
	if (path)
		unlink(path);
	copa_buf_release(&text);
	return rc;
}

static bool id_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '_' || ch == '.' || ch == ':';
}

/* Parses the --repo entries into r: NAME=URL, or the path of a .repo file. */
static int parse_user_repos(const struct copa_rpmrepo_opts *o, const struct copa_rpm_vars *vars,
                            struct copa_rpm_repos *r, struct copa_err *err)
{
	for (size_t i = 0; o->repos && o->repos[i]; i++) {
		const char *s = o->repos[i], *eq = strchr(s, '=');
		bool named = eq && eq > s && strstr(eq, "://") != NULL;

		for (const char *p = s; named && p < eq; p++)
			named = id_char(*p);
		if (named) {
			_cleanup_free_ char *text =
			    copa_xasprintf("[%.*s]\nbaseurl=%s\n", (int)(eq - s), s, eq + 1);

			if (copa_rpm_repos_parse(r, vars, text, strlen(text), "--repo", err) < 0)
				return copa_err_wrap(err, "--repo '%s'", s);
		} else {
			struct copa_buf text = COPA_BUF_INIT;
			int rc = copa_fs_read_file(AT_FDCWD, s, COPA_RPM_REPO_FILE_MAX, &text, err);

			if (rc == 0)
				rc = copa_rpm_repos_parse(r, vars, copa_buf_str(&text), text.len, s,
				                          err);
			copa_buf_release(&text);
			if (rc < 0)
				return copa_err_wrap(err, "--repo '%s' (NAME=URL or a .repo file)",
				                     s);
		}
	}
	return 0;
}

static bool overridden(const struct copa_rpm_repos *user, const char *id)
{
	for (size_t i = 0; i < user->n; i++)
		if (strcmp(user->v[i].id, id) == 0)
			return true;
	return false;
}

enum origin { FROM_IMAGE, FROM_USER, FROM_DEFAULTS };

/* The candidate base URLs of r, in the order dnf tries them; *ml filled for a metalink. */
static int candidates(struct ctx *c, const struct copa_rpm_repo *r, struct copa_metalink *ml,
                      char ***v, size_t *n, struct copa_err *err)
{
	for (size_t i = 0; r->baseurls && r->baseurls[i]; i++)
		if (has_scheme(r->baseurls[i], "http") || has_scheme(r->baseurls[i], "https"))
			push_base(v, n, r->baseurls[i]);
	if (*n == 0 && r->metalink &&
	    (has_scheme(r->metalink, "http") || has_scheme(r->metalink, "https")))
		return from_metalink(c, r, ml, v, n, err);
	if (*n == 0 && r->mirrorlist &&
	    (has_scheme(r->mirrorlist, "http") || has_scheme(r->mirrorlist, "https")))
		return from_mirrorlist(c, r, v, n, err);
	if (*n == 0 && r->baseurls && r->baseurls[0])
		return copa_err_set(err, COPA_E_UNSUPPORTED,
		                    "repository '%s' (%s) is at '%s': copa reads http(s) "
		                    "repositories; name a mirror with --repo %s=URL",
		                    r->id, r->where, r->baseurls[0], r->id);
	if (*n == 0)
		return copa_err_set(err, COPA_E_UNSUPPORTED,
		                    "repository '%s' (%s) has only a %s copa does not follow: "
		                    "name a mirror with --repo %s=URL",
		                    r->id, r->where,
		                    r->metalink ? "non-http metalink" : "non-http mirrorlist",
		                    r->id);
	return 0;
}

static int add_source(struct ctx *c, Pool *pool, const struct copa_rpm_repo *r, enum origin from,
                      struct copa_rpm_sources *out, struct copa_err *err)
{
	struct copa_rpm_source *src;
	struct copa_metalink ml = {0};
	char **bases = NULL;
	size_t n = 0;
	int rc = -1;

	if (!r->enabled)
		return 0;
	if (r->gpgcheck_off && !c->o->allow_insecure)
		return copa_err_set(err, COPA_E_UNSUPPORTED,
		                    "repository '%s' (%s) turns gpgcheck off: copa installs "
		                    "only signed packages unless told otherwise "
		                    "(--allow-insecure-repo)",
		                    r->id, r->where);
	if (candidates(c, r, &ml, &bases, &n, err) < 0)
		goto out;
	out->v = copa_xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
	src = &out->v[out->n++];
	memset(src, 0, sizeof(*src));
	src->id = copa_xstrdup(r->id);
	src->gpgcheck = !r->gpgcheck_off;
	if (r->gpgcheck_off)
		copa_warn(c->o->out,
		          "repository '%s': package signatures not checked (gpgcheck=0, "
		          "--allow-insecure-repo)",
		          r->id);
	if (load_keys(c, r, src, err) < 0)
		goto out;
	if ((src->gpgcheck || r->repo_gpgcheck) && src->n_keys == 0) {
		if (from == FROM_DEFAULTS)
			copa_err_set(err, COPA_E_VERIFY,
			             "repository '%s' (%s) has no keys to check its signatures: "
			             "the image lacks %s; copa carries no distribution key, "
			             "pass it with --keyring FILE",
			             r->id, r->where,
			             r->gpgkeys && r->gpgkeys[0] ? r->gpgkeys[0] : "its key");
		else
			copa_err_set(err, COPA_E_VERIFY,
			             "repository '%s' (%s) has no keys to check its signatures: "
			             "add them with --keyring%s",
			             r->id, r->where,
			             from == FROM_USER ? "" : " or gpgkey= in the .repo file");
		goto out;
	}
	/* mirror fallback, as dnf: the next candidate when one fails in any way */
	for (size_t i = 0; i < n; i++) {
		free(src->base);
		src->base = copa_xstrdup(bases[i]);
		if (i)
			copa_debug(c->o->out, "repository '%s': mirror %s", r->id, src->base);
		if (load_one(c, pool, src, r->repo_gpgcheck, ml.n_bases ? &ml : NULL, out->n - 1,
		             err) == 0) {
			rc = 0;
			break;
		}
		if (err->code == COPA_E_CANCELED || err->code == COPA_E_TIMEOUT)
			break;
		if (i + 1 < n) {
			copa_warn(c->o->out, "%s; trying the next mirror", err->msg);
			copa_err_clear(err);
		} else if (n > 1) {
			copa_err_wrap(err, "repository '%s': all %zu mirrors failed, the last",
			              r->id, n);
		}
	}
out:
	for (size_t i = 0; i < n; i++)
		free(bases[i]);
	free(bases);
	copa_metalink_release(&ml);
	return rc;
}

/* Points every URL of a default repository at COPA_RPM_DEFAULT_MIRROR, when set. */
static int rebase_defaults(struct copa_rpm_repos *d, const char *mirror, struct copa_out *out,
                           struct copa_err *err)
{
	for (size_t i = 0; i < d->n; i++) {
		struct copa_rpm_repo *r = &d->v[i];
		char **urls[] = {&r->mirrorlist, &r->metalink};

		copa_info(out, "rpm: repository '%s' (%s): %s", r->id, r->where,
		          r->baseurls && r->baseurls[0] ? r->baseurls[0]
		          : r->metalink                 ? r->metalink
		                                        : r->mirrorlist);
		if (!mirror || !*mirror)
			continue;
		for (size_t k = 0; r->baseurls && r->baseurls[k]; k++) {
			char *u = copa_rpm_default_rebase(r->baseurls[k], mirror);

			if (!u)
				goto bad;
			free(r->baseurls[k]);
			r->baseurls[k] = u;
		}
		for (size_t k = 0; k < COPA_ARRAY_SIZE(urls); k++) {
			char *u;

			if (!*urls[k])
				continue;
			u = copa_rpm_default_rebase(*urls[k], mirror);
			if (!u)
				goto bad;
			free(*urls[k]);
			*urls[k] = u;
		}
		copa_info(out, "rpm: repository '%s' fetched from %s (%s)", r->id, mirror,
		          COPA_RPM_DEFAULT_MIRROR_ENV);
	}
	return 0;
bad:
	return copa_err_set(err, COPA_E_USAGE,
	                    "%s='%s' is not an http(s) URL (scheme://host[:port][/prefix])",
	                    COPA_RPM_DEFAULT_MIRROR_ENV, mirror);
}

/* The distribution's official repositories, for an image that configures none. */
static int read_defaults(const struct copa_rpmrepo_opts *o, const struct copa_rpm_vars *vars,
                         struct copa_rpm_repos *d, struct copa_err *err)
{
	const char *text = copa_rpm_default_repos(o->os_id, o->version_id);
	_cleanup_free_ char *name = NULL;

	if (!text)
		return 0;
	name = copa_xasprintf("copa's default repositories for %s %s", o->os_id,
	                      o->version_id ? o->version_id : "");
	if (copa_rpm_repos_parse(d, vars, text, strlen(text), name, err) < 0)
		return -1;
	return rebase_defaults(d, getenv(COPA_RPM_DEFAULT_MIRROR_ENV), o->out, err);
}

int copa_rpmrepo_load(Pool *pool, const struct copa_rpmrepo_opts *o, struct copa_rpm_sources *out,
                      struct copa_err *err)
{
	struct copa_rpm_vars vars = {0};
	struct copa_rpm_repos img = {0}, user = {0};
	struct ctx c = {.o = o};
	const char *basearch = o->arch ? copa_rpm_basearch(o->arch) : NULL;
	bool dflt = false;
	int rc = -1;

	if ((o->releasever && copa_rpm_vars_set(&vars, "releasever", o->releasever, err) < 0) ||
	    (basearch && copa_rpm_vars_set(&vars, "basearch", basearch, err) < 0) ||
	    (o->arch && copa_rpm_vars_set(&vars, "arch", o->arch, err) < 0))
		goto out;
	if (!o->repos_replace && copa_rpm_repos_read_view(o->view, &vars, &img, o->out, err) < 0)
		goto out;
	if (parse_user_repos(o, &vars, &user, err) < 0)
		goto out;
	/* no .repo file and no --repo (distroless): the distribution's own repositories */
	if (img.n == 0 && user.n == 0 && !o->repos_replace) {
		if (read_defaults(o, &vars, &img, err) < 0)
			goto out;
		dflt = img.n > 0;
	}
	for (size_t i = 0; i < img.n; i++)
		if (!overridden(&user, img.v[i].id) &&
		    add_source(&c, pool, &img.v[i], dflt ? FROM_DEFAULTS : FROM_IMAGE, out, err) <
		        0)
			goto out;
	for (size_t i = 0; i < user.n; i++)
		if (add_source(&c, pool, &user.v[i], FROM_USER, out, err) < 0)
			goto out;
	if (out->n == 0) {
		copa_err_set(err, COPA_E_INPUT,
		             "no enabled repository in the image (etc/yum.repos.d) and copa knows "
		             "no default repositories for '%s %s': name one with --repo NAME=URL",
		             o->os_id ? o->os_id : "unknown", o->version_id ? o->version_id : "");
		goto out;
	}
	rc = 0;
out:
	copa_rpm_vars_release(&vars);
	copa_rpm_repos_release(&img);
	copa_rpm_repos_release(&user);
	return rc;
}

int copa_rpmrepo_configured(struct copa_view *view, const char *os_id, const char *version_id,
                            const char *arch, struct copa_rpm_repos *r, bool *defaults,
                            struct copa_out *out, struct copa_err *err)
{
	struct copa_rpm_vars vars = {0};
	const char *basearch = arch ? copa_rpm_basearch(arch) : NULL;
	const char *text;
	int rc = -1;

	*defaults = false;
	if ((version_id && copa_rpm_vars_set(&vars, "releasever", version_id, err) < 0) ||
	    (basearch && copa_rpm_vars_set(&vars, "basearch", basearch, err) < 0) ||
	    (arch && copa_rpm_vars_set(&vars, "arch", arch, err) < 0) ||
	    copa_rpm_repos_read_view(view, &vars, r, out, err) < 0)
		goto out;
	text = r->n ? NULL : copa_rpm_default_repos(os_id, version_id);
	if (text) {
		_cleanup_free_ char *name = copa_xasprintf("copa's default repositories for %s %s",
		                                           os_id, version_id ? version_id : "");

		if (copa_rpm_repos_parse(r, &vars, text, strlen(text), name, err) < 0)
			goto out;
		*defaults = true;
	}
	rc = 0;
out:
	copa_rpm_vars_release(&vars);
	return rc;
}
