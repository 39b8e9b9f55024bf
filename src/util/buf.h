/*
 * buf.h: an owned, growable byte buffer with a size ceiling (git's strbuf,
 * curl's dynbuf).
 *
 * Invariant: when p != NULL, p[len] == '\0', so the contents can be used as a
 * C string when they hold text. Growing past `max` sets the sticky `overflow`
 * flag and leaves the contents unchanged; building code checks it once at the
 * end and reports a limit error naming its subject. Allocation failure aborts
 * (see mem.h).
 */
#ifndef COPA_UTIL_BUF_H
#define COPA_UTIL_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct copa_buf {
	char *p;
	size_t len;
	size_t cap;
	size_t max; /* ceiling on len; 0 means none */
	bool overflow;
};

#define COPA_BUF_INIT                                                                              \
	{                                                                                          \
		NULL, 0, 0, 0, false                                                               \
	}

/* Initialises an empty buffer that refuses to grow beyond max bytes (0: none). */
void copa_buf_init(struct copa_buf *b, size_t max);
/* Frees the contents; the buffer is empty and reusable afterwards. */
void copa_buf_release(struct copa_buf *b);
/* Empties the buffer, keeping its memory and ceiling; clears overflow. */
void copa_buf_reset(struct copa_buf *b);
/* Appends n bytes. Returns 0, or -1 (and sets overflow) past the ceiling. */
int copa_buf_add(struct copa_buf *b, const void *data, size_t n);
/* Appends a NUL-terminated string. */
int copa_buf_adds(struct copa_buf *b, const char *s);
/* Appends one byte. */
int copa_buf_addc(struct copa_buf *b, char c);
/* Appends formatted text. */
int copa_buf_addf(struct copa_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int copa_buf_vaddf(struct copa_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Ensures room for n more bytes without changing len. */
int copa_buf_grow(struct copa_buf *b, size_t n);
/* Shortens the contents to len bytes (len <= b->len). */
void copa_buf_truncate(struct copa_buf *b, size_t len);
/*
 * Returns the contents as a malloc'd NUL-terminated string owned by the
 * caller (an empty string when the buffer is empty) and empties the buffer.
 */
char *copa_buf_detach(struct copa_buf *b, size_t *len);
/* The contents as a C string; "" when empty. Borrowed. */
static inline const char *copa_buf_str(const struct copa_buf *b)
{
	return b->p ? b->p : "";
}

#endif
