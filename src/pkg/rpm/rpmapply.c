/*
 * rpmapply.c: the rpm applier and database writer (see rpmapply.h).
 */
#include "pkg/rpm/rpmapply.h"

#include "pkg/fs.h"
#include "pkg/pathmap.h"
#include "pkg/rpm/rpmbdb.h"
#include "pkg/rpm/rpmcaps.h"
#include "pkg/rpm/rpmlib.h"
#include "pkg/rpm/rpmmanifest.h"
#include "util/blob.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <rpm/header.h>
#include <rpm/rpmarchive.h>
#include <rpm/rpmdb.h>
#include <rpm/rpmfi.h>
#include <rpm/rpmfiles.h>
#include <rpm/rpmio.h>
#include <rpm/rpmkeyring.h>
#include <rpm/rpmlib.h>
#include <rpm/rpmpgp.h>
#include <rpm/rpmps.h>
#include <rpm/rpmtag.h>
#include <rpm/rpmts.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define OWNERS_MAX  (16u << 20)
#define CONFIG_MAX  (64u << 20) /* a %config file of the image hashed for comparison */
#define RPM_ENTRIES 1000000     /* files of one package */

struct done_pkg {
	char *path;
	bool upgrade;
	char **replaces; /* NULL-terminated, owned */
};

struct copa_rpm_apply {
	struct copa_rpm_apply_opts o;
	struct copa_buf passwd, group;
	int stage_fd;
	unsigned long long seq;
	struct done_pkg *done;
	size_t n_done;
};

/* One thing the package puts into the layer. */
struct item {
	char *path; /* canonical */
	char *link;
	char *staged;
	void *inline_data;
	uint8_t type;
	uint32_t mode, uid, gid, rdev_major, rdev_minor;
	int64_t mtime;
	uint64_t size;
	bool has_caps;
	uint8_t caps[COPA_RPMCAPS_XATTR_LEN]; /* security.capability */
};

/* A package path and what it is: the pathmap ownership table. */
struct own {
	char *path;
	int type;
};

struct pkgctx {
	struct copa_rpm_apply *a;
	const char *label;
	struct item *items;
	size_t n_items, cap_items;
	struct own *own;
	size_t n_own;
	char **whiteouts;
	size_t n_wo, cap_wo;
	/* old packages' %config digests: path -> digest */
	char **cfg_path, **cfg_digest;
	size_t n_cfg;
};

static void owner_from_name(const struct copa_buf *db, const char *name, uint32_t *id)
{
	struct copa_blob rest = copa_blob(db->p, db->len), line;
	size_t n = name ? strlen(name) : 0;

	*id = 0;
	if (!n || strcmp(name, "root") == 0)
		return;
	while (rest.n && copa_blob_split(&rest, '\n', &line)) {
		struct copa_blob f, r2 = line, idf;
		uint64_t v;

		if (!copa_blob_split(&r2, ':', &f) || !copa_blob_eq(f, copa_blob(name, n)) ||
		    !copa_blob_split(&r2, ':', &f) || !copa_blob_split(&r2, ':', &idf) ||
		    copa_blob_to_u64(idf, UINT32_MAX, &v) < 0)
			continue;
		*id = (uint32_t)v;
		return;
	}
}

struct copa_rpm_apply *copa_rpm_apply_new(const struct copa_rpm_apply_opts *o, struct copa_err *err)
{
	struct copa_rpm_apply *a = copa_xcalloc(1, sizeof(*a));
	const char *files[] = {"etc/passwd", "etc/group"};
	struct copa_buf *bufs[] = {&a->passwd, &a->group};

	a->o = *o;
	a->stage_fd = copa_layer_builder_staging_fd(o->builder);
	for (size_t i = 0; i < 2; i++)
		if (copa_view_read(o->view, files[i], OWNERS_MAX, bufs[i], err) < 0) {
			if (err->code != COPA_E_NOTFOUND) {
				copa_rpm_apply_free(a);
				return NULL;
			}
			copa_err_clear(err);
		}
	return a;
}

void copa_rpm_apply_free(struct copa_rpm_apply *a)
{
	if (!a)
		return;
	copa_buf_release(&a->passwd);
	copa_buf_release(&a->group);
	for (size_t i = 0; i < a->n_done; i++) {
		free(a->done[i].path);
		for (char **r = a->done[i].replaces; r && *r; r++)
			free(*r);
		free(a->done[i].replaces);
	}
	free(a->done);
	free(a);
}

static void pkgctx_release(struct pkgctx *c, bool unstage)
{
	for (size_t i = 0; i < c->n_items; i++) {
		if (unstage && c->items[i].staged)
			unlinkat(c->a->stage_fd, c->items[i].staged, 0);
		free(c->items[i].path);
		free(c->items[i].link);
		free(c->items[i].staged);
		free(c->items[i].inline_data);
	}
	free(c->items);
	for (size_t i = 0; i < c->n_own; i++)
		free(c->own[i].path);
	free(c->own);
	for (size_t i = 0; i < c->n_wo; i++)
		free(c->whiteouts[i]);
	free(c->whiteouts);
	for (size_t i = 0; i < c->n_cfg; i++) {
		free(c->cfg_path[i]);
		free(c->cfg_digest[i]);
	}
	free(c->cfg_path);
	free(c->cfg_digest);
}

static int cmp_own(const void *x, const void *y)
{
	return strcmp(((const struct own *)x)->path, ((const struct own *)y)->path);
}

static int own_type(void *ctx, const char *path)
{
	struct pkgctx *c = ctx;
	struct own key = {.path = (char *)(uintptr_t)path};
	struct own *hit = bsearch(&key, c->own, c->n_own, sizeof(*c->own), cmp_own);

	return hit ? hit->type : -1;
}

static int ftype_of(rpm_mode_t mode)
{
	if (S_ISDIR(mode))
		return COPA_FT_DIR;
	if (S_ISLNK(mode))
		return COPA_FT_SYMLINK;
	if (S_ISCHR(mode))
		return COPA_FT_CHR;
	if (S_ISBLK(mode))
		return COPA_FT_BLK;
	if (S_ISFIFO(mode))
		return COPA_FT_FIFO;
	return COPA_FT_REG;
}

/* "/usr/bin/x" -> "usr/bin/x" normalised; NULL when it does not normalise. */
static char *rel_path(const char *fn)
{
	struct copa_buf b = COPA_BUF_INIT;

	if (copa_path_normalize(fn, &b) < 0 || b.len == 0) {
		copa_buf_release(&b);
		return NULL;
	}
	return copa_buf_detach(&b, NULL);
}

static int build_own(struct pkgctx *c, rpmfiles files, struct copa_err *err)
{
	int fc = rpmfilesFC(files);

	if (fc > RPM_ENTRIES)
		return copa_err_set(err, COPA_E_LIMIT, "package '%s' has more than %d files",
		                    c->label, RPM_ENTRIES);
	c->own = copa_xcalloc((size_t)fc + 1, sizeof(*c->own));
	for (int i = 0; i < fc; i++) {
		_cleanup_free_ char *fn = rpmfilesFN(files, i);
		char *rel = fn ? rel_path(fn) : NULL;

		if (!rel)
			return copa_err_set(err, COPA_E_INPUT, "package '%s' has a bad path '%s'",
			                    c->label, fn ? fn : "");
		if (rpmfilesFFlags(files, i) & RPMFILE_GHOST) {
			free(rel);
			continue;
		}
		c->own[c->n_own].path = rel;
		c->own[c->n_own++].type = ftype_of(rpmfilesFMode(files, i));
	}
	qsort(c->own, c->n_own, sizeof(*c->own), cmp_own);
	return 0;
}

static struct item *new_item(struct pkgctx *c)
{
	c->items = copa_xgrow(c->items, &c->cap_items, c->n_items + 1, sizeof(*c->items));
	memset(&c->items[c->n_items], 0, sizeof(*c->items));
	return &c->items[c->n_items++];
}

static rpmKeyring make_keyring(const struct copa_rpm_apply_pkg *p)
{
	rpmKeyring kr = rpmKeyringNew();

	for (size_t i = 0; i < p->n_keys; i++) {
		rpmPubkey k = rpmPubkeyNew((const uint8_t *)p->keys[i].p, p->keys[i].len);
		rpmPubkey *subs;
		int nsubs = 0;

		if (!k)
			continue;
		rpmKeyringAddKey(kr, k);
		subs = rpmGetSubkeys(k, &nsubs);
		for (int j = 0; j < nsubs; j++) {
			rpmKeyringAddKey(kr, subs[j]);
			rpmPubkeyFree(subs[j]);
		}
		free(subs);
		rpmPubkeyFree(k);
	}
	return kr;
}

/* Reads and verifies the header; fd is left at the payload. */
static int read_header(struct pkgctx *c, const struct copa_rpm_apply_pkg *p, FD_t fd, Header *h,
                       struct copa_err *err)
{
	rpmts ts = rpmtsCreate();
	rpmKeyring kr = make_keyring(p);
	rpmRC rc;

	rpmtsSetKeyring(ts, kr);
	rpmKeyringFree(kr);
	rpmtsSetVSFlags(ts, RPMVSF_DEFAULT);
	rc = rpmReadPackageFile(ts, fd, p->label, h);
	rpmtsFree(ts);
	switch (rc) {
	case RPMRC_OK:
		break;
	case RPMRC_NOKEY:
	case RPMRC_NOTTRUSTED:
		if (!p->gpgcheck)
			break;
		return copa_err_set(err, COPA_E_VERIFY,
		                    "cannot verify package '%s': signed by a key that is not "
		                    "among the repository's keys%s%s (add it with --keyring)",
		                    c->label, p->keys_desc && *p->keys_desc ? " from " : "",
		                    p->keys_desc ? p->keys_desc : "");
	case RPMRC_NOTFOUND:
		return copa_err_set(err, COPA_E_PACKAGE, "'%s' is not an rpm package", c->label);
	case RPMRC_FAIL:
	default:
		return copa_err_set(err, COPA_E_VERIFY,
		                    "cannot verify package '%s': its signature or header digest "
		                    "does not match (tampered or corrupt)",
		                    c->label);
	}
	if (p->gpgcheck && !headerIsEntry(*h, RPMTAG_RSAHEADER) &&
	    !headerIsEntry(*h, RPMTAG_DSAHEADER))
		return copa_err_set(err, COPA_E_VERIFY,
		                    "cannot verify package '%s': it is not signed (the repository "
		                    "has gpgcheck on)",
		                    c->label);
	return 0;
}

/* Hashes the payload (raw fd from off to EOF) against the signed payload digest. */
static int check_payload(struct pkgctx *c, Header h, int raw, off_t off, bool required,
                         struct copa_err *err)
{
	struct rpmtd_s td;
	const char *want = NULL;
	uint32_t algo = (uint32_t)headerGetNumber(h, RPMTAG_PAYLOADDIGESTALGO);
	enum copa_hash_alg alg;
	struct copa_hash hs;
	char buf[65536], hex[COPA_HASH_HEX_MAX];

	if (headerGet(h, RPMTAG_PAYLOADDIGEST, &td, HEADERGET_MINMEM)) {
		want = rpmtdNextString(&td);
		rpmtdFreeData(&td);
	}
	if (!want)
		return required ? copa_err_set(err, COPA_E_VERIFY,
		                               "cannot verify package '%s': its header has no "
		                               "payload digest (rpm < 4.14 package)",
		                               c->label)
		                : 0;
	if (algo == PGPHASHALGO_SHA256)
		alg = COPA_HASH_SHA256;
	else if (algo == PGPHASHALGO_SHA512)
		alg = COPA_HASH_SHA512;
	else
		return copa_err_set(err, COPA_E_VERIFY,
		                    "cannot verify package '%s': payload digest algorithm %u is "
		                    "not sha256 or sha512",
		                    c->label, algo);
	copa_hash_init(&hs, alg);
	for (;;) {
		ssize_t n = pread(raw, buf, sizeof(buf), off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			copa_hash_release(&hs);
			return copa_err_sys(err, COPA_E_IO, errno, "cannot read '%s'", c->label);
		}
		if (n == 0)
			break;
		copa_hash_update(&hs, buf, (size_t)n);
		off += n;
	}
	copa_hash_final_hex(&hs, hex);
	if (strcmp(hex, want) != 0)
		return copa_err_set(err, COPA_E_VERIFY,
		                    "cannot verify package '%s': its payload does not match the "
		                    "signed payload digest (tampered or corrupt)",
		                    c->label);
	return 0;
}

/* Opens the private database copy read-only in a session that defined _dbpath. */
static rpmts open_db(const char *root, struct copa_err *err)
{
	rpmts ts = rpmtsCreate();

	rpmtsSetRootDir(ts, "/");
	(void)root;
	if (rpmtsOpenDB(ts, O_RDONLY) != 0) {
		rpmtsFree(ts);
		copa_err_set(err, COPA_E_IO, "librpm cannot open the copy of the image's database");
		return NULL;
	}
	return ts;
}

static bool in_list(char *const *names, const char *name)
{
	for (; names && *names; names++)
		if (strcmp(*names, name) == 0)
			return true;
	return false;
}

static void push_str(char ***v, size_t *n, size_t *cap, char *s)
{
	*v = copa_xgrow(*v, cap, *n + 1, sizeof(**v));
	(*v)[(*n)++] = s;
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

/* True when an installed package other than the replaced ones owns the absolute path fn. */
static bool owned_by_other(rpmts ts, const char *fn, char *const *replaces)
{
	rpmdbMatchIterator mi = rpmtsInitIterator(ts, RPMDBI_INSTFILENAMES, fn, 0);
	Header h;
	bool other = false;

	while (mi && (h = rpmdbNextIterator(mi)) != NULL)
		if (!in_list(replaces, headerGetString(h, RPMTAG_NAME)))
			other = true;
	rpmdbFreeIterator(mi);
	return other;
}

/* The old packages' files: %config digests kept, files the new package lacks whited out. */
static int scan_old(struct pkgctx *c, rpmts ts, char *const *replaces, struct copa_err *err)
{
	for (char *const *r = replaces; r && *r; r++) {
		rpmdbMatchIterator mi = rpmtsInitIterator(ts, RPMDBI_NAME, *r, 0);
		Header h;

		while (mi && (h = rpmdbNextIterator(mi)) != NULL) {
			rpmfiles files = rpmfilesNew(NULL, h, RPMTAG_BASENAMES, 0);
			int fc = files ? rpmfilesFC(files) : 0;

			for (int i = 0; i < fc; i++) {
				_cleanup_free_ char *fn = rpmfilesFN(files, i);
				char *rel = fn ? rel_path(fn) : NULL;
				rpmfileAttrs fl = rpmfilesFFlags(files, i);

				if (!rel)
					continue;
				if ((fl & RPMFILE_CONFIG) && S_ISREG(rpmfilesFMode(files, i))) {
					size_t dlen = 0;
					const unsigned char *raw =
					    rpmfilesFDigest(files, i, NULL, &dlen);
					char *d = NULL;

					if (raw && dlen && dlen <= 64) {
						d = copa_xmalloc(2 * dlen + 1);
						to_hex(raw, dlen, d);
					}

					if (d) {
						size_t k = c->n_cfg++;

						c->cfg_path = copa_xrealloc(
						    c->cfg_path, c->n_cfg * sizeof(char *));
						c->cfg_digest = copa_xrealloc(
						    c->cfg_digest, c->n_cfg * sizeof(char *));
						c->cfg_path[k] = copa_xstrdup(rel);
						c->cfg_digest[k] = d;
					}
				}
				if ((fl & RPMFILE_GHOST) || S_ISDIR(rpmfilesFMode(files, i)) ||
				    own_type(c, rel) >= 0 || owned_by_other(ts, fn, replaces)) {
					free(rel);
					continue;
				}
				push_str(&c->whiteouts, &c->n_wo, &c->cap_wo, rel);
			}
			rpmfilesFree(files);
		}
		rpmdbFreeIterator(mi);
	}
	(void)err;
	return 0;
}

static const char *old_cfg_digest(const struct pkgctx *c, const char *rel)
{
	for (size_t i = 0; i < c->n_cfg; i++)
		if (strcmp(c->cfg_path[i], rel) == 0)
			return c->cfg_digest[i];
	return NULL;
}

/* The image's content digest of a regular file (algorithm of the package), or NULL. */
static char *image_digest(struct copa_rpm_apply *a, const char *path, int algo)
{
	const struct copa_view_entry *e = copa_view_get(a->o.view, path);
	struct copa_buf b = COPA_BUF_INIT;
	struct copa_err e2 = COPA_ERR_INIT;
	char hex[COPA_HASH_HEX_MAX];

	if (!e || e->type != COPA_FT_REG ||
	    (algo != PGPHASHALGO_SHA256 && algo != PGPHASHALGO_SHA512))
		return NULL;
	if (copa_view_read(a->o.view, path, CONFIG_MAX, &b, &e2) < 0) {
		copa_buf_release(&b);
		return NULL;
	}
	copa_hash_hex(algo == PGPHASHALGO_SHA256 ? COPA_HASH_SHA256 : COPA_HASH_SHA512,
	              b.p ? b.p : "", b.len, hex);
	copa_buf_release(&b);
	return copa_xstrdup(hex);
}

/*
 * For a %config file: where the new content goes. Returns the path to write
 * (malloc'd): the path itself, or path.rpmnew when the image changed the file
 * and it is noreplace; for plain %config the image's copy is saved as
 * path.rpmsave (an item added).
 */
static char *config_target(struct pkgctx *c, rpmfi fi, const char *canon, const char *rel,
                           bool *skip, struct copa_err *err)
{
	int algo = 0;
	_cleanup_free_ char *newd = rpmfiFDigestHex(fi, &algo);
	_cleanup_free_ char *mine = image_digest(c->a, canon, algo);
	const char *old = old_cfg_digest(c, rel);
	const struct copa_view_entry *e;
	struct item *it;
	struct copa_buf b = COPA_BUF_INIT;

	*skip = false;
	if (!mine || (old && strcmp(mine, old) == 0) || (newd && strcmp(mine, newd) == 0))
		return copa_xstrdup(canon);
	if (old && newd && strcmp(old, newd) == 0) {
		/* the package did not change it: rpm keeps the image's file, writes nothing */
		*skip = true;
		return copa_xstrdup(canon);
	}
	if (rpmfiFFlags(fi) & RPMFILE_NOREPLACE) {
		copa_warn(c->a->o.out,
		          "%s: '%s' was changed in the image: kept, the new version "
		          "written as '%s.rpmnew'",
		          c->label, canon, canon);
		return copa_xasprintf("%s.rpmnew", canon);
	}
	e = copa_view_get(c->a->o.view, canon);
	if (copa_view_read(c->a->o.view, canon, CONFIG_MAX, &b, err) < 0)
		return NULL;
	it = new_item(c);
	it->path = copa_xasprintf("%s.rpmsave", canon);
	it->type = COPA_FT_REG;
	it->mode = e->mode;
	it->uid = e->uid;
	it->gid = e->gid;
	it->mtime = e->mtime;
	it->size = b.len;
	it->inline_data = copa_buf_detach(&b, NULL);
	copa_warn(c->a->o.out, "%s: '%s' was changed in the image: saved as '%s.rpmsave'", c->label,
	          canon, canon);
	return copa_xstrdup(canon);
}

static int stage_content(struct pkgctx *c, rpmfi fi, struct item *it, struct copa_err *err)
{
	char *name = copa_xasprintf("copa-rpm-%ld-%llu", (long)getpid(), ++c->a->seq);
	int fd = copa_fs_open_beneath(c->a->stage_fd, name, O_WRONLY | O_CREAT | O_EXCL, 0600, err);
	FD_t ofd;
	int rc;

	if (fd < 0) {
		free(name);
		return copa_err_wrap(err, "staging '%s'", it->path);
	}
	it->staged = name;
	ofd = fdDup(fd);
	close(fd);
	if (!ofd)
		return copa_err_set(err, COPA_E_IO, "staging '%s': cannot duplicate", it->path);
	rc = rpmfiArchiveReadToFile(fi, ofd, 0);
	Fclose(ofd);
	if (rc != 0)
		return copa_err_set(err, COPA_E_VERIFY,
		                    "package '%s': the content of '%s' does not match its digest "
		                    "in the signed header, or the payload is damaged (%s)",
		                    c->label, it->path, rpmfileStrerror(rc));
	return 0;
}

static int unpack(struct pkgctx *c, rpmfiles files, FD_t pfd, struct copa_err *err)
{
	rpmfi fi = rpmfiNewArchiveReader(pfd, files, RPMFI_ITER_READ_ARCHIVE_CONTENT_FIRST);
	int fc = rpmfilesFC(files), rx, rc = 0;
	long *at = copa_xcalloc((size_t)fc + 1, sizeof(*at));

	for (int i = 0; i < fc; i++)
		at[i] = -1;
	if (!fi) {
		free(at);
		return copa_err_set(err, COPA_E_PACKAGE, "package '%s': cannot read its payload",
		                    c->label);
	}
	while ((rx = rpmfiNext(fi)) >= 0) {
		const char *fn = rpmfiFN(fi);
		_cleanup_free_ char *rel = fn ? rel_path(fn) : NULL;
		_cleanup_free_ char *canon = NULL;
		rpm_mode_t mode = rpmfiFMode(fi);
		const struct copa_view_entry *ve;
		struct item *it;

		if (!rel) {
			rc = copa_err_set(err, COPA_E_INPUT, "package '%s' has a bad path '%s'",
			                  c->label, fn ? fn : "");
			break;
		}
		if (rpmfiFFlags(fi) & RPMFILE_GHOST)
			continue;
		/* refused here, not half-way through commit: the layer would be left partial */
		if (strncmp(strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel, ".wh.", 4) == 0) {
			rc = copa_err_set(err, COPA_E_INPUT,
			                  "package '%s' ships '%s', a name reserved for whiteouts",
			                  c->label, fn);
			break;
		}
		canon = copa_pathmap_path(c->a->o.view, rel, own_type, c, c->label, err);
		if (!canon) {
			rc = -1;
			break;
		}
		ve = copa_view_get(c->a->o.view, canon);
		if (S_ISDIR(mode) && ve && ve->type == COPA_FT_DIR)
			continue; /* the image's directory keeps its metadata */
		if (S_ISREG(mode) && (rpmfiFFlags(fi) & RPMFILE_CONFIG) && ve &&
		    ve->type == COPA_FT_REG) {
			/* may add the .rpmsave item first */
			bool skip = false;
			char *target = config_target(c, fi, canon, rel, &skip, err);

			if (!target) {
				rc = -1;
				break;
			}
			if (skip) {
				free(target);
				continue;
			}
			it = new_item(c);
			it->path = target;
		} else {
			it = new_item(c);
			it->path = steal_ptr(&canon);
		}
		it->type = (uint8_t)ftype_of(mode);
		it->mode = mode & 07777;
		owner_from_name(&c->a->passwd, rpmfiFUser(fi), &it->uid);
		owner_from_name(&c->a->group, rpmfiFGroup(fi), &it->gid);
		it->mtime = rpmfiFMtime(fi);
		if (S_ISLNK(mode)) {
			it->link = copa_xstrdup(rpmfiFLink(fi) ? rpmfiFLink(fi) : "");
		} else if (S_ISCHR(mode) || S_ISBLK(mode)) {
			rpm_rdev_t rdev = rpmfiFRdev(fi);

			it->rdev_major = major(rdev);
			it->rdev_minor = minor(rdev);
		} else if (S_ISREG(mode)) {
			const char *caps = rpmfiFCaps(fi);
			int hc = caps && *caps
			             ? copa_rpmcaps_xattr(caps, strlen(caps), it->caps, err)
			             : 0;

			if (hc < 0) {
				rc = copa_err_wrap(err, "package '%s': '%s'", c->label, it->path);
				break;
			}
			it->has_caps = hc > 0;
			if (rpmfiArchiveHasContent(fi)) {
				it->size = rpmfiFSize(fi);
				at[rx] = (long)(c->n_items - 1);
				if ((rc = stage_content(c, fi, it, err)) < 0)
					break;
			} else {
				/* a hard link whose content came with an earlier member of its set
				 */
				const int *links = NULL;
				uint32_t nl = rpmfiFLinks(fi, &links);
				long first = -1;

				for (uint32_t k = 0; k < nl && first < 0; k++)
					if (links[k] >= 0 && links[k] < fc && at[links[k]] >= 0)
						first = at[links[k]];
				if (first < 0) {
					rc = copa_err_set(err, COPA_E_INPUT,
					                  "package '%s': '%s' has no content",
					                  c->label, it->path);
					break;
				}
				it->type = COPA_FT_HARDLINK;
				it->link = copa_xstrdup(c->items[first].path);
			}
		}
	}
	if (rc == 0 && rx != RPMERR_ITER_END)
		rc = copa_err_set(err, COPA_E_PACKAGE, "package '%s': damaged payload (%s)",
		                  c->label, rpmfileStrerror(rx));
	if (rc == 0 && (rx = rpmfiArchiveClose(fi)) != 0)
		rc = copa_err_set(err, COPA_E_PACKAGE, "package '%s': damaged payload (%s)",
		                  c->label, rpmfileStrerror(rx));
	rpmfiFree(fi);
	free(at);
	return rc;
}

static void list_scripts(Header h, struct copa_pm_applied *res)
{
	static const struct {
		rpmTagVal tag;
		const char *name;
	} scripts[] = {
	    {RPMTAG_PRETRANS, "%pretrans"},
	    {RPMTAG_PREIN, "%pre"},
	    {RPMTAG_POSTIN, "%post"},
	    {RPMTAG_PREUN, "%preun"},
	    {RPMTAG_POSTUN, "%postun"},
	    {RPMTAG_POSTTRANS, "%posttrans"},
	    {RPMTAG_TRIGGERSCRIPTS, "%trigger"},
	    {RPMTAG_FILETRIGGERSCRIPTS, "%filetrigger"},
	    {RPMTAG_TRANSFILETRIGGERSCRIPTS, "%transfiletrigger"},
	};
	size_t n = 0;

	res->skipped = copa_xcalloc(COPA_ARRAY_SIZE(scripts) + 1, sizeof(char *));
	for (size_t i = 0; i < COPA_ARRAY_SIZE(scripts); i++)
		if (headerIsEntry(h, scripts[i].tag))
			res->skipped[n++] = copa_xstrdup(scripts[i].name);
}

static int commit(struct pkgctx *c, struct copa_err *err)
{
	struct copa_rpm_apply *a = c->a;

	for (size_t i = 0; i < c->n_wo; i++) {
		struct copa_err e2 = COPA_ERR_INIT;
		_cleanup_free_ char *canon =
		    copa_pathmap_path(a->o.view, c->whiteouts[i], own_type, c, c->label, &e2);
		const struct copa_view_entry *ve = canon ? copa_view_get(a->o.view, canon) : NULL;

		if (!ve || ve->type == COPA_FT_DIR)
			continue;
		if (copa_pkgfs_remove(a->o.view, a->o.builder, canon, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < c->n_items; i++) {
		struct item *it = &c->items[i];
		struct copa_layer_entry e = {
		    .path = it->path,
		    .type = it->type,
		    .mode = it->mode,
		    .uid = it->uid,
		    .gid = it->gid,
		    .mtime = it->mtime,
		    .link = it->link,
		    .rdev_major = it->rdev_major,
		    .rdev_minor = it->rdev_minor,
		    .size = it->type == COPA_FT_REG ? it->size : 0,
		    .content = it->inline_data,
		    .staged = it->staged,
		};
		struct copa_layer_xattr xa = {
		    .name = "security.capability", .value = it->caps, .len = sizeof(it->caps)};

		if (it->has_caps && it->type == COPA_FT_REG) {
			e.xattrs = &xa;
			e.n_xattrs = 1;
		}

		if (it->type == COPA_FT_REG && !it->staged && !it->inline_data)
			e.content = "";
		if (copa_pkgfs_put(a->o.view, a->o.builder, &e, false, err) < 0)
			return copa_err_wrap(err, "package '%s'", c->label);
		free(it->staged);
		it->staged = NULL; /* the layer owns it now */
	}
	return 0;
}

int copa_rpm_apply_package(struct copa_rpm_apply *a, const struct copa_rpm_apply_pkg *p,
                           struct copa_pm_applied *res, struct copa_err *err)
{
	struct pkgctx c = {.a = a, .label = p->label};
	struct copa_rpmlib s;
	_cleanup_free_ char *dbpath = copa_xasprintf("%s/var/lib/rpm", a->o.root ? a->o.root : "");
	FD_t fd = NULL;
	Header h = NULL;
	rpmfiles files = NULL;
	rpmts dbts = NULL;
	const char *compr;
	_cleanup_free_ char *flags = NULL;
	off_t off;
	int rc = -1;

	if (copa_rpmlib_begin(&s, a->o.out, err) < 0)
		return -1;
	if (a->o.root) {
		copa_rpmlib_define(&s, "_dbpath", dbpath);
		copa_rpmlib_define(&s, "_db_backend", "sqlite");
	}
	fd = Fopen(p->path, "r.ufdio");
	if (!fd || Ferror(fd)) {
		copa_err_set(err, COPA_E_IO, "cannot open '%s'", p->path);
		goto out;
	}
	if (read_header(&c, p, fd, &h, err) < 0)
		goto out;
	off = (off_t)Ftell(fd);
	if (off < 0 || check_payload(&c, h, Fileno(fd), off, p->gpgcheck, err) < 0)
		goto out;
	files = rpmfilesNew(NULL, h, RPMTAG_BASENAMES, RPMFI_KEEPHEADER);
	if (!files || build_own(&c, files, err) < 0) {
		if (!files)
			copa_err_set(err, COPA_E_PACKAGE, "package '%s': no file list", p->label);
		goto out;
	}
	if (a->o.root) {
		dbts = open_db(a->o.root, err);
		if (!dbts || scan_old(&c, dbts, p->replaces, err) < 0)
			goto out;
	}
	compr = headerGetString(h, RPMTAG_PAYLOADCOMPRESSOR);
	if (!compr)
		compr = "gzip";
	if (strcmp(compr, "gzip") && strcmp(compr, "xz") && strcmp(compr, "lzma") &&
	    strcmp(compr, "zstd") && strcmp(compr, "bzip2")) {
		copa_err_set(err, COPA_E_UNSUPPORTED, "package '%s': payload compressor '%s'",
		             p->label, compr);
		goto out;
	}
	flags = copa_xasprintf("r.%s", compr);
	{
		FD_t pfd = Fdopen(fd, flags);

		if (!pfd) {
			copa_err_set(err, COPA_E_PACKAGE, "package '%s': cannot decompress (%s)",
			             p->label, compr);
			goto out;
		}
		fd = pfd;
	}
	if (unpack(&c, files, fd, err) < 0 || commit(&c, err) < 0)
		goto out;
	if (res) {
		memset(res, 0, sizeof(*res));
		res->name = copa_xstrdup(headerGetString(h, RPMTAG_NAME));
		list_scripts(h, res);
	}
	a->done = copa_xrealloc(a->done, (a->n_done + 1) * sizeof(*a->done));
	{
		struct done_pkg *d = &a->done[a->n_done++];
		size_t nr = 0;

		d->path = copa_xstrdup(p->path);
		d->upgrade = p->replaces && p->replaces[0];
		while (p->replaces && p->replaces[nr])
			nr++;
		d->replaces = copa_xcalloc(nr + 1, sizeof(char *));
		for (size_t k = 0; k < nr; k++)
			d->replaces[k] = copa_xstrdup(p->replaces[k]);
	}
	rc = 0;
out:
	if (dbts)
		rpmtsFree(dbts);
	rpmfilesFree(files);
	headerFree(h);
	if (fd)
		Fclose(fd);
	copa_rpmlib_end(&s);
	pkgctx_release(&c, rc < 0);
	return rc;
}

/* ---- the database ---- */

struct notify {
	FD_t fd;
};

static void *notify_cb(const void *h, const rpmCallbackType what, const rpm_loff_t amount,
                       const rpm_loff_t total, fnpyKey key, rpmCallbackData data)
{
	struct notify *n = data;

	(void)h;
	(void)amount;
	(void)total;
	if (what == RPMCALLBACK_INST_OPEN_FILE && key) {
		n->fd = Fopen((const char *)key, "r.ufdio");
		return n->fd;
	}
	if (what == RPMCALLBACK_INST_CLOSE_FILE && n->fd) {
		Fclose(n->fd);
		n->fd = NULL;
	}
	return NULL;
}

static int run_justdb(struct copa_rpm_apply *a, struct copa_err *err)
{
	struct copa_rpmlib s;
	_cleanup_free_ char *dbpath = copa_xasprintf("%s/var/lib/rpm", a->o.root);
	_cleanup_free_ char *plugins = copa_xasprintf("%s/no-plugins", a->o.root);
	struct notify nt = {0};
	rpmts ts;
	int rc = 0;

	if (copa_rpmlib_begin(&s, a->o.out, err) < 0)
		return -1;
	copa_rpmlib_define(&s, "_dbpath", dbpath);
	copa_rpmlib_define(&s, "_db_backend", "sqlite");
	copa_rpmlib_define(&s, "__plugindir", plugins);
	ts = rpmtsCreate();
	rpmtsSetRootDir(ts, "/");
	rpmtsSetVSFlags(ts, RPMVSF_MASK_NODIGESTS | RPMVSF_MASK_NOSIGNATURES);
	rpmtsSetVfyLevel(ts, 0);
	rpmtsSetFlags(ts, RPMTRANS_FLAG_JUSTDB | RPMTRANS_FLAG_NOSCRIPTS |
	                      RPMTRANS_FLAG_NOTRIGGERS | RPMTRANS_FLAG_NOPLUGINS |
	                      RPMTRANS_FLAG_NOCONTEXTS | RPMTRANS_FLAG_NOFILEDIGEST);
	if (rpmtsOpenDB(ts, O_RDWR) != 0) {
		rc = copa_err_set(err, COPA_E_IO,
		                  "librpm cannot open the database copy for writing: %s",
		                  s.errors ? s.first_error : "no reason given");
		goto out;
	}
	for (size_t i = 0; i < a->n_done; i++) {
		FD_t fd = Fopen(a->done[i].path, "r.ufdio");
		Header h = NULL;
		rpmRC r = fd ? rpmReadPackageFile(ts, fd, a->done[i].path, &h) : RPMRC_FAIL;

		if (fd)
			Fclose(fd);
		if ((r != RPMRC_OK && r != RPMRC_NOKEY && r != RPMRC_NOTTRUSTED) || !h) {
			headerFree(h);
			rc =
			    copa_err_set(err, COPA_E_IO, "cannot read '%s' again", a->done[i].path);
			goto out;
		}
		if (rpmtsAddInstallElement(ts, h, (fnpyKey)a->done[i].path, a->done[i].upgrade,
		                           NULL) != 0) {
			headerFree(h);
			rc = copa_err_set(err, COPA_E_PACKAGE, "librpm refuses '%s'",
			                  a->done[i].path);
			goto out;
		}
		headerFree(h);
	}
	rpmtsSetNotifyCallback(ts, notify_cb, &nt);
	rpmtsOrder(ts);
	if (rpmtsRun(ts, NULL,
	             RPMPROB_FILTER_REPLACEPKG | RPMPROB_FILTER_REPLACENEWFILES |
	                 RPMPROB_FILTER_REPLACEOLDFILES | RPMPROB_FILTER_OLDPACKAGE |
	                 RPMPROB_FILTER_DISKSPACE | RPMPROB_FILTER_DISKNODES |
	                 RPMPROB_FILTER_IGNOREARCH | RPMPROB_FILTER_IGNOREOS) != 0) {
		rpmps ps = rpmtsProblems(ts);
		rpmpsi psi = rpmpsInitIterator(ps);
		rpmProblem pr = rpmpsiNext(psi);
		_cleanup_free_ char *why = pr ? rpmProblemString(pr) : NULL;

		rpmpsFreeIterator(psi);
		rpmpsFree(ps);
		rc = copa_err_set(err, COPA_E_IO, "librpm cannot update the database: %s",
		                  why ? why : (s.errors ? s.first_error : "no reason given"));
	}
out:
	rpmtsFree(ts);
	copa_rpmlib_end(&s);
	return rc;
}

static char *hdr_str(Header h, rpmTagVal tag)
{
	const char *v = headerGetString(h, tag);

	return v ? copa_xstrdup(v) : NULL;
}

/* The manifest entry of a package file, as the Azure Linux toolkit writes it. */
static int entry_of(const char *path, int64_t now, struct copa_rpmmf_entry *e, struct copa_err *err)
{
	rpmts ts = rpmtsCreate();
	FD_t fd = Fopen(path, "r.ufdio");
	Header h = NULL;
	rpmRC r;
	struct copa_rpm_pkg p = {0};
	int rc;

	rpmtsSetVSFlags(ts, RPMVSF_MASK_NODIGESTS | RPMVSF_MASK_NOSIGNATURES);
	r = fd ? rpmReadPackageFile(ts, fd, path, &h) : RPMRC_FAIL;
	if (fd)
		Fclose(fd);
	rpmtsFree(ts);
	if (r != RPMRC_OK || !h) {
		headerFree(h);
		return copa_err_set(err, COPA_E_IO, "cannot read '%s' again", path);
	}
	p.name = hdr_str(h, RPMTAG_NAME);
	p.version = hdr_str(h, RPMTAG_VERSION);
	p.release = hdr_str(h, RPMTAG_RELEASE);
	p.arch = hdr_str(h, RPMTAG_ARCH);
	p.sourcerpm = hdr_str(h, RPMTAG_SOURCERPM);
	p.vendor = hdr_str(h, RPMTAG_VENDOR);
	p.has_epoch = headerIsEntry(h, RPMTAG_EPOCH);
	p.epoch = (uint32_t)headerGetNumber(h, RPMTAG_EPOCH);
	p.installtime = (uint64_t)now;
	p.buildtime = headerGetNumber(h, RPMTAG_BUILDTIME);
	p.size = headerIsEntry(h, RPMTAG_LONGSIZE) ? headerGetNumber(h, RPMTAG_LONGSIZE)
	                                           : headerGetNumber(h, RPMTAG_SIZE);
	headerFree(h);
	rc = copa_rpmmf_entry_from_pkg(&p, e, err);
	free(p.name);
	free(p.version);
	free(p.release);
	free(p.arch);
	free(p.sourcerpm);
	free(p.vendor);
	return rc;
}

static int put_manifest(struct copa_rpm_apply *a, const char *path, const struct copa_buf *text,
                        int64_t now, struct copa_err *err)
{
	const struct copa_view_entry *ve = copa_view_get(a->o.view, path);
	struct copa_layer_entry e = {
	    .path = path,
	    .type = COPA_FT_REG,
	    .mode = ve ? ve->mode : 0644,
	    .uid = ve ? ve->uid : 0,
	    .gid = ve ? ve->gid : 0,
	    .mtime = now,
	    .size = text->len,
	    .content = text->p ? text->p : "",
	};

	return copa_pkgfs_put(a->o.view, a->o.builder, &e, true, err);
}

int copa_rpm_apply_manifests(struct copa_rpm_apply *a, struct copa_rpmmf *mf, const char *path2,
                             const char *path1, struct copa_err *err)
{
	struct copa_rpmlib s;
	struct copa_buf two = COPA_BUF_INIT, one = COPA_BUF_INIT;
	int64_t now = (int64_t)time(NULL);
	int rc = 0;

	if (a->n_done == 0)
		return 0;
	if (copa_rpmlib_begin(&s, a->o.out, err) < 0)
		return -1;
	for (size_t i = 0; i < a->n_done && rc == 0; i++) {
		struct copa_rpmmf_entry e;
		bool placed = false;

		if ((rc = entry_of(a->done[i].path, now, &e, err)) < 0)
			break;
		/* the replaced packages' lines: the first becomes the new one, the rest go */
		for (size_t k = 0; k < mf->n;) {
			if (!in_list(a->done[i].replaces, mf->v[k].name)) {
				k++;
				continue;
			}
			copa_rpmmf_entry_release(&mf->v[k]);
			if (!placed) {
				mf->v[k++] = e;
				placed = true;
			} else {
				memmove(&mf->v[k], &mf->v[k + 1], (mf->n - k - 1) * sizeof(*mf->v));
				mf->n--;
			}
		}
		if (!placed) {
			mf->v = copa_xgrow(mf->v, &mf->cap, mf->n + 1, sizeof(*mf->v));
			mf->v[mf->n++] = e;
		}
	}
	copa_rpmlib_end(&s);
	if (rc == 0 &&
	    (copa_rpmmf_write(mf, &two, err) < 0 || copa_rpmmf_write1(mf, &one, err) < 0 ||
	     put_manifest(a, path2, &two, now, err) < 0 ||
	     put_manifest(a, path1, &one, now, err) < 0))
		rc = -1;
	copa_buf_release(&two);
	copa_buf_release(&one);
	return rc;
}

/* Stages the local file src and puts it into the layer as dbdir/name (the image's metadata). */
static int put_db_file(struct copa_rpm_apply *a, const char *src, const char *name,
                       struct copa_err *err)
{
	_cleanup_free_ char *staged = NULL, *lpath = NULL;
	const struct copa_view_entry *ve;
	_cleanup_close_ int in = -1, out = -1;
	struct copa_layer_entry e = {0};
	struct stat st;
	char buf[65536];
	ssize_t n;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) < 0)
		return copa_err_sys(err, COPA_E_IO, errno, "cannot open '%s'", src);
	staged = copa_xasprintf("copa-rpm-%ld-db-%llu", (long)getpid(), a->seq++);
	out = copa_fs_open_beneath(a->stage_fd, staged, O_WRONLY | O_CREAT | O_TRUNC, 0600, err);
	if (out < 0)
		return copa_err_wrap(err, "staging the rpm database");
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (copa_fs_write_all(out, buf, (size_t)n, err) < 0)
			return -1;
	if (n < 0)
		return copa_err_sys(err, COPA_E_IO, errno, "cannot read '%s'", src);
	lpath = copa_xasprintf("%s/%s", a->o.dbdir, name);
	ve = copa_view_get(a->o.view, lpath);
	e.path = lpath;
	e.type = COPA_FT_REG;
	e.mode = ve ? ve->mode : 0644;
	e.uid = ve ? ve->uid : 0;
	e.gid = ve ? ve->gid : 0;
	e.mtime = (int64_t)st.st_mtime;
	e.size = (uint64_t)st.st_size;
	e.staged = staged;
	if (copa_pkgfs_put(a->o.view, a->o.builder, &e, false, err) < 0)
		return copa_err_wrap(err, "rpm database");
	return 0;
}

/*
 * Berkeley DB: the image's Packages with the transaction's outcome and the
 * rebuilt indexes go into the layer; Berkeley DB environment files the image
 * has (`__db.001`...: regions of a database that no longer exists) are
 * whited out.
 */
static int finish_bdb(struct copa_rpm_apply *a, const char *sqlite_dbdir, struct copa_err *err)
{
	_cleanup_free_ char *outdir = copa_xasprintf("%s.bdb", a->o.root);
	char **erasable = NULL;
	size_t ne = 0, cap = 0;
	struct copa_rpmbdb_stats st = {0};
	const struct copa_view_entry **kids = NULL;
	size_t nk = 0;
	int rc = -1;

	for (size_t i = 0; i < a->n_done; i++)
		for (char **r = a->done[i].replaces; r && *r; r++)
			push_str(&erasable, &ne, &cap, *r);
	push_str(&erasable, &ne, &cap, NULL);
	if (copa_fs_mkdir_p(AT_FDCWD, outdir, 0700, err) < 0 ||
	    copa_rpmbdb_write(a->o.bdb, sqlite_dbdir, outdir, erasable, &st, a->o.out, err) < 0)
		goto out;
	copa_log(a->o.out, COPA_LOG_DEBUG,
	         "rpm database (Berkeley DB): %zu records kept, %zu removed, %zu added; %zu index "
	         "keys",
	         st.kept, st.removed, st.added, st.index_keys);
	{
		_cleanup_free_ char *src = copa_xasprintf("%s/Packages", outdir);

		if (put_db_file(a, src, "Packages", err) < 0)
			goto out;
	}
	for (size_t i = 0; copa_rpmbdb_indexes[i]; i++) {
		_cleanup_free_ char *src = copa_xasprintf("%s/%s", outdir, copa_rpmbdb_indexes[i]);

		if (put_db_file(a, src, copa_rpmbdb_indexes[i], err) < 0)
			goto out;
	}
	copa_view_children(a->o.view, a->o.dbdir, &kids, &nk);
	for (size_t i = 0; i < nk; i++) {
		_cleanup_free_ char *p = NULL;

		if (strncmp(kids[i]->name, "__db.", 5) != 0)
			continue;
		p = copa_xasprintf("%s/%s", a->o.dbdir, kids[i]->name);
		if (copa_pkgfs_remove(a->o.view, a->o.builder, p, err) < 0)
			goto out;
	}
	rc = 0;
out:
	free(kids);
	free(erasable); /* the names belong to a->done */
	return rc;
}

int copa_rpm_apply_finish(struct copa_rpm_apply *a, struct copa_err *err)
{
	_cleanup_free_ char *db = NULL, *dbdir = NULL;

	if (a->n_done == 0)
		return 0;
	if (run_justdb(a, err) < 0)
		return -1;
	dbdir = copa_xasprintf("%s/var/lib/rpm", a->o.root);
	if (a->o.bdb)
		return finish_bdb(a, dbdir, err);
	db = copa_xasprintf("%s/rpmdb.sqlite", dbdir);
	{
		_cleanup_free_ char *wal = copa_xasprintf("%s-wal", db);
		struct stat ws;

		if (stat(wal, &ws) == 0 && ws.st_size > 0)
			return copa_err_set(err, COPA_E_IO,
			                    "librpm left an unmerged write-ahead log beside the "
			                    "database copy");
	}
	if (put_db_file(a, db, "rpmdb.sqlite", err) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		_cleanup_free_ char *side =
		    copa_xasprintf("%s/rpmdb.sqlite-%s", a->o.dbdir, i ? "shm" : "wal");

		if (copa_view_get(a->o.view, side) &&
		    copa_pkgfs_remove(a->o.view, a->o.builder, side, err) < 0)
			return -1;
	}
	return 0;
}
