#include "util/buf.h"

#include "util/mem.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

void copa_buf_init(struct copa_buf *b, size_t max)
{
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
	b->overflow = false;
}

void copa_buf_release(struct copa_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	b->overflow = false;
}

void copa_buf_reset(struct copa_buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
	b->overflow = false;
}

int copa_buf_grow(struct copa_buf *b, size_t n)
{
	size_t need;

	if (n > SIZE_MAX - b->len - 1 || (b->max && b->len + n > b->max)) {
		b->overflow = true;
		return -1;
	}
	need = b->len + n + 1;
	if (need > b->cap) {
		size_t cap = b->cap;

		b->p = copa_xgrow(b->p, &cap, need, 1);
		b->cap = cap;
		/* The invariant holds from the first allocation, before anything is added. */
		b->p[b->len] = '\0';
	}
	return 0;
}

int copa_buf_add(struct copa_buf *b, const void *data, size_t n)
{
	if (copa_buf_grow(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int copa_buf_adds(struct copa_buf *b, const char *s)
{
	return copa_buf_add(b, s, strlen(s));
}

int copa_buf_addc(struct copa_buf *b, char c)
{
	return copa_buf_add(b, &c, 1);
}

int copa_buf_vaddf(struct copa_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		COPA_BUG("bad format string '%s'", fmt);
	if (copa_buf_grow(b, (size_t)n) < 0)
		return -1;
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int copa_buf_addf(struct copa_buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = copa_buf_vaddf(b, fmt, ap);
	va_end(ap);
	return r;
}

void copa_buf_truncate(struct copa_buf *b, size_t len)
{
	if (len > b->len)
		COPA_BUG("truncate to %zu beyond length %zu", len, b->len);
	b->len = len;
	if (b->p)
		b->p[len] = '\0';
}

char *copa_buf_detach(struct copa_buf *b, size_t *len)
{
	char *p = b->p ? b->p : copa_xstrdup("");

	if (len)
		*len = b->len;
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	b->overflow = false;
	return p;
}
