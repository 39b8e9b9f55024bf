/*
 * apkver.h: apk version ordering and dependency version matching, with the
 * semantics of apk-tools 3 (the table test/unit/version.data of apk-tools is
 * the reference; tests/unit/test_apkver.c runs every line of it).
 *
 * Owns: the grammar `digits{.digits}...{letter}{_suffix{digits}}...{~hex}{-rN}`,
 * the comparison of two versions (valid or not: an invalid version compares
 * token by token up to the first bad token, exactly as apk does, so ordering
 * an index never fails), the fuzzy match `~` (a prefix match on tokens) and
 * the operator masks of dependency strings (`<`, `<=`, `=`, `>=`, `>`, `~`,
 * `<~`, `>~`, `!` conflicts, `><` checksum).
 *
 * Pure functions: no allocation, no I/O, safe from any thread. Versions are
 * borrowed blobs and need no NUL. Callers: the apk index and database
 * modules, the resolver, the Alpine adapter.
 */
#ifndef COPA_PKG_APK_APKVER_H
#define COPA_PKG_APK_APKVER_H

#include "util/blob.h"

#include <stdbool.h>

/* Result and operator bits (apk's APK_VERSION_*). */
enum {
	COPA_APKV_EQUAL = 1,
	COPA_APKV_LESS = 2,
	COPA_APKV_GREATER = 4,
	COPA_APKV_FUZZY = 8,
	COPA_APKV_CONFLICT = 16,
};
/* Any version matches (a dependency without a version). */
#define COPA_APKV_ANY (COPA_APKV_EQUAL | COPA_APKV_LESS | COPA_APKV_GREATER)
/* `><`: the dependency names a package checksum, not a version. */
#define COPA_APKV_CHECKSUM (COPA_APKV_LESS | COPA_APKV_GREATER)

/* True when v is a valid apk version (apk_version_validate). */
bool copa_apkver_valid(struct copa_blob v);

/*
 * Compares a and b; returns COPA_APKV_LESS, COPA_APKV_EQUAL or
 * COPA_APKV_GREATER. With fuzzy, a matches when b's tokens are a prefix of
 * a's (`3.6.9 ~ 3.6`).
 */
int copa_apkver_cmp_fuzzy(struct copa_blob a, struct copa_blob b, bool fuzzy);

/* copa_apkver_cmp_fuzzy without fuzziness; also -1/0/1 via copa_apkver_sign(). */
int copa_apkver_cmp(struct copa_blob a, struct copa_blob b);

/* Maps a LESS/EQUAL/GREATER result to -1/0/1 (for qsort-style callers). */
int copa_apkver_sign(int result);

/*
 * Parses an operator ("<", "<=", "=", ">=", ">", "~", "<~", ">~", "><"...)
 * into a mask; returns 0 for anything else.
 */
int copa_apkver_op_parse(struct copa_blob op);

/* The canonical text of an operator mask ("<=", "~", ">~", "><", "" for any); "?" when unknown. */
const char *copa_apkver_op_str(int op);

/*
 * True when version a satisfies `op b` (apk_version_match): the mask of
 * cmp_fuzzy(a, b, op has FUZZY) intersects op; COPA_APKV_CONFLICT inverts.
 */
bool copa_apkver_match(struct copa_blob a, int op, struct copa_blob b);

#endif
