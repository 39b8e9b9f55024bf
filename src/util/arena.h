/*
 * arena.h: a bump allocator for many small objects freed together
 * (apk-tools' balloc, libsolv's string pool): parsed package indexes,
 * merged-view paths. Allocations are never freed one by one; releasing the
 * arena frees them all. Allocation failure aborts (see mem.h).
 */
#ifndef COPA_UTIL_ARENA_H
#define COPA_UTIL_ARENA_H

#include <stddef.h>

struct copa_arena_block;

struct copa_arena {
	struct copa_arena_block *head;
	size_t block_size; /* 0: 64 KiB */
	size_t total;      /* bytes handed out, for accounting */
};

#define COPA_ARENA_INIT                                                                            \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

/* Returns n bytes aligned for any object; owned by the arena. */
void *copa_arena_alloc(struct copa_arena *a, size_t n);
void *copa_arena_memdup(struct copa_arena *a, const void *p, size_t n);
/* Copies n bytes plus a terminating NUL. */
char *copa_arena_strndup(struct copa_arena *a, const char *s, size_t n);
char *copa_arena_strdup(struct copa_arena *a, const char *s);
/* Frees every allocation; the arena is empty and reusable. */
void copa_arena_release(struct copa_arena *a);

#endif
