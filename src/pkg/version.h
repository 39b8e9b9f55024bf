/*
 * version.h: package version ordering and validity, one rule set per package
 * family: dpkg (deb-version(7)), apk (apk-tools 2.14) and rpm (rpmvercmp with
 * epoch:version-release).
 *
 * Owns: the comparators that decide which fixed version is the highest
 * (report parsing), whether an available version satisfies a fix (the
 * package-manager adapters) and whether a string from a report or a package
 * index is a version at all. Everything here is pure: no allocation, no I/O,
 * safe from any thread.
 *
 * Invariant: copa_version_cmp() only orders strings that copa_version_valid()
 * accepts for that family; anything else is an error, never a guess. The
 * results are -1, 0 or 1, and cmp(a, b) == -cmp(b, a) for valid inputs.
 *
 * Callers: src/report/ (deduplicating updates), src/pkg/{deb,apk,rpm}/
 * (planning and verifying updates), src/vex/ (nothing else).
 */
#ifndef COPA_PKG_VERSION_H
#define COPA_PKG_VERSION_H

#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>

/* Package-manager families. COPA_FAM_NONE: an OS copa knows no ordering for. */
enum copa_pkgfam {
	COPA_FAM_DEB,
	COPA_FAM_APK,
	COPA_FAM_RPM,
	COPA_FAM_NONE,
};

/* Longest version string accepted (bytes, without the NUL). */
#define COPA_VERSION_MAX 256

/* Short name of a family: "deb", "apk", "rpm" (also the purl type), "none". */
const char *copa_pkgfam_name(enum copa_pkgfam fam);

/* Name of the family's tool for messages: "dpkg", "apk", "rpm", "no package manager". */
const char *copa_pkgfam_tool(enum copa_pkgfam fam);

/*
 * Returns NULL when v is a valid version of the family, else a static
 * lowercase reason ("epoch is not a number"). The rules:
 *   deb: dpkg's parseversion(), warnings included: [epoch:]upstream[-revision],
 *        epoch digits (<= INT_MAX), upstream starting with a digit and made of
 *        [A-Za-z0-9.+~-:], revision of [A-Za-z0-9.+~]; surrounding blanks allowed.
 *   apk: apk-tools 2.14 apk_version_validate(), and it must start with a digit.
 *   rpm: [epoch:]version[-release], epoch digits, version and release
 *        non-empty and made of [A-Za-z0-9._+~^].
 * Every family refuses an empty string, control characters and more than
 * COPA_VERSION_MAX bytes.
 */
const char *copa_version_invalid_reason(enum copa_pkgfam fam, const char *v);

/* True when v is a valid version of the family (see copa_version_invalid_reason). */
bool copa_version_valid(enum copa_pkgfam fam, const char *v);

/*
 * Compares versions a and b of one family; *result gets -1, 0 or 1 (a < b,
 * a == b, a > b). Fails with COPA_E_INPUT naming the invalid version and why,
 * or COPA_E_UNSUPPORTED for COPA_FAM_NONE.
 */
int copa_version_cmp(enum copa_pkgfam fam, const char *a, const char *b, int *result,
                     struct copa_err *err);

/*
 * The raw segment comparators, for adapters that compare parts they already
 * split (rpm's version and release, dpkg's upstream and revision). No
 * validation; NULL is treated as "". Return -1, 0 or 1.
 */
int copa_rpmvercmp(const char *a, const char *b);
int copa_dpkg_verrevcmp(const char *a, const char *b);

#endif
