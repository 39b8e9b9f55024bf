/*
 * rpmmanifest.h: the package lists of Azure Linux / CBL-Mariner distroless
 * images, which carry no rpm database.
 *
 * var/lib/rpmmanifest/container-manifest-1 is `rpm -qa` (one
 * name-version-release.arch a line); container-manifest-2 is the Azure Linux
 * toolkit's query, ten tab-separated fields a line:
 *   NAME  VERSION-RELEASE  INSTALLTIME  BUILDTIME  VENDOR  EPOCH  SIZE  ARCH  EPOCHNUM  SOURCERPM
 * (the toolkit writes a literal "(none)" in the sixth field; older images have
 * %{EPOCH} there). Scanners read -2 strictly (Trivy: exactly ten fields,
 * exactly one '-' in the second, an integer ninth, a source-rpm file name
 * NAME-VERSION-RELEASE.ARCH.rpm tenth), so the reader refuses anything they
 * would refuse, naming the file and line, and the writer refuses to write an
 * entry they could not read back. Every field is kept as text so that
 * parse + write reproduces a file byte for byte (blank lines excepted: they
 * are skipped and never written).
 *
 * The files are image content: sizes and line counts are capped. Pure
 * functions, no I/O; callers read and write the files.
 */
#ifndef COPA_PKG_RPM_RPMMANIFEST_H
#define COPA_PKG_RPM_RPMMANIFEST_H

#include "pkg/rpm/rpmdb.h"
#include "util/buf.h"
#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

#define COPA_RPMMF_FILE_MAX  (16u << 20) /* one manifest file */
#define COPA_RPMMF_LINES_MAX 100000      /* packages in one manifest */

#define COPA_RPMMF1_PATH "var/lib/rpmmanifest/container-manifest-1"
#define COPA_RPMMF2_PATH "var/lib/rpmmanifest/container-manifest-2"

/* One line of container-manifest-2. Every string is owned. */
struct copa_rpmmf_entry {
	char *name;
	char *version;     /* field 2 before its '-' */
	char *release;     /* field 2 after it */
	char *installtime; /* decimal */
	char *buildtime;   /* decimal */
	char *vendor;      /* free text without tabs, "(none)" when unset */
	char *epoch_field; /* field 6 as written: "(none)" or decimal */
	char *size;        /* decimal */
	char *arch;
	uint32_t epoch; /* field 9 */
	char *sourcerpm;
};

struct copa_rpmmf {
	struct copa_rpmmf_entry *v;
	size_t n, cap;
};

/* One line of container-manifest-1, split as rpm's NEVRA (owned strings). */
struct copa_rpmmf1_entry {
	char *nvra; /* the line */
	char *name, *version, *release, *arch;
};

struct copa_rpmmf1 {
	struct copa_rpmmf1_entry *v;
	size_t n, cap;
};

void copa_rpmmf_release(struct copa_rpmmf *m);
void copa_rpmmf1_release(struct copa_rpmmf1 *m);

/*
 * Parses container-manifest-2 text (n bytes; `file` is named in errors,
 * "FILE:LINE: ...") and appends its entries to m. COPA_E_INPUT for a
 * malformed line, COPA_E_LIMIT past the caps.
 */
int copa_rpmmf_parse(const char *text, size_t n, const char *file, struct copa_rpmmf *m,
                     struct copa_err *err);

/* Parses container-manifest-1 text into m1, as above. */
int copa_rpmmf1_parse(const char *text, size_t n, const char *file, struct copa_rpmmf1 *m1,
                      struct copa_err *err);

/*
 * Checks that the two files list the same packages (-1 is derived from -2:
 * name-version-release.arch of each entry), so an image whose two lists
 * disagree is refused rather than half-updated. The error names the first
 * package only one of them lists.
 */
int copa_rpmmf_check_pair(const struct copa_rpmmf *m, const struct copa_rpmmf1 *m1,
                          struct copa_err *err);

/*
 * Appends container-manifest-2 text for every entry of m to out (one line
 * each, '\n'-terminated). COPA_E_INPUT naming the package when an entry
 * would not read back (a tab or newline in a field, a bad version, ...).
 */
int copa_rpmmf_write(const struct copa_rpmmf *m, struct copa_buf *out, struct copa_err *err);

/* Appends container-manifest-1 text (name-version-release.arch lines) for m to out. */
int copa_rpmmf_write1(const struct copa_rpmmf *m, struct copa_buf *out, struct copa_err *err);

/*
 * Fills e (owned strings) from an installed package as the Azure Linux
 * toolkit writes it: field 6 "(none)", field 9 the epoch or 0. A package
 * without a source rpm (gpg-pubkey) is refused: scanners reject the line.
 */
int copa_rpmmf_entry_from_pkg(const struct copa_rpm_pkg *p, struct copa_rpmmf_entry *e,
                              struct copa_err *err);

/* Frees one entry's strings. */
void copa_rpmmf_entry_release(struct copa_rpmmf_entry *e);

#endif
