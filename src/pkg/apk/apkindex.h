/*
 * apkindex.h: a repository's signed APKINDEX.tar.gz, verified and parsed.
 *
 * Owns: splitting the file into its two gzip members, verifying the first
 * (the signature segment) over the compressed bytes of the second against
 * the trusted keys BEFORE anything of the second is inflated or parsed, and
 * parsing `APKINDEX` (and `DESCRIPTION`) into an array of packages.
 *
 * Invariants: copa_apk_index_load never returns packages of an unsigned,
 * wrongly signed or tampered index; every package has a name, a version and
 * a valid `C:` checksum. Strings live in the index's arena. Caps: the
 * inflated index (COPA_APK_INDEX_MAX_BYTES), the package count
 * (COPA_APK_INDEX_MAX_PKGS), a line (COPA_APK_LINE_MAX). Not thread-safe.
 */
#ifndef COPA_PKG_APK_APKINDEX_H
#define COPA_PKG_APK_APKINDEX_H

#include "pkg/apk/apkpkg.h"
#include "pkg/apk/apksign.h"

#define COPA_APK_INDEX_MAX_BYTES (256u << 20)
#define COPA_APK_INDEX_MAX_PKGS  200000
#define COPA_APK_LINE_MAX        (64u << 10)

struct copa_apk_index {
	struct copa_arena arena;
	const char *description; /* DESCRIPTION, "" when absent */
	const char *signed_by;   /* the key that verified it; NULL for parse_text */
	struct copa_apk_pkg **pkgs;
	size_t n, cap;
};

#define COPA_APK_INDEX_INIT                                                                        \
	{                                                                                          \
		COPA_ARENA_INIT, NULL, NULL, NULL, 0, 0                                            \
	}

/*
 * Verifies and parses APKINDEX.tar.gz bytes. `what` names the index in every
 * error ("index 'https://.../x86_64/APKINDEX.tar.gz'"). Errors: COPA_E_VERIFY
 * (unsigned, unknown key, bad signature), COPA_E_INPUT (malformed),
 * COPA_E_LIMIT. On error the index holds nothing.
 */
int copa_apk_index_load(struct copa_apk_index *idx, const void *data, size_t n,
                        const struct copa_apk_keys *keys, const char *what, struct copa_err *err);

/*
 * Parses the text of an `APKINDEX` member (no signature: for callers that
 * verified it, and for the fuzzer). Appends to idx.
 */
int copa_apk_index_parse_text(struct copa_apk_index *idx, const char *text, size_t n,
                              const char *what, struct copa_err *err);

/* Frees everything the index holds; it is empty afterwards. */
void copa_apk_index_release(struct copa_apk_index *idx);

/*
 * Calls fn for every "X:value" line of a record-structured text (index or
 * installed database), with record boundaries at blank lines (fn gets
 * letter 0 for a blank line). Checks the line form and COPA_APK_LINE_MAX;
 * stops when fn returns < 0. `line` is 1-based.
 */
typedef int (*copa_apk_line_fn)(void *ctx, size_t line, char letter, struct copa_blob value,
                                struct copa_blob raw, struct copa_err *err);
int copa_apk_lines(const char *text, size_t n, copa_apk_line_fn fn, void *ctx,
                   struct copa_err *err);

#endif
