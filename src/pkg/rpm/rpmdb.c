/*
 * rpmdb.c: listing an image's rpm database with librpm (see rpmdb.h).
 */
#include "pkg/rpm/rpmdb.h"

#include "pkg/rpm/rpmlib.h"
#include "util/blob.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <rpm/header.h>
#include <rpm/rpmdb.h>
#include <rpm/rpmtag.h>
#include <rpm/rpmts.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int copa_rpmdb_image_dbpath(int rootfd, char **out, struct copa_err *err);

static const char *const default_dbpaths[] = {"usr/lib/sysimage/rpm", "var/lib/rpm"};

void copa_rpmdb_release(struct copa_rpmdb *db)
{
	for (size_t i = 0; i < db->n; i++) {
		struct copa_rpm_pkg *p = &db->v[i];

		free(p->name);
		free(p->version);
		free(p->release);
		free(p->arch);
		free(p->sourcerpm);
		free(p->vendor);
	}
	free(db->v);
	free(db->dbpath);
	memset(db, 0, sizeof(*db));
}

const char *copa_rpmdb_kind_name(enum copa_rpmdb_kind kind)
{
	switch (kind) {
	case COPA_RPMDB_NONE:
		return "none";
	case COPA_RPMDB_SQLITE:
		return "sqlite";
	case COPA_RPMDB_BDB:
		return "bdb";
	case COPA_RPMDB_NDB:
		return "ndb";
	}
	return "?";
}

/* True when dir/name is a regular file beneath rootfd, reached without symlinks. */
static bool has_file(int rootfd, const char *dir, const char *name)
{
	struct copa_err e = COPA_ERR_INIT;
	_cleanup_free_ char *path = copa_xasprintf("%s/%s", dir, name);
	_cleanup_close_ int fd = copa_fs_open_beneath(rootfd, path, O_RDONLY | O_CLOEXEC, 0, &e);
	struct stat st;

	return fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

static enum copa_rpmdb_kind kind_in(int rootfd, const char *dir)
{
	if (has_file(rootfd, dir, "rpmdb.sqlite"))
		return COPA_RPMDB_SQLITE;
	if (has_file(rootfd, dir, "Packages"))
		return COPA_RPMDB_BDB;
	if (has_file(rootfd, dir, "Packages.db"))
		return COPA_RPMDB_NDB;
	return COPA_RPMDB_NONE;
}

int copa_rpmdb_locate(int rootfd, const char *dbpath, enum copa_rpmdb_kind *kind, char **where,
                      struct copa_err *err)
{
	*kind = COPA_RPMDB_NONE;
	*where = NULL;
	if (dbpath) {
		struct copa_buf norm = COPA_BUF_INIT;

		if (copa_path_normalize(dbpath, &norm) < 0 || norm.len == 0) {
			copa_buf_release(&norm);
			return copa_err_set(err, COPA_E_INPUT,
			                    "rpm database path '%s' is not a path inside the image",
			                    dbpath);
		}
		*kind = kind_in(rootfd, copa_buf_str(&norm));
		if (*kind == COPA_RPMDB_NONE) {
			copa_err_set(
			    err, COPA_E_NOTFOUND,
			    "no rpm database (rpmdb.sqlite, Packages or Packages.db) in '%s'",
			    copa_buf_str(&norm));
			copa_buf_release(&norm);
			return -1;
		}
		*where = copa_buf_detach(&norm, NULL);
		return 0;
	}
	{
		/* the image's own %_dbpath first, when it holds a database */
		_cleanup_free_ char *mine = NULL;
		struct copa_buf norm = COPA_BUF_INIT;

		if (copa_rpmdb_image_dbpath(rootfd, &mine, err) == 0 && mine &&
		    copa_path_normalize(mine, &norm) == 0 && norm.len &&
		    (*kind = kind_in(rootfd, copa_buf_str(&norm))) != COPA_RPMDB_NONE) {
			*where = copa_buf_detach(&norm, NULL);
			return 0;
		}
		copa_buf_release(&norm);
	}
	for (size_t i = 0; i < COPA_ARRAY_SIZE(default_dbpaths); i++) {
		*kind = kind_in(rootfd, default_dbpaths[i]);
		if (*kind != COPA_RPMDB_NONE) {
			*where = copa_xstrdup(default_dbpaths[i]);
			return 0;
		}
	}
	return copa_err_set(err, COPA_E_NOTFOUND,
	                    "no rpm database in 'usr/lib/sysimage/rpm' or 'var/lib/rpm'");
}

/* Copies dir/name beneath rootfd to the host file dst, size-capped. */
static int copy_out(int rootfd, const char *dir, const char *name, const char *dst, bool optional,
                    struct copa_err *err)
{
	_cleanup_free_ char *src = copa_xasprintf("%s/%s", dir, name);
	_cleanup_close_ int in = -1, out = -1;
	struct copa_err e = COPA_ERR_INIT;
	struct stat st;
	char chunk[65536];
	uint64_t total = 0;

	in = copa_fs_open_beneath(rootfd, src, O_RDONLY | O_CLOEXEC, 0, &e);
	if (in < 0) {
		if (optional)
			return 0;
		*err = e;
		return copa_err_wrap(err, "cannot open rpm database file '%s'", src);
	}
	if (fstat(in, &st) < 0)
		return copa_err_sys(err, COPA_E_IO, errno, "cannot stat '%s'", src);
	if (!S_ISREG(st.st_mode))
		return optional ? 0
		                : copa_err_set(err, COPA_E_INPUT,
		                               "rpm database file '%s' is not a regular file", src);
	if ((uint64_t)st.st_size > COPA_RPMDB_FILE_MAX)
		return copa_err_set(err, COPA_E_LIMIT,
		                    "rpm database file '%s' is larger than %llu MiB", src,
		                    COPA_RPMDB_FILE_MAX >> 20);
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0)
		return copa_err_sys(err, COPA_E_IO, errno, "cannot create '%s'", dst);
	for (;;) {
		ssize_t n = read(in, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return copa_err_sys(err, COPA_E_IO, errno, "cannot read '%s'", src);
		if (n == 0)
			break;
		total += (uint64_t)n;
		if (total > COPA_RPMDB_FILE_MAX)
			return copa_err_set(err, COPA_E_LIMIT,
			                    "rpm database file '%s' grew past %llu MiB while read",
			                    src, COPA_RPMDB_FILE_MAX >> 20);
		if (copa_fs_write_all(out, chunk, (size_t)n, err) < 0)
			return copa_err_wrap(err, "cannot copy '%s'", src);
	}
	return 0;
}

static bool is_sqlite(const char *path)
{
	static const char magic[16] = "SQLite format 3";
	char head[16];
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

	return fd >= 0 && read(fd, head, sizeof(head)) == (ssize_t)sizeof(head) &&
	       memcmp(head, magic, sizeof(head)) == 0;
}

static char *dup_tag(Header h, rpmTagVal tag)
{
	const char *s = headerGetString(h, tag);

	return s ? copa_xstrdup(s) : NULL;
}

/* Strings from the database flow into manifests and messages: no control characters. */
static bool clean(const char *s, bool required)
{
	if (!s)
		return !required;
	if (required && !*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static int add_header(struct copa_rpmdb *db, Header h, unsigned int hnum, struct copa_err *err)
{
	struct copa_rpm_pkg p = {0};

	if (db->n >= COPA_RPMDB_PKGS_MAX)
		return copa_err_set(err, COPA_E_LIMIT, "more than %d packages",
		                    COPA_RPMDB_PKGS_MAX);
	p.name = dup_tag(h, RPMTAG_NAME);
	p.version = dup_tag(h, RPMTAG_VERSION);
	p.release = dup_tag(h, RPMTAG_RELEASE);
	p.arch = dup_tag(h, RPMTAG_ARCH);
	p.sourcerpm = dup_tag(h, RPMTAG_SOURCERPM);
	p.vendor = dup_tag(h, RPMTAG_VENDOR);
	p.has_epoch = headerIsEntry(h, RPMTAG_EPOCH);
	p.epoch = (uint32_t)headerGetNumber(h, RPMTAG_EPOCH);
	p.installtime = headerGetNumber(h, RPMTAG_INSTALLTIME);
	p.buildtime = headerGetNumber(h, RPMTAG_BUILDTIME);
	p.size = headerIsEntry(h, RPMTAG_LONGSIZE) ? headerGetNumber(h, RPMTAG_LONGSIZE)
	                                           : headerGetNumber(h, RPMTAG_SIZE);
	db->v = copa_xgrow(db->v, &db->cap, db->n + 1, sizeof(*db->v));
	db->v[db->n++] = p; /* owned by db from here, released with it on error */
	if (!clean(p.name, true) || !clean(p.version, true) || !clean(p.release, true) ||
	    !clean(p.arch, false) || !clean(p.sourcerpm, false) || !clean(p.vendor, false))
		return copa_err_set(err, COPA_E_INPUT,
		                    "header #%u ('%s') has an empty or malformed name, version, "
		                    "release, arch, source rpm or vendor",
		                    hnum, clean(p.name, true) ? p.name : "?");
	db->v[db->n - 1].pubkey = strcmp(p.name, "gpg-pubkey") == 0;
	return 0;
}

/* Lists every header of the database under root/var/lib/rpm with librpm. */
static int list_headers(const char *root, enum copa_rpmdb_kind kind, struct copa_rpmdb *db,
                        struct copa_out *out, struct copa_err *err)
{
	struct copa_rpmlib s;
	rpmts ts = NULL;
	rpmdbMatchIterator mi = NULL;
	Header h;
	int rc = 0;

	if (copa_rpmlib_begin(&s, out, err) < 0)
		return -1;
	/* Both set explicitly: Debian's default %_dbpath is ~/.rpmdb. */
	copa_rpmlib_define(&s, "_dbpath", "/var/lib/rpm");
	copa_rpmlib_define(&s, "_db_backend", kind == COPA_RPMDB_SQLITE ? "sqlite" : "bdb_ro");
	ts = rpmtsCreate();
	if (rpmtsSetRootDir(ts, root) != 0) {
		rc = copa_err_set(err, COPA_E_BUG, "librpm refused the root directory '%s'", root);
		goto out;
	}
	if (rpmtsOpenDB(ts, O_RDONLY) != 0) {
		rc = copa_err_set(err, COPA_E_INPUT, "librpm cannot open the %s database: %s",
		                  copa_rpmdb_kind_name(kind),
		                  s.errors ? s.first_error : "no reason given");
		goto out;
	}
	mi = rpmtsInitIterator(ts, RPMDBI_PACKAGES, NULL, 0);
	while (mi && (h = rpmdbNextIterator(mi)) != NULL) {
		if ((rc = add_header(db, h, rpmdbGetIteratorOffset(mi), err)) < 0)
			goto out;
	}
	if (s.errors) {
		rc = copa_err_set(err, COPA_E_INPUT,
		                  "librpm reported %d error%s reading the %s "
		                  "database, first: %s",
		                  s.errors, s.errors == 1 ? "" : "s", copa_rpmdb_kind_name(kind),
		                  s.first_error);
		goto out;
	}
	if (db->n == 0)
		rc = copa_err_set(err, COPA_E_INPUT,
		                  "librpm lists no packages in the %s database (an empty or "
		                  "unreadable database)",
		                  copa_rpmdb_kind_name(kind));
out:
	rpmdbFreeIterator(mi);
	rpmtsFree(ts);
	copa_rpmlib_end(&s);
	return rc;
}

int copa_rpmdb_read(int rootfd, const char *dbpath, struct copa_rpmdb *db, struct copa_out *out,
                    struct copa_err *err)
{
	_cleanup_free_ char *where = NULL, *tmp = NULL, *root = NULL, *dbdir = NULL, *first = NULL,
	                    *second = NULL;
	enum copa_rpmdb_kind kind;
	struct copa_err e = COPA_ERR_INIT;
	int rc;

	if (copa_rpmdb_locate(rootfd, dbpath, &kind, &where, err) < 0)
		return -1;
	if (kind == COPA_RPMDB_NDB)
		return copa_err_set(
		    err, COPA_E_UNSUPPORTED,
		    "rpm database '%s/Packages.db' is SUSE's NDB format, which copa "
		    "does not read yet",
		    where);
	tmp = copa_fs_mkdtemp(copa_fs_tmpdir(), "copa-rpmdb-", err);
	if (!tmp)
		return -1;
	/* librpm wants an absolute root */
	root = realpath(tmp, NULL);
	if (!root) {
		rc = copa_err_sys(err, COPA_E_IO, errno, "cannot resolve '%s'", tmp);
		goto out;
	}
	dbdir = copa_xasprintf("%s/root/var/lib/rpm", root);
	if ((rc = copa_fs_mkdir_p(AT_FDCWD, dbdir, 0700, err)) < 0)
		goto out;
	if (kind == COPA_RPMDB_SQLITE) {
		first = copa_xasprintf("%s/rpmdb.sqlite", dbdir);
		second = copa_xasprintf("%s/rpmdb.sqlite-wal", dbdir);
		if ((rc = copy_out(rootfd, where, "rpmdb.sqlite", first, false, err)) < 0 ||
		    (rc = copy_out(rootfd, where, "rpmdb.sqlite-wal", second, true, err)) < 0)
			goto out;
		/* librpm leaks its sqlite connection when the open fails: refuse what is
		 * plainly not sqlite before it gets there (and say so better) */
		if (!is_sqlite(first)) {
			rc = copa_err_set(err, COPA_E_INPUT,
			                  "rpm database '%s/rpmdb.sqlite' is not "
			                  "an SQLite database",
			                  where);
			goto out;
		}
	} else {
		first = copa_xasprintf("%s/Packages", dbdir);
		if ((rc = copy_out(rootfd, where, "Packages", first, false, err)) < 0)
			goto out;
	}
	free(dbdir);
	dbdir = copa_xasprintf("%s/root", root);
	rc = list_headers(dbdir, kind, db, out, err);
	if (rc < 0) {
		copa_rpmdb_release(db);
		copa_err_wrap(err, "rpm database '%s'", where);
	} else {
		db->kind = kind;
		db->dbpath = steal_ptr(&where);
	}
out:
	copa_fs_rm_rf(AT_FDCWD, tmp, &e);
	return rc;
}

/* Expands the few directory macros a %_dbpath definition uses; NULL when it uses others. */
static char *expand_dbpath(struct copa_blob v)
{
	static const struct {
		const char *name, *value;
	} known[] = {
	    {"_usr", "/usr"},
	    {"_prefix", "/usr"},
	    {"_var", "/var"},
	    {"_localstatedir", "/var"},
	    {"_sharedstatedir", "/var/lib"},
	};
	struct copa_buf b = COPA_BUF_INIT;

	for (size_t i = 0; i < v.n;) {
		bool found = false;

		if ((unsigned char)v.p[i] < 0x20 || v.p[i] == 0x7f) {
			copa_buf_release(&b);
			return NULL; /* no control characters (or NULs) in a path */
		}
		if (v.p[i] != '%') {
			copa_buf_addc(&b, v.p[i++]);
			continue;
		}
		for (size_t k = 0; k < COPA_ARRAY_SIZE(known) && !found; k++) {
			_cleanup_free_ char *ref = copa_xasprintf("%%{%s}", known[k].name);
			size_t n = strlen(ref);

			if (v.n - i >= n && memcmp(v.p + i, ref, n) == 0) {
				copa_buf_adds(&b, known[k].value);
				i += n;
				found = true;
			}
		}
		if (!found) {
			copa_buf_release(&b);
			return NULL;
		}
	}
	return copa_buf_detach(&b, NULL);
}

void copa_rpmdb_macros_scan(const char *text, size_t n, char **dbpath)
{
	struct copa_blob rest = copa_blob(text, n), line;

	while (copa_blob_split(&rest, '\n', &line)) {
		struct copa_blob t = copa_blob_trim(line);
		char *v;

		if (!copa_blob_starts(t, "%_dbpath") || t.n < 9 ||
		    (t.p[8] != ' ' && t.p[8] != '\t'))
			continue;
		v = expand_dbpath(copa_blob_trim(copa_blob(t.p + 9, t.n - 9)));
		if (v && v[0] == '/' && strlen(v) < 4096) {
			free(*dbpath);
			*dbpath = v;
		} else {
			free(v);
		}
	}
}

/* Applies the %_dbpath lines of one macro file beneath rootfd (the last one wins). */
static void scan_macros(int rootfd, const char *path, char **out)
{
	struct copa_err e = COPA_ERR_INIT;
	struct copa_buf text = COPA_BUF_INIT;
	_cleanup_close_ int fd = copa_fs_open_beneath(rootfd, path, O_RDONLY | O_CLOEXEC, 0, &e);

	if (fd >= 0 && copa_fs_read_fd(fd, 1u << 20, &text, &e) == 0)
		copa_rpmdb_macros_scan(text.p ? text.p : "", text.len, out);
	copa_buf_release(&text);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of dir (beneath rootfd) starting with prefix, sorted. */
static char **list_dir(int rootfd, const char *dir, const char *prefix, size_t *n)
{
	struct copa_err e = COPA_ERR_INIT;
	int fd = copa_fs_open_beneath(rootfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, &e);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	char **v = NULL;
	size_t cap = 0;

	*n = 0;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((de = readdir(d)) && *n < 1000) {
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		v = copa_xgrow(v, &cap, *n + 1, sizeof(*v));
		v[(*n)++] = copa_xasprintf("%s/%s", dir, de->d_name);
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_names);
	return v;
}

int copa_rpmdb_image_dbpath(int rootfd, char **out, struct copa_err *err)
{
	static const struct {
		const char *dir, *prefix; /* a directory's files, or one file (prefix NULL) */
	} order[] = {
	    {"usr/lib/rpm/macros", NULL},
	    {"usr/lib/rpm/macros.d", "macros."},
	    {"etc/rpm/macros", NULL},
	    {"etc/rpm", "macros."},
	};

	*out = NULL;
	for (size_t i = 0; i < COPA_ARRAY_SIZE(order); i++) {
		char **names;
		size_t n;

		if (!order[i].prefix) {
			scan_macros(rootfd, order[i].dir, out);
			continue;
		}
		names = list_dir(rootfd, order[i].dir, order[i].prefix, &n);
		for (size_t k = 0; k < n; k++) {
			scan_macros(rootfd, names[k], out);
			free(names[k]);
		}
		free(names);
	}
	(void)err;
	return 0;
}

char *copa_rpm_pkg_nvra(const struct copa_rpm_pkg *p)
{
	if (!p->arch)
		return copa_xasprintf("%s-%s-%s", p->name, p->version, p->release);
	return copa_xasprintf("%s-%s-%s.%s", p->name, p->version, p->release, p->arch);
}

char *copa_rpm_pkg_evr(const struct copa_rpm_pkg *p)
{
	if (p->has_epoch)
		return copa_xasprintf("%u:%s-%s", p->epoch, p->version, p->release);
	return copa_xasprintf("%s-%s", p->version, p->release);
}
