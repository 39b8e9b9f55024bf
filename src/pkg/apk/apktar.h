/*
 * apktar.h: a tar walker over bytes in memory, for the tar streams inside
 * apk files: the "cut" signature and control segments (no end-of-archive
 * blocks) and the data segment, whose PAX headers carry apk's per-file
 * checksum `APK-TOOLS.checksum.SHA1` (or `.MD5`).
 *
 * Hand-written rather than libarchive: libarchive drops PAX keys it does not
 * know, and the checksum key is what apk's chain of trust ends in.
 * Understands ustar (with prefix), PAX extended headers (path, linkpath,
 * size, uid, gid, mtime, APK-TOOLS.checksum.*, SCHILY.xattr.<name>; global
 * headers are skipped), GNU long names and device numbers; refuses anything
 * it cannot read exactly.
 *
 * Extended attributes are apk's: each `SCHILY.xattr.<name>` record of the
 * entry's own PAX header is one attribute, its value the record's raw bytes
 * (binary values such as security.capability included). Bounded: at most
 * COPA_APK_TAR_XATTRS_MAX per entry, names of 1..255 bytes, values up to
 * COPA_APK_TAR_XATTR_VALUE_MAX (the kernel's own limits); a name given twice
 * is refused (apk would hash both and the file system keeps one).
 *
 * Entries point into the walker and the input; they are valid until the next
 * call. Input is hostile: header checksums are checked, sizes bounded by the
 * input, names capped at COPA_APK_TAR_NAME_MAX. Not thread-safe per walker.
 */
#ifndef COPA_PKG_APK_APKTAR_H
#define COPA_PKG_APK_APKTAR_H

#include "util/blob.h"
#include "util/buf.h"
#include "util/err.h"

#include <stdbool.h>
#include <stdint.h>

#define COPA_APK_TAR_NAME_MAX        4096
#define COPA_APK_TAR_XATTRS_MAX      64
#define COPA_APK_TAR_XATTR_NAME_MAX  255
#define COPA_APK_TAR_XATTR_VALUE_MAX 65536

struct copa_apk_tar_xattr {
	const char *name;  /* without the "SCHILY.xattr." prefix, NUL-terminated */
	const void *value; /* raw bytes, points into the input */
	size_t len;
};

struct copa_apk_tar_entry {
	const char *name;     /* NUL-terminated, as in the archive */
	const char *linkname; /* symlink or hard-link target, "" when none */
	char type;            /* tar typeflag: '0' file, '1' hard link, '2' symlink, '5' dir, ... */
	uint32_t mode;        /* permission and special bits (07777) */
	uint64_t uid, gid, mtime;
	struct copa_blob data;                   /* the file's bytes (regular files) */
	const char *csum_sha1;                   /* 40 hex from APK-TOOLS.checksum.SHA1, or NULL */
	const char *csum_md5;                    /* 32 hex from APK-TOOLS.checksum.MD5, or NULL */
	uint32_t devmajor, devminor;             /* character ('3') and block ('4') devices */
	const struct copa_apk_tar_xattr *xattrs; /* n_xattrs of them, in archive order */
	size_t n_xattrs;
};

struct copa_apk_tar {
	struct copa_blob rest;
	const char *what;
	struct copa_buf name, link, sha1, md5, xnames;
	struct copa_apk_tar_xattr xa[COPA_APK_TAR_XATTRS_MAX];
	size_t xname_off[COPA_APK_TAR_XATTRS_MAX];
	size_t nxa;
	bool ended;
};

/* Starts walking data[0..n); `what` names the stream in errors. */
void copa_apk_tar_init(struct copa_apk_tar *t, const void *data, size_t n, const char *what);

/*
 * Reads the next entry: 1 with *e set, 0 at the end (two zero blocks or the
 * end of the input at a block boundary, as in cut tars), -1 with err set.
 */
int copa_apk_tar_next(struct copa_apk_tar *t, struct copa_apk_tar_entry *e, struct copa_err *err);

/* Frees the walker's buffers. */
void copa_apk_tar_release(struct copa_apk_tar *t);

#endif
