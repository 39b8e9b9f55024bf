/*
 * blob.h: borrowed byte-string views (apk-tools' apk_blob_t) for parsing
 * control files, headers and indexes without copying.
 *
 * A blob never owns memory; it is valid as long as the bytes it points into.
 * Functions that split advance a "rest" blob and return pieces of it.
 */
#ifndef COPA_UTIL_BLOB_H
#define COPA_UTIL_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct copa_blob {
	const char *p;
	size_t n;
};

#define COPA_BLOB_NULL ((struct copa_blob){NULL, 0})
/* A blob over a string literal. */
#define COPA_BLOB_LIT(s) ((struct copa_blob){(s), sizeof(s) - 1})

static inline struct copa_blob copa_blob(const void *p, size_t n)
{
	return (struct copa_blob){(const char *)p, n};
}

static inline struct copa_blob copa_blob_str(const char *s)
{
	return (struct copa_blob){s, s ? strlen(s) : 0};
}

static inline bool copa_blob_eq(struct copa_blob a, struct copa_blob b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static inline bool copa_blob_eqs(struct copa_blob a, const char *s)
{
	return copa_blob_eq(a, copa_blob_str(s));
}

/* Case-insensitive (ASCII) equality with a C string. */
bool copa_blob_eqs_ci(struct copa_blob a, const char *s);
bool copa_blob_starts(struct copa_blob a, const char *prefix);
bool copa_blob_ends(struct copa_blob a, const char *suffix);

/* Strips ASCII spaces, tabs, CR and LF from both ends. */
struct copa_blob copa_blob_trim(struct copa_blob b);

/*
 * Splits *rest at the first `sep`: *tok gets the part before it and *rest the
 * part after. When sep is absent, *tok gets all of *rest and *rest becomes
 * empty. Returns false only when *rest was already exhausted (p == NULL or
 * consumed), so `while (copa_blob_split(&rest, '\n', &line))` visits every
 * line including a last one without a newline; text ending in a newline
 * yields one final empty token.
 */
bool copa_blob_split(struct copa_blob *rest, char sep, struct copa_blob *tok);

/*
 * Splits text into words separated by spaces, tabs, CRs and newlines: each call
 * returns the next word in *word and consumes it from *rest. Returns false when
 * none is left.
 */
bool copa_blob_word(struct copa_blob *rest, struct copa_blob *word);

/* Pointer to the first `c` in b, or NULL. */
const char *copa_blob_chr(struct copa_blob b, char c);

/* A new NUL-terminated copy (caller frees). */
char *copa_blob_dup(struct copa_blob b);

/*
 * Parses an unsigned decimal number covering the whole blob (no sign, no
 * spaces, no leading '+'). Returns 0, or -1 on empty input, a non-digit or
 * overflow of max.
 */
int copa_blob_to_u64(struct copa_blob b, uint64_t max, uint64_t *out);

#endif
