/*
 * mem.h: allocation and scope-based cleanup helpers.
 *
 * Allocation failure aborts with a message (git's xmalloc): copa's working set
 * is bounded by the caps on untrusted sizes, so an out-of-memory condition is
 * not a recoverable input error and threading it through every caller would
 * only hide real error paths.
 *
 * _cleanup_free_ / _cleanup_close_ / _cleanup_fclose_ release a variable when
 * it leaves scope (systemd, crun); steal_ptr()/steal_fd() hand ownership out.
 */
#ifndef COPA_UTIL_MEM_H
#define COPA_UTIL_MEM_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void copa_freep(void *p)
{
	free(*(void **)p);
}

static inline void copa_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

static inline void copa_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

#define _cleanup_free_   _cleanup_(copa_freep)
#define _cleanup_close_  _cleanup_(copa_closep)
#define _cleanup_fclose_ _cleanup_(copa_fclosep)

/* Takes ownership of *pp, leaving NULL behind. */
#define steal_ptr(pp)                                                                              \
	({                                                                                         \
		__typeof__(*(pp)) _stolen = *(pp);                                                 \
		*(pp) = NULL;                                                                      \
		_stolen;                                                                           \
	})

/* Takes ownership of the fd in *fdp, leaving -1 behind. */
#define steal_fd(fdp)                                                                              \
	({                                                                                         \
		int _stolen_fd = *(fdp);                                                           \
		*(fdp) = -1;                                                                       \
		_stolen_fd;                                                                        \
	})

#define COPA_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Reports a broken internal invariant and aborts. Never for bad input. */
#define COPA_BUG(...) copa_bug(__FILE__, __LINE__, __VA_ARGS__)
_Noreturn void copa_bug(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Allocators that abort on failure; results are owned by the caller (free()). */
void *copa_xmalloc(size_t n);
void *copa_xcalloc(size_t nmemb, size_t size);
void *copa_xrealloc(void *p, size_t n);
/* Grows an array to hold at least `need` elements of `size` bytes, doubling. */
void *copa_xgrow(void *p, size_t *cap, size_t need, size_t size);
char *copa_xstrdup(const char *s);
char *copa_xstrndup(const char *s, size_t n);
/* Returns a newly allocated formatted string. */
char *copa_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Frees a NULL-terminated array of strings and the array itself. */
void copa_strv_free(char **v);

#endif
