/*
 * strmap.h: an open-addressing hash map from strings to 32-bit values.
 *
 * Keys are borrowed: the caller keeps each key's bytes alive and unchanged
 * while it is in the map (typically in an arena next to the value's object).
 * Used for path indexes (merged view, layer builder) and name indexes
 * (package lists). Not thread-safe.
 */
#ifndef COPA_UTIL_STRMAP_H
#define COPA_UTIL_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct copa_strmap_slot {
	const char *key; /* NULL: empty; copa_strmap_tomb: deleted */
	uint32_t len;
	uint32_t val;
};

struct copa_strmap {
	struct copa_strmap_slot *slots;
	size_t cap;  /* power of two */
	size_t used; /* live + deleted slots */
	size_t live;
};

#define COPA_STRMAP_INIT                                                                           \
	{                                                                                          \
		NULL, 0, 0, 0                                                                      \
	}

/* Looks key (n bytes) up; returns true and sets *val when present. */
bool copa_strmap_get(const struct copa_strmap *m, const char *key, size_t n, uint32_t *val);
/* Inserts or overwrites key -> val. */
void copa_strmap_put(struct copa_strmap *m, const char *key, size_t n, uint32_t val);
/* Removes key; returns true when it was present. */
bool copa_strmap_del(struct copa_strmap *m, const char *key, size_t n);
void copa_strmap_release(struct copa_strmap *m);

#endif
