/*
 * rpmmd.c: repomd.xml and primary into libsolv, verified first (see rpmmd.h).
 */
#include "pkg/rpm/rpmmd.h"

#include "util/buf.h"
#include "util/fs.h"
#include "util/mem.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <solv/chksum.h>
#include <solv/dataiterator.h>
#include <solv/knownid.h>
#include <solv/repo_repomdxml.h>
#include <solv/repo_rpmmd.h>
#include <solv/solv_xfopen.h> /* solv_fmemopen only: decompression is libarchive's */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void copa_repomd_release(struct copa_repomd *md)
{
	free(md->primary.location);
	memset(md, 0, sizeof(*md));
}

static bool strong(Id type)
{
	return type == REPOKEY_TYPE_SHA256 || type == REPOKEY_TYPE_SHA384 ||
	       type == REPOKEY_TYPE_SHA512;
}

/* The hex form of a checksum, for messages. */
static void hex(const unsigned char *b, int n, char *out, size_t cap)
{
	static const char digits[] = "0123456789abcdef";
	size_t j = 0;

	for (int i = 0; i < n && j + 2 < cap; i++) {
		out[j++] = digits[b[i] >> 4];
		out[j++] = digits[b[i] & 15];
	}
	out[j] = 0;
}

/* Copies the <data type="primary"> entry out of a repo that holds a parsed repomd.xml. */
static int take_primary(Pool *pool, Repo *repo, const char *name, struct copa_repomd_file *f,
                        struct copa_err *err)
{
	Dataiterator di;
	const char *loc = NULL;
	const unsigned char *chk = NULL, *open = NULL;
	Id type = 0, otype = 0;
	struct copa_buf norm = COPA_BUF_INIT;
	int rc = 0;

	dataiterator_init(&di, pool, repo, SOLVID_META, REPOSITORY_REPOMD_TYPE, "primary",
	                  SEARCH_STRING);
	dataiterator_prepend_keyname(&di, REPOSITORY_REPOMD);
	if (dataiterator_step(&di)) {
		dataiterator_setpos_parent(&di);
		loc = pool_lookup_str(pool, SOLVID_POS, REPOSITORY_REPOMD_LOCATION);
		chk = pool_lookup_bin_checksum(pool, SOLVID_POS, REPOSITORY_REPOMD_CHECKSUM, &type);
		open = pool_lookup_bin_checksum(pool, SOLVID_POS, REPOSITORY_REPOMD_OPENCHECKSUM,
		                                &otype);
		f->size = pool_lookup_num(pool, SOLVID_POS, REPOSITORY_REPOMD_SIZE, 0);
	}
	dataiterator_free(&di);
	if (!loc)
		return copa_err_set(err, COPA_E_INPUT,
		                    "'%s' lists no primary index (<data type=\"primary\"> with a "
		                    "location)",
		                    name);
	if (!chk || !type)
		return copa_err_set(err, COPA_E_INPUT, "'%s': the primary index has no checksum",
		                    name);
	if (!strong(type))
		return copa_err_set(err, COPA_E_VERIFY,
		                    "'%s': the primary index's checksum is %s, which copa does not "
		                    "trust (sha256, sha384 or sha512 needed)",
		                    name, solv_chksum_type2str(type));
	if (copa_path_normalize(loc, &norm) < 0 || norm.len == 0) {
		rc = copa_err_set(err, COPA_E_INPUT,
		                  "'%s': primary location '%.200s' is not a relative path inside "
		                  "the repository",
		                  name, loc);
		goto out;
	}
	f->location = copa_buf_detach(&norm, NULL);
	f->chksum_type = type;
	memcpy(f->chksum, chk, (size_t)solv_chksum_len(type));
	if (open && strong(otype)) {
		f->open_type = otype;
		memcpy(f->open_chksum, open, (size_t)solv_chksum_len(otype));
	}
out:
	copa_buf_release(&norm);
	return rc;
}

int copa_repomd_parse(const void *xml, size_t n, const char *name, struct copa_repomd *md,
                      struct copa_err *err)
{
	Pool *pool;
	Repo *repo;
	FILE *fp;
	int rc;

	memset(md, 0, sizeof(*md));
	if (n > COPA_REPOMD_MAX)
		return copa_err_set(err, COPA_E_LIMIT, "'%s' is larger than %u MiB", name,
		                    COPA_REPOMD_MAX >> 20);
	if (n == 0)
		return copa_err_set(err, COPA_E_INPUT, "'%s' is empty", name);
	fp = solv_fmemopen(xml, n, "r");
	if (!fp)
		return copa_err_sys(err, COPA_E_IO, errno, "cannot read '%s'", name);
	pool = pool_create();
	repo = repo_create(pool, "repomd");
	if (repo_add_repomdxml(repo, fp, 0) != 0) {
		rc = copa_err_set(err, COPA_E_INPUT, "'%s' is not a repomd.xml: %s", name,
		                  pool_errstr(pool));
	} else {
		rc = take_primary(pool, repo, name, &md->primary, err);
	}
	fclose(fp);
	pool_free(pool);
	if (rc < 0)
		copa_repomd_release(md);
	return rc;
}

/* ------------------------------------------------------------ primary */

/*
 * Reads the decompressed stream for libsolv, counting and hashing it.
 * Decompression is libarchive's (raw format; gzip, xz, bzip2 and zstd filters,
 * built in, never an external program), not libsolv's solv_xfopen: libsolv
 * 0.7.23's zstd reader spins forever on a truncated frame (found by
 * fuzz_repomd), and a mirror controls these bytes when repomd.xml is unsigned.
 */
struct counted {
	struct archive *a;
	uint64_t bytes;
	Chksum *chk; /* of the decompressed bytes, or NULL */
	bool over;
	bool failed;
	char why[160];
};

static ssize_t counted_read(void *cookie, char *buf, size_t size)
{
	struct counted *c = cookie;
	la_ssize_t n;

	if (c->over || c->failed)
		return -1;
	n = archive_read_data(c->a, buf, size);
	if (n < 0) {
		c->failed = true;
		snprintf(c->why, sizeof(c->why), "%s",
		         archive_error_string(c->a) ? archive_error_string(c->a)
		                                    : "decompression failed");
		return -1;
	}
	c->bytes += (uint64_t)n;
	if (c->bytes > COPA_RPMMD_OPEN_MAX) {
		c->over = true;
		return -1;
	}
	if (c->chk && n)
		solv_chksum_add(c->chk, buf, (int)n);
	return (ssize_t)n;
}

/* Opens fd (at offset 0) as a decompressed stream. */
static struct archive *open_stream(int fd, const char *name, struct copa_err *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int r;

	if (archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
	    archive_read_support_filter_xz(a) != ARCHIVE_OK ||
	    archive_read_support_filter_bzip2(a) != ARCHIVE_OK ||
	    archive_read_support_filter_zstd(a) != ARCHIVE_OK ||
	    archive_read_support_format_raw(a) != ARCHIVE_OK) {
		/* ARCHIVE_WARN means an external program would decompress: never */
		copa_err_set(err, COPA_E_UNSUPPORTED,
		             "libarchive lacks built-in gzip, xz, bzip2 "
		             "or zstd support needed for '%s'",
		             name);
		archive_read_free(a);
		return NULL;
	}
	r = archive_read_open_fd(a, fd, 65536);
	if (r == ARCHIVE_OK)
		r = archive_read_next_header(a, &e);
	if (r != ARCHIVE_OK) {
		copa_err_set(err, COPA_E_INPUT, "cannot decompress '%s': %s", name,
		             r == ARCHIVE_EOF          ? "it is empty"
		             : archive_error_string(a) ? archive_error_string(a)
		                                       : "unknown format");
		archive_read_free(a);
		return NULL;
	}
	return a;
}

/* Hashes fd from its start with the repomd checksum type; leaves it at offset 0. */
static int verify_compressed(int fd, const struct copa_repomd_file *f, const char *name,
                             struct copa_err *err)
{
	Chksum *chk = solv_chksum_create(f->chksum_type);
	unsigned char buf[65536];
	const unsigned char *got;
	uint64_t total = 0;
	int len = 0;

	if (lseek(fd, 0, SEEK_SET) < 0) {
		solv_chksum_free(chk, NULL);
		return copa_err_sys(err, COPA_E_IO, errno, "cannot rewind '%s'", name);
	}
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			solv_chksum_free(chk, NULL);
			return copa_err_sys(err, COPA_E_IO, errno, "cannot read '%s'", name);
		}
		if (r == 0)
			break;
		total += (uint64_t)r;
		if (total > COPA_RPMMD_PRIMARY_MAX) {
			solv_chksum_free(chk, NULL);
			return copa_err_set(err, COPA_E_LIMIT, "'%s' is larger than %llu MiB", name,
			                    COPA_RPMMD_PRIMARY_MAX >> 20);
		}
		solv_chksum_add(chk, buf, (int)r);
	}
	got = solv_chksum_get(chk, &len);
	if (len != solv_chksum_len(f->chksum_type) || memcmp(got, f->chksum, (size_t)len) != 0) {
		char want_hex[2 * COPA_RPMMD_CHKSUM_MAX + 1],
		    got_hex[2 * COPA_RPMMD_CHKSUM_MAX + 1];

		hex(f->chksum, solv_chksum_len(f->chksum_type), want_hex, sizeof(want_hex));
		hex(got, len, got_hex, sizeof(got_hex));
		solv_chksum_free(chk, NULL);
		return copa_err_set(err, COPA_E_VERIFY,
		                    "'%s' does not match repomd.xml: %s %s expected, %s found "
		                    "(a mirror out of sync or tampered metadata)",
		                    name, solv_chksum_type2str(f->chksum_type), want_hex, got_hex);
	}
	solv_chksum_free(chk, NULL);
	if (f->size && f->size != total)
		return copa_err_set(err, COPA_E_VERIFY, "'%s' is %llu bytes, repomd.xml says %llu",
		                    name, (unsigned long long)total, (unsigned long long)f->size);
	if (lseek(fd, 0, SEEK_SET) < 0)
		return copa_err_sys(err, COPA_E_IO, errno, "cannot rewind '%s'", name);
	return 0;
}

int copa_rpmmd_add_primary(Repo *repo, int fd, const struct copa_repomd_file *f, const char *name,
                           struct copa_err *err)
{
	static const cookie_io_functions_t io = {.read = counted_read};
	Pool *pool = repo->pool;
	struct counted c = {0};
	FILE *fp = NULL;
	int rc = 0, before = repo->nsolvables, added;
	Id first = pool->nsolvables; /* libsolv appends new solvables at the pool's end */

	if (!strong(f->chksum_type))
		return copa_err_set(err, COPA_E_VERIFY,
		                    "'%s': no trusted checksum to verify it "
		                    "against",
		                    name);
	if (verify_compressed(fd, f, name, err) < 0)
		return -1;
	c.a = open_stream(fd, name, err);
	if (!c.a)
		return -1;
	if (f->open_type)
		c.chk = solv_chksum_create(f->open_type);
	fp = fopencookie(&c, "r", io);
	if (!fp) {
		rc = copa_err_sys(err, COPA_E_IO, errno, "cannot read '%s'", name);
		goto out;
	}
	if (repo_add_rpmmd(repo, fp, NULL, 0) != 0 || c.over || c.failed) {
		if (c.over)
			rc = copa_err_set(err, COPA_E_LIMIT,
			                  "'%s' decompresses to more than %llu "
			                  "MiB",
			                  name, COPA_RPMMD_OPEN_MAX >> 20);
		else if (c.failed)
			rc = copa_err_set(err, COPA_E_INPUT, "cannot decompress '%s': %s", name,
			                  c.why);
		else
			rc = copa_err_set(err, COPA_E_INPUT, "cannot parse '%s': %s", name,
			                  pool_errstr(pool));
		goto out;
	}
	if (c.chk) {
		int len = 0;
		const unsigned char *got = solv_chksum_get(c.chk, &len);

		if (len != solv_chksum_len(f->open_type) ||
		    memcmp(got, f->open_chksum, (size_t)len) != 0) {
			rc = copa_err_set(err, COPA_E_VERIFY,
			                  "'%s' decompressed does not match repomd.xml's "
			                  "open-checksum",
			                  name);
			goto out;
		}
	}
	added = repo->nsolvables - before;
	if (added > COPA_RPMMD_PACKAGES_MAX) {
		rc = copa_err_set(err, COPA_E_LIMIT, "'%s' lists more than %d packages", name,
		                  COPA_RPMMD_PACKAGES_MAX);
		goto out;
	}
	rc = added;
out:
	if (fp)
		fclose(fp);
	archive_read_free(c.a);
	if (c.chk)
		solv_chksum_free(c.chk, NULL);
	if (rc < 0 && repo->end > first)
		repo_free_solvable_block(repo, first, repo->end - first, 1);
	return rc;
}

int copa_rpmmd_load_dir(Repo *repo, int dirfd, struct copa_err *err)
{
	struct copa_buf xml = COPA_BUF_INIT;
	struct copa_repomd md = {0};
	struct copa_err e = COPA_ERR_INIT;
	int fd = -1, rc;

	fd = copa_fs_open_beneath(dirfd, "repodata/repomd.xml", O_RDONLY | O_CLOEXEC, 0, err);
	if (fd < 0)
		return -1;
	rc = copa_fs_read_fd(fd, COPA_REPOMD_MAX, &xml, err);
	close(fd);
	if (rc < 0 || (rc = copa_repomd_parse(xml.p, xml.len, "repodata/repomd.xml", &md, err)) < 0)
		goto out;
	fd = copa_fs_open_beneath(dirfd, md.primary.location, O_RDONLY | O_CLOEXEC, 0, &e);
	if (fd < 0) {
		*err = e;
		rc = copa_err_wrap(err, "primary index of repodata/repomd.xml");
		goto out;
	}
	rc = copa_rpmmd_add_primary(repo, fd, &md.primary, md.primary.location, err);
	close(fd);
out:
	copa_buf_release(&xml);
	copa_repomd_release(&md);
	return rc;
}
