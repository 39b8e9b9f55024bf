/*
 * rpmbdb.c: Berkeley DB rpm databases written with libdb 5.3 (see rpmbdb.h).
 *
 * The layout follows rpm 4.14-4.16's db3 backend and rpmdb.c (learnt from
 * their source, not copied): `Packages` is a hash database keyed by the
 * header instance number (4 bytes), the value the exported header blob; key 0
 * holds the largest instance number handed out. Every index is a btree
 * database; a key is the tag value's bytes (strings without their NUL, an
 * empty string as one NUL byte, integers as 4 bytes, binary as is) and its one
 * value an array of (instance number, element index) pairs of 4-byte
 * integers, appended in the order the headers were added. rpm reads numbers
 * in the byte order of the machine that created the file and swaps them when
 * libdb says the file is foreign (DB->get_byteswapped), so files created here
 * in this machine's order read right on either kind of machine.
 *
 * libdb only ever opens files this module creates: the image's `Packages`
 * is read by librpm's bdb_ro backend, so no hostile Berkeley DB file
 * reaches libdb (which is not hardened against them).
 */
#include "pkg/rpm/rpmbdb.h"

#include "pkg/rpm/rpmlib.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/mem.h"

#include <db.h>
#include <errno.h>
#include <fcntl.h>
#include <rpm/header.h>
#include <rpm/rpmdb.h>
#include <rpm/rpmds.h>
#include <rpm/rpmtag.h>
#include <rpm/rpmtd.h>
#include <rpm/rpmts.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BDB_FILE_MAX (1024ull << 20)
#define BDB_PKGS_MAX 200000u

const char *const copa_rpmbdb_indexes[] = {"Name",
                                           "Basenames",
                                           "Group",
                                           "Requirename",
                                           "Providename",
                                           "Conflictname",
                                           "Obsoletename",
                                           "Triggername",
                                           "Dirnames",
                                           "Installtid",
                                           "Sigmd5",
                                           "Sha1header",
                                           "Filetriggername",
                                           "Transfiletriggername",
                                           "Recommendname",
                                           "Suggestname",
                                           "Supplementname",
                                           "Enhancename",
                                           NULL};

static const rpmTagVal index_tags[] = {
    RPMTAG_NAME,
    RPMTAG_BASENAMES,
    RPMTAG_GROUP,
    RPMTAG_REQUIRENAME,
    RPMTAG_PROVIDENAME,
    RPMTAG_CONFLICTNAME,
    RPMTAG_OBSOLETENAME,
    RPMTAG_TRIGGERNAME,
    RPMTAG_DIRNAMES,
    RPMTAG_INSTALLTID,
    RPMTAG_SIGMD5,
    RPMTAG_SHA1HEADER,
    RPMTAG_FILETRIGGERNAME,
    RPMTAG_TRANSFILETRIGGERNAME,
    RPMTAG_RECOMMENDNAME,
    RPMTAG_SUGGESTNAME,
    RPMTAG_SUPPLEMENTNAME,
    RPMTAG_ENHANCENAME,
};

/* One header blob. */
struct blob {
	unsigned char *p;
	size_t n;
	uint32_t num; /* instance number in Packages (0: not placed yet) */
	bool taken;
};

struct blobs {
	struct blob *v;
	size_t n, cap;
};

static void blobs_release(struct blobs *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->v[i].p);
	free(b->v);
	memset(b, 0, sizeof(*b));
}

static void blobs_push(struct blobs *b, const void *p, size_t n)
{
	b->v = copa_xgrow(b->v, &b->cap, b->n + 1, sizeof(*b->v));
	b->v[b->n].p = copa_xmalloc(n ? n : 1);
	memcpy(b->v[b->n].p, p, n);
	b->v[b->n].n = n;
	b->v[b->n].num = 0;
	b->v[b->n].taken = false;
	b->n++;
}

static int blob_cmp(const void *x, const void *y)
{
	const struct blob *a = x, *b = y;

	if (a->n != b->n)
		return a->n < b->n ? -1 : 1;
	return memcmp(a->p, b->p, a->n);
}

/* An untaken blob equal to (p, n) in the sorted set, or NULL. */
static struct blob *blobs_find(struct blobs *b, const void *p, size_t n)
{
	struct blob key = {.p = (unsigned char *)(uintptr_t)p, .n = n};
	struct blob *hit = b->n ? bsearch(&key, b->v, b->n, sizeof(*b->v), blob_cmp) : NULL;

	if (!hit)
		return NULL;
	while (hit > b->v && blob_cmp(hit - 1, &key) == 0)
		hit--;
	for (; hit < b->v + b->n && blob_cmp(hit, &key) == 0; hit++)
		if (!hit->taken)
			return hit;
	return NULL;
}

static int db_fail(struct copa_err *err, int rc, const char *what, const char *path)
{
	return copa_err_set(err, rc == ENOENT ? COPA_E_NOTFOUND : COPA_E_IO,
	                    "Berkeley DB: %s '%s': %s", what, path, db_strerror(rc));
}

/* Opens a Berkeley DB file without an environment (no __db.* files). */
static int db_open(const char *path, DBTYPE type, uint32_t flags, DB **out, struct copa_err *err)
{
	DB *db = NULL;
	int rc = db_create(&db, NULL, 0);

	if (rc != 0)
		return db_fail(err, rc, "cannot create a handle for", path);
	rc = db->open(db, NULL, path, NULL, type, flags, 0644);
	if (rc != 0) {
		db->close(db, 0);
		return copa_err_set(err, COPA_E_INPUT,
		                    "'%s' is not a Berkeley DB %s database (%s): is it an rpm "
		                    "Packages file?",
		                    path, type == DB_HASH ? "hash" : "btree", db_strerror(rc));
	}
	*out = db;
	return 0;
}

/*
 * Every header of the rpm database in dbdir, exported, into b with its instance
 * number. bdb (maxnum set to the largest instance number): the Berkeley DB
 * Packages, read by librpm's own read-only backend (bdb_ro, the reader rpm
 * ships for foreign databases), so libdb never parses the image's file; else
 * the sqlite database copa's transaction wrote (maxnum NULL).
 */
static int read_headers(const char *dbdir, bool bdb, struct blobs *b, uint32_t *maxnum,
                        struct copa_out *out, struct copa_err *err)
{
	struct copa_rpmlib s;
	rpmts ts;
	rpmdbMatchIterator mi;
	Header h;
	int rc = 0;

	if (maxnum)
		*maxnum = 0;
	if (copa_rpmlib_begin(&s, out, err) < 0)
		return -1;
	copa_rpmlib_define(&s, "_dbpath", dbdir);
	copa_rpmlib_define(&s, "_db_backend", bdb ? "bdb_ro" : "sqlite");
	ts = rpmtsCreate();
	rpmtsSetRootDir(ts, "/");
	rpmtsSetVSFlags(ts, RPMVSF_MASK_NODIGESTS | RPMVSF_MASK_NOSIGNATURES);
	mi = rpmtsInitIterator(ts, RPMDBI_PACKAGES, NULL, 0);
	while (mi && (h = rpmdbNextIterator(mi)) != NULL) {
		unsigned int n = 0, num = rpmdbGetIteratorOffset(mi);
		void *p = headerExport(h, &n);

		if (!p || n == 0 || (bdb && (num == 0 || b->n >= BDB_PKGS_MAX))) {
			free(p);
			rc = bdb ? copa_err_set(
			               err, COPA_E_INPUT,
			               "'%s/Packages': record %u cannot be read (or too many)",
			               dbdir, num)
			         : copa_err_set(err, COPA_E_IO,
			                        "librpm cannot export a header of '%s'", dbdir);
			break;
		}
		blobs_push(b, p, n);
		free(p);
		b->v[b->n - 1].num = num;
		if (maxnum && num > *maxnum)
			*maxnum = num;
	}
	rpmdbFreeIterator(mi);
	rpmtsFree(ts);
	if (rc == 0 && s.errors)
		rc = bdb ? copa_err_set(err, COPA_E_INPUT,
		                        "'%s/Packages' is no rpm Berkeley DB database: %s", dbdir,
		                        s.first_error)
		         : copa_err_set(err, COPA_E_INPUT, "librpm reading '%s': %s", dbdir,
		                        s.first_error);
	copa_rpmlib_end(&s);
	return rc;
}

static int copy_file(const char *from, const char *to, struct copa_err *err)
{
	struct copa_buf b = COPA_BUF_INIT;
	int rc = copa_fs_read_file(AT_FDCWD, from, BDB_FILE_MAX, &b, err);

	if (rc == 0)
		rc = copa_fs_write_atomic(AT_FDCWD, to, b.p ? b.p : "", b.len, 0600, err);
	copa_buf_release(&b);
	return rc;
}

int copa_rpmbdb_to_sqlite(const char *packages, const char *dbdir, struct copa_out *out,
                          struct copa_err *err)
{
	_cleanup_free_ char *copy = copa_xasprintf("%s/Packages", dbdir);
	struct blobs old = {0}, now = {0};
	struct copa_rpmlib s;
	uint32_t maxnum;
	rpmts ts;
	int rc = -1, r;

	if (copy_file(packages, copy, err) < 0 ||
	    read_headers(dbdir, true, &old, &maxnum, out, err) < 0)
		goto out;
	if (old.n == 0) {
		copa_err_set(err, COPA_E_INPUT,
		             "the rpm database '%s' holds no package (or is no Berkeley DB "
		             "Packages file)",
		             packages);
		goto out;
	}
	if (copa_rpmlib_begin(&s, out, err) < 0)
		goto out;
	copa_rpmlib_define(&s, "_dbpath", dbdir);
	copa_rpmlib_define(&s, "_db_backend", "sqlite");
	ts = rpmtsCreate();
	rpmtsSetRootDir(ts, "/");
	rpmtsSetVSFlags(ts, RPMVSF_MASK_NODIGESTS | RPMVSF_MASK_NOSIGNATURES);
	r = rpmtsRebuildDB(ts);
	rpmtsFree(ts);
	copa_rpmlib_end(&s);
	if (r != 0) {
		copa_err_set(err, COPA_E_INPUT,
		             "librpm cannot convert the Berkeley DB database '%s' for its "
		             "transaction: %s",
		             packages, s.errors ? s.first_error : "no reason given");
		goto out;
	}
	if (read_headers(dbdir, false, &now, NULL, out, err) < 0)
		goto out;
	if (now.n)
		qsort(now.v, now.n, sizeof(*now.v), blob_cmp);
	for (size_t i = 0; i < old.n; i++) {
		struct blob *m = blobs_find(&now, old.v[i].p, old.v[i].n);

		if (!m) {
			copa_err_set(err, COPA_E_INPUT,
			             "the rpm database '%s': librpm does not read record %u back "
			             "as it is (a damaged header?)",
			             packages, old.v[i].num);
			goto out;
		}
		m->taken = true;
	}
	if (now.n != old.n) {
		copa_err_set(err, COPA_E_INPUT,
		             "the rpm database '%s': librpm reads %zu headers of %zu records",
		             packages, now.n, old.n);
		goto out;
	}
	rc = 0;
out:
	blobs_release(&old);
	blobs_release(&now);
	return rc;
}

/* ---- the indexes ---- */

struct idx {
	DB *db;
	const char *path;
	size_t keys;
};

/* Appends (num, tagnum) to the value of key, as rpm's index put does. */
static int idx_put(struct idx *x, const void *key, size_t klen, uint32_t num, uint32_t tagnum,
                   struct copa_err *err)
{
	DBT k, d, nd;
	uint32_t rec[2] = {num, tagnum};
	unsigned char *buf;
	int rc;

	if (klen == 0) { /* rpm's "/" fixup: an empty key is one NUL byte */
		key = "";
		klen = 1;
	}
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	memset(&nd, 0, sizeof(nd));
	k.data = (void *)(uintptr_t)key;
	k.size = (uint32_t)klen;
	rc = x->db->get(x->db, NULL, &k, &d, 0);
	if (rc != 0 && rc != DB_NOTFOUND)
		return db_fail(err, rc, "cannot read", x->path);
	if (rc == DB_NOTFOUND) {
		d.size = 0;
		x->keys++;
	}
	buf = copa_xmalloc(d.size + sizeof(rec));
	if (d.size)
		memcpy(buf, d.data, d.size);
	memcpy(buf + d.size, rec, sizeof(rec));
	nd.data = buf;
	nd.size = d.size + (uint32_t)sizeof(rec);
	rc = x->db->put(x->db, NULL, &k, &nd, 0);
	free(buf);
	return rc ? db_fail(err, rc, "cannot write", x->path) : 0;
}

/* The names of a rich dependency, as rpm indexes them (see rpmbdb.h's source). */
struct rich {
	char **v;
	size_t n, cap;
	int neg;
	size_t *mark; /* per nesting level: names collected when its condition began */
	size_t nmark, capmark;
};

static void rich_add(struct rich *r, const char *name, size_t n, int neg)
{
	char *s = copa_xmalloc(n + 2);

	s[0] = neg ? '!' : ' ';
	memcpy(s + 1, name, n);
	s[n + 1] = 0;
	r->v = copa_xgrow(r->v, &r->cap, r->n + 1, sizeof(*r->v));
	r->v[r->n++] = s;
}

static rpmRC rich_cb(void *data, rpmrichParseType type, const char *n, int nl, const char *e,
                     int el, rpmsenseFlags sense, rpmrichOp op, char **emsg)
{
	struct rich *r = data;

	(void)e;
	(void)el;
	(void)sense;
	(void)emsg;
	switch (type) {
	case RPMRICH_PARSE_ENTER:
		r->mark = copa_xgrow(r->mark, &r->capmark, r->nmark + 1, sizeof(*r->mark));
		r->mark[r->nmark++] = r->n;
		break;
	case RPMRICH_PARSE_LEAVE:
		if (r->nmark)
			r->nmark--;
		if (op == RPMRICHOP_IF || op == RPMRICHOP_UNLESS)
			r->neg ^= 1;
		break;
	case RPMRICH_PARSE_SIMPLE:
		/* rpmlib() dependencies are never indexed */
		if (nl > 0 && !(nl > 7 && strncmp(n, "rpmlib(", 7) == 0))
			rich_add(r, n, (size_t)nl, r->neg);
		break;
	case RPMRICH_PARSE_OP:
		if (op == RPMRICHOP_IF || op == RPMRICHOP_UNLESS) {
			/* the names so far are the consequent; the condition is negated */
			if (r->nmark)
				r->mark[r->nmark - 1] = r->n;
			r->neg ^= 1;
		} else if (op == RPMRICHOP_ELSE && r->nmark) {
			/* the condition's names again, negated the other way */
			size_t from = r->mark[r->nmark - 1], to = r->n;

			for (size_t i = from; i < to; i++)
				rich_add(r, r->v[i] + 1, strlen(r->v[i] + 1), r->v[i][0] == ' ');
			r->neg ^= 1;
		}
		break;
	}
	return RPMRC_OK;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int index_rich(struct idx *x, const char *dep, uint32_t num, uint32_t tagnum,
                      struct copa_err *err)
{
	struct rich r = {0};
	const char *p = dep;
	int rc = 0;

	r.mark = copa_xcalloc(1, sizeof(*r.mark));
	r.capmark = 1;
	if (rpmrichParse(&p, NULL, rich_cb, &r) == RPMRC_OK && r.n) {
		qsort(r.v, r.n, sizeof(*r.v), str_cmp);
		for (size_t i = 0; i < r.n && rc == 0; i++) {
			const char *name = r.v[i];

			if (i && strcmp(r.v[i - 1], name) == 0)
				continue;
			if (*name == ' ')
				name++;
			rc = idx_put(x, name, strlen(name), num, tagnum, err);
		}
	}
	for (size_t i = 0; i < r.n; i++)
		free(r.v[i]);
	free(r.v);
	free(r.mark);
	return rc;
}

/* rpm's "transient" requires (install-time only) are not in Requirename. */
static bool transient_req(uint32_t f)
{
	const uint32_t pre = RPMSENSE_PREREQ;
	const uint32_t install = (RPMSENSE_SCRIPT_PRE | RPMSENSE_SCRIPT_POST | RPMSENSE_RPMLIB |
	                          RPMSENSE_KEYRING | RPMSENSE_PRETRANS | RPMSENSE_POSTTRANS) &
	                         ~pre;
	const uint32_t erase = (RPMSENSE_SCRIPT_PREUN | RPMSENSE_SCRIPT_POSTUN) & ~pre;

	return (f & install) && !(f & erase) && !(f & RPMSENSE_META);
}

static bool rich_tag(rpmTagVal tag)
{
	return tag == RPMTAG_REQUIRENAME || tag == RPMTAG_CONFLICTNAME ||
	       tag == RPMTAG_SUGGESTNAME || tag == RPMTAG_SUPPLEMENTNAME ||
	       tag == RPMTAG_RECOMMENDNAME || tag == RPMTAG_ENHANCENAME;
}

/* Adds header h (instance num) to the index of tag. */
static int index_header(struct idx *x, rpmTagVal tag, Header h, uint32_t num, struct copa_err *err)
{
	struct rpmtd_s td, flags, trig;
	int rc = 0;

	rpmtdReset(&flags);
	rpmtdReset(&trig);
	if (tag == RPMTAG_REQUIRENAME)
		headerGet(h, RPMTAG_REQUIREFLAGS, &flags, HEADERGET_MINMEM);
	else if (tag == RPMTAG_FILETRIGGERNAME)
		headerGet(h, RPMTAG_FILETRIGGERINDEX, &trig, HEADERGET_MINMEM);
	else if (tag == RPMTAG_TRANSFILETRIGGERNAME)
		headerGet(h, RPMTAG_TRANSFILETRIGGERINDEX, &trig, HEADERGET_MINMEM);
	/* RAW: an i18n string (Group) is its first, "C", value, not the process locale's */
	headerGet(h, tag, &td, HEADERGET_MINMEM | HEADERGET_RAW);
	if (rpmtdCount(&td) == 0) {
		if (tag == RPMTAG_GROUP)
			rc = idx_put(x, "Unknown", 7, num, 0, err);
		goto out;
	}
	for (uint32_t i = 0; rc == 0 && i < rpmtdCount(&td); i++) {
		uint32_t tagnum = i;
		const void *key = NULL;
		size_t klen = 0;
		uint32_t ikey;

		if (tag == RPMTAG_GROUP && i > 0)
			break;
		if (tag == RPMTAG_FILETRIGGERNAME || tag == RPMTAG_TRANSFILETRIGGERNAME) {
			const uint32_t *t =
			    i < rpmtdCount(&trig) ? (const uint32_t *)trig.data + i : NULL;

			tagnum = t ? *t : 0;
		}
		if (tag == RPMTAG_REQUIRENAME && i < rpmtdCount(&flags) &&
		    transient_req(((const uint32_t *)flags.data)[i]))
			continue;
		switch (rpmtdType(&td)) {
		case RPM_INT32_TYPE:
			ikey = ((const uint32_t *)td.data)[i];
			key = &ikey;
			klen = 4;
			break;
		case RPM_BIN_TYPE:
			key = td.data;
			klen = td.count;
			break;
		case RPM_STRING_TYPE:
			key = td.data;
			klen = strlen(td.data);
			break;
		case RPM_STRING_ARRAY_TYPE:
		case RPM_I18NSTRING_TYPE:
			key = ((const char *const *)td.data)[i];
			klen = strlen(key);
			break;
		default:
			continue; /* rpm skips what it cannot make a key of */
		}
		if (tag == RPMTAG_TRIGGERNAME && rpmtdType(&td) == RPM_STRING_ARRAY_TYPE) {
			bool dup = false;

			for (uint32_t j = 0; j < i && !dup; j++)
				dup = strcmp(((const char *const *)td.data)[j], key) == 0;
			if (dup)
				continue;
		}
		rc = idx_put(x, key, klen, num, tagnum, err);
		if (rc == 0 && rich_tag(tag) && rpmtdType(&td) == RPM_STRING_ARRAY_TYPE && klen &&
		    *(const char *)key == '(')
			rc = index_rich(x, key, num, tagnum, err);
	}
out:
	rpmtdFreeData(&td);
	rpmtdFreeData(&flags);
	rpmtdFreeData(&trig);
	return rc;
}

static int num_cmp(const void *a, const void *b)
{
	const struct blob *x = *(const struct blob *const *)a, *y = *(const struct blob *const *)b;

	return x->num < y->num ? -1 : x->num > y->num;
}

/* Rebuilds outdir/<index> for every index from the headers in v (instance order). */
static int write_indexes(const char *outdir, struct blob **v, size_t n,
                         struct copa_rpmbdb_stats *st, struct copa_err *err)
{
	Header *hs = copa_xcalloc(n ? n : 1, sizeof(*hs));
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		hs[i] = headerImport(v[i]->p, (unsigned int)v[i]->n, HEADERIMPORT_COPY);
		if (!hs[i])
			rc = copa_err_set(err, COPA_E_INPUT,
			                  "rpm database: header %u cannot be read back", v[i]->num);
	}
	for (size_t t = 0; rc == 0 && copa_rpmbdb_indexes[t]; t++) {
		_cleanup_free_ char *path = copa_xasprintf("%s/%s", outdir, copa_rpmbdb_indexes[t]);
		struct idx x = {.path = path};

		if (unlink(path) < 0 && errno != ENOENT) {
			rc = copa_err_sys(err, COPA_E_IO, errno, "cannot replace '%s'", path);
			break;
		}
		if (db_open(path, DB_BTREE, DB_CREATE, &x.db, err) < 0) {
			rc = -1;
			break;
		}
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = index_header(&x, index_tags[t], hs[i], v[i]->num, err);
		if (x.db->close(x.db, 0) != 0 && rc == 0)
			rc = copa_err_set(err, COPA_E_IO, "Berkeley DB: cannot write '%s'", path);
		if (st)
			st->index_keys += x.keys;
	}
	for (size_t i = 0; i < n; i++)
		headerFree(hs[i]);
	free(hs);
	return rc;
}

static bool in_names(char *const *names, const char *name)
{
	for (; names && *names; names++)
		if (name && strcmp(*names, name) == 0)
			return true;
	return false;
}

/* Puts (num, blob) into Packages. */
static int pkg_put(DB *db, const char *path, uint32_t num, const void *p, size_t n,
                   struct copa_err *err)
{
	DBT k, d;
	int r;

	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.data = &num;
	k.size = 4;
	d.data = (void *)(uintptr_t)p;
	d.size = (uint32_t)n;
	r = db->put(db, NULL, &k, &d, 0);
	return r ? db_fail(err, r, "cannot write a record of", path) : 0;
}

int copa_rpmbdb_write(const char *packages, const char *sqlite_dbdir, const char *outdir,
                      char *const *erasable, struct copa_rpmbdb_stats *st, struct copa_out *out,
                      struct copa_err *err)
{
	_cleanup_free_ char *path = copa_xasprintf("%s/Packages", outdir);
	_cleanup_free_ char *olddir = copa_path_dir(packages);
	struct blobs old = {0}, now = {0};
	struct copa_rpmbdb_stats stats = {0};
	struct blob **final = NULL;
	size_t nfinal = 0;
	uint32_t maxnum = 0;
	int rc = -1, r;
	DB *db = NULL;

	if (read_headers(sqlite_dbdir, false, &now, NULL, out, err) < 0 ||
	    read_headers(olddir, true, &old, &maxnum, out, err) < 0)
		goto out;
	if (now.n)
		qsort(now.v, now.n, sizeof(*now.v), blob_cmp);
	final = copa_xcalloc(now.n + 1, sizeof(*final));
	/* records whose header is still installed stay, under their numbers; the others go */
	for (size_t i = 0; i < old.n; i++) {
		struct blob *m = blobs_find(&now, old.v[i].p, old.v[i].n);
		Header h;
		const char *name;
		bool ok;

		if (m) {
			m->taken = true;
			m->num = old.v[i].num;
			final[nfinal++] = m;
			stats.kept++;
			continue;
		}
		h = headerImport(old.v[i].p, (unsigned int)old.v[i].n, HEADERIMPORT_COPY);
		name = h ? headerGetString(h, RPMTAG_NAME) : NULL;
		ok = in_names(erasable, name);
		if (!ok)
			copa_err_set(err, COPA_E_INPUT,
			             "rpm database '%s': record %u (%s) is gone after the "
			             "transaction, but no applied package replaces it",
			             packages, old.v[i].num, name ? name : "unreadable");
		headerFree(h);
		if (!ok)
			goto out;
		stats.removed++;
	}
	/* the new headers, in content order (reproducible), under new instance numbers */
	for (size_t i = 0; i < now.n; i++) {
		if (now.v[i].taken)
			continue;
		if (maxnum == UINT32_MAX) {
			copa_err_set(err, COPA_E_INPUT, "'%s': no instance number left", packages);
			goto out;
		}
		now.v[i].num = ++maxnum;
		final[nfinal++] = &now.v[i];
		stats.added++;
	}
	qsort(final, nfinal, sizeof(*final), num_cmp);
	/* a new file in this machine's byte order (libdb marks it; rpm swaps on reading) */
	if (unlink(path) < 0 && errno != ENOENT) {
		copa_err_sys(err, COPA_E_IO, errno, "cannot replace '%s'", path);
		goto out;
	}
	if (db_open(path, DB_HASH, DB_CREATE, &db, err) < 0)
		goto out;
	{
		uint32_t zero = 0;

		if (pkg_put(db, path, zero, &maxnum, 4, err) < 0)
			goto out;
	}
	for (size_t i = 0; i < nfinal; i++)
		if (pkg_put(db, path, final[i]->num, final[i]->p, final[i]->n, err) < 0)
			goto out;
	r = db->close(db, 0);
	db = NULL;
	if (r != 0) {
		db_fail(err, r, "cannot write", path);
		goto out;
	}
	if (write_indexes(outdir, final, nfinal, &stats, err) < 0)
		goto out;
	if (st)
		*st = stats;
	rc = 0;
out:
	if (db)
		db->close(db, 0);
	free(final);
	blobs_release(&old);
	blobs_release(&now);
	return rc;
}
