/*
 * apktar.h: a tar walker over bytes in memory, for the tar streams inside
 * apk files: the "cut" signature and control segments (no end-of-archive
 * blocks) and the data segment, whose PAX headers carry apk's per-file
 * checksum `APK-TOOLS.checksum.SHA1` (or `.MD5`).
 *
 * Hand-written rather than libarchive: libarchive drops PAX keys it does not
 * know, and the checksum key is what apk's chain of trust ends in.
 * Understands ustar (with prefix), PAX extended headers (path, linkpath,
 * size, uid, gid, mtime, APK-TOOLS.checksum.*; global headers are skipped)
 * and GNU long names; refuses anything it cannot read exactly.
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

#define COPA_APK_TAR_NAME_MAX 4096

struct copa_apk_tar_entry {
	const char *name;     /* NUL-terminated, as in the archive */
	const char *linkname; /* symlink or hard-link target, "" when none */
	char type;            /* tar typeflag: '0' file, '1' hard link, '2' symlink, '5' dir, ... */
	uint32_t mode;        /* permission and special bits (07777) */
	uint64_t uid, gid, mtime;
	struct copa_blob data; /* the file's bytes (regular files) */
	const char *csum_sha1; /* 40 hex from APK-TOOLS.checksum.SHA1, or NULL */
	const char *csum_md5;  /* 32 hex from APK-TOOLS.checksum.MD5, or NULL */
};

struct copa_apk_tar {
	struct copa_blob rest;
	const char *what;
	struct copa_buf name, link, sha1, md5;
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
