#include "util/strmap.h"

#include "util/mem.h"

#include <string.h>

static const char tomb_marker;
#define TOMB (&tomb_marker)

static uint64_t hash(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ULL;
	}
	return h ^ (h >> 29);
}

static struct copa_strmap_slot *find(const struct copa_strmap *m, const char *key, size_t n)
{
	size_t mask;

	if (!m->cap)
		return NULL;
	mask = m->cap - 1;
	for (size_t i = hash(key, n) & mask;; i = (i + 1) & mask) {
		struct copa_strmap_slot *s = &m->slots[i];

		if (!s->key)
			return NULL;
		if (s->key != TOMB && s->len == n && memcmp(s->key, key, n) == 0)
			return s;
	}
}

static void insert_raw(struct copa_strmap_slot *slots, size_t cap, const char *key, uint32_t len,
                       uint32_t val)
{
	size_t mask = cap - 1;
	size_t i = hash(key, len) & mask;

	while (slots[i].key && slots[i].key != TOMB)
		i = (i + 1) & mask;
	slots[i] = (struct copa_strmap_slot){key, len, val};
}

static void rehash(struct copa_strmap *m)
{
	size_t cap = m->cap ? m->cap : 64;
	struct copa_strmap_slot *slots;

	/* Grow only when live entries, not tombstones, fill the table. */
	while ((m->live + 1) * 2 >= cap)
		cap *= 2;
	slots = copa_xcalloc(cap, sizeof(*slots));
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key && m->slots[i].key != TOMB)
			insert_raw(slots, cap, m->slots[i].key, m->slots[i].len, m->slots[i].val);
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	m->used = m->live;
}

bool copa_strmap_get(const struct copa_strmap *m, const char *key, size_t n, uint32_t *val)
{
	struct copa_strmap_slot *s = find(m, key, n);

	if (!s)
		return false;
	if (val)
		*val = s->val;
	return true;
}

void copa_strmap_put(struct copa_strmap *m, const char *key, size_t n, uint32_t val)
{
	struct copa_strmap_slot *s = find(m, key, n);

	if (n > UINT32_MAX)
		COPA_BUG("key of %zu bytes", n);
	if (s) {
		s->key = key;
		s->val = val;
		return;
	}
	if ((m->used + 1) * 4 >= m->cap * 3)
		rehash(m);
	insert_raw(m->slots, m->cap, key, (uint32_t)n, val);
	m->used++;
	m->live++;
}

bool copa_strmap_del(struct copa_strmap *m, const char *key, size_t n)
{
	struct copa_strmap_slot *s = find(m, key, n);

	if (!s)
		return false;
	s->key = TOMB;
	m->live--;
	return true;
}

void copa_strmap_release(struct copa_strmap *m)
{
	free(m->slots);
	memset(m, 0, sizeof(*m));
}
