#include "util/arena.h"

#include "util/mem.h"

#include <stdalign.h>
#include <stdint.h>
#include <string.h>

struct copa_arena_block {
	struct copa_arena_block *next;
	size_t used, size;
	alignas(max_align_t) unsigned char data[];
};

void *copa_arena_alloc(struct copa_arena *a, size_t n)
{
	const size_t align = alignof(max_align_t);
	size_t bs = a->block_size ? a->block_size : 65536;
	struct copa_arena_block *b = a->head;
	size_t off;

	if (n > SIZE_MAX - align)
		COPA_BUG("arena allocation of %zu bytes", n);
	n = (n + align - 1) & ~(align - 1);
	if (!n)
		n = align;
	if (!b || b->size - b->used < n) {
		size_t size = n > bs / 4 ? n : bs;
		struct copa_arena_block *nb = copa_xmalloc(sizeof(*nb) + size);

		nb->used = 0;
		nb->size = size;
		if (size == n && b) {
			/* A big allocation gets its own block behind the current one. */
			nb->next = b->next;
			b->next = nb;
		} else {
			nb->next = b;
			a->head = nb;
		}
		b = nb;
	}
	off = b->used;
	b->used += n;
	a->total += n;
	return b->data + off;
}

void *copa_arena_memdup(struct copa_arena *a, const void *p, size_t n)
{
	void *q = copa_arena_alloc(a, n);

	if (n)
		memcpy(q, p, n);
	return q;
}

char *copa_arena_strndup(struct copa_arena *a, const char *s, size_t n)
{
	char *q = copa_arena_alloc(a, n + 1);

	if (n)
		memcpy(q, s, n);
	q[n] = '\0';
	return q;
}

char *copa_arena_strdup(struct copa_arena *a, const char *s)
{
	return copa_arena_strndup(a, s, strlen(s));
}

void copa_arena_release(struct copa_arena *a)
{
	struct copa_arena_block *b = a->head;

	while (b) {
		struct copa_arena_block *next = b->next;

		free(b);
		b = next;
	}
	a->head = NULL;
	a->total = 0;
}
