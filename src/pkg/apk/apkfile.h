/*
 * apkfile.h: reading a v2 `.apk` package: three concatenated gzip members
 * (signature, control, data) verified in the order of apk's chain of trust,
 * then the control's `.PKGINFO` and scripts, and the data tar's entries.
 *
 * The chain, each link checked before the next is read:
 *   1. the signature segment against the trusted keys, over the compressed
 *      control member (or control + data for a legacy package without
 *      `datahash`);
 *   2. the package identity `Q1` + base64 SHA-1 of those same bytes against
 *      the index's `C:` (when the caller gives one);
 *   3. the compressed data member against `.PKGINFO`'s `datahash` (SHA-256);
 *   4. every file (and symlink target) of the data tar against its PAX
 *      `APK-TOOLS.checksum.SHA1`.
 * The pieces are also exported on their own (the fuzzer drives them
 * without keys). The whole package is in memory: the inflated data is
 * capped by COPA_APKFILE_MAX_DATA.
 *
 * Owns everything it returns; entries point into the apkfile. Not
 * thread-safe per apkfile.
 */
#ifndef COPA_PKG_APK_APKFILE_H
#define COPA_PKG_APK_APKFILE_H

#include "pkg/apk/apkpkg.h"
#include "pkg/apk/apksign.h"
#include "pkg/apk/apktar.h"

#define COPA_APKFILE_MAX_CONTROL (16u << 20)
#define COPA_APKFILE_MAX_DATA    (2048ull << 20)
#define COPA_APKFILE_MAX_ENTRIES 1000000
#define COPA_APKFILE_MAX_SCRIPTS 16

struct copa_apkfile_entry {
	const char *name;     /* relative path as in the tar, no leading '/' */
	const char *linkname; /* symlink/hard-link target, "" otherwise */
	char type; /* '0' file, '1' hard link, '2' symlink, '5' dir, '3'/'4' dev, '6' fifo */
	uint32_t mode;
	uint64_t uid, gid, mtime;
	struct copa_blob data; /* regular file content */
	char csum[32]; /* "Q1"+base64 of the PAX SHA-1 (the installed db's Z:), "" when none */
	uint32_t devmajor, devminor;       /* '3'/'4' device numbers */
	struct copa_apk_tar_xattr *xattrs; /* SCHILY.xattr.*, arena copies, by name */
	size_t n_xattrs;
	char xattr_csum[32]; /* copa_apk_xattr_csum of them, "" when none */
};

/*
 * apk's checksum of a file's extended attributes, the 4th field of the
 * installed database's `a:`/`M:` lines: SHA-1 over the attributes sorted by
 * name (strcmp), each as a 32-bit big-endian name length, the name, a 32-bit
 * big-endian value length and the value; written "Q1" + base64. out is ""
 * when n is 0 (apk writes no 4th field then). Sorts xa in place.
 */
void copa_apk_xattr_csum(struct copa_apk_tar_xattr *xa, size_t n, char out[32]);

struct copa_apkfile_script {
	const char *name; /* ".pre-install", ".post-upgrade", ".trigger", ... */
	struct copa_blob body;
};

struct copa_apkfile {
	struct copa_arena arena;
	struct copa_buf control_tar, data_tar;
	const char *signed_by;   /* the trusted key that verified it */
	char csum[32];           /* identity: "Q1" + base64 SHA-1 of the signed bytes */
	const char *datahash;    /* .PKGINFO datahash (hex sha256), NULL for legacy packages */
	struct copa_apk_pkg pkg; /* from .PKGINFO (csum set to the identity) */
	const char *triggers;    /* .PKGINFO "triggers" (space-separated globs), NULL when none */
	struct copa_apkfile_script scripts[COPA_APKFILE_MAX_SCRIPTS];
	size_t nscripts;
	struct copa_apkfile_entry *entries;
	size_t n, cap;
};

void copa_apkfile_init(struct copa_apkfile *f);
void copa_apkfile_release(struct copa_apkfile *f);

/*
 * Verifies and reads a whole package (see the chain above). expect_csum is
 * the index's `C:` for this package, or NULL when there is none to check
 * against. `what` names the package in errors ("package 'busybox-1.36.1-r2'").
 * COPA_E_VERIFY for any broken link of the chain, COPA_E_INPUT for a
 * malformed package, COPA_E_LIMIT past a cap.
 */
int copa_apkfile_read(struct copa_apkfile *f, const void *data, size_t n,
                      const struct copa_apk_keys *keys, const char *expect_csum, const char *what,
                      struct copa_err *err);

/*
 * The unverified pieces. split: the three members' compressed offsets
 * (sig = [0, ctl), control = [ctl, dat), data = [dat, n)) and the inflated
 * signature and control tars. pkginfo: parses `.PKGINFO` text into f->pkg,
 * f->datahash, f->triggers. control: walks the control tar (pkginfo and
 * scripts). data: walks an inflated data tar into f->entries, checking
 * every PAX checksum.
 */
int copa_apkfile_split(struct copa_apkfile *f, const void *data, size_t n, size_t *ctl, size_t *dat,
                       struct copa_buf *sig_tar, struct copa_err *err);
int copa_apkfile_pkginfo(struct copa_apkfile *f, const char *text, size_t n, struct copa_err *err);
int copa_apkfile_control(struct copa_apkfile *f, struct copa_err *err);
int copa_apkfile_data(struct copa_apkfile *f, struct copa_err *err);

#endif
