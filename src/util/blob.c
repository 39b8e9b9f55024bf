#include "util/blob.h"

#include "util/mem.h"

#include <ctype.h>
#include <strings.h>

bool copa_blob_eqs_ci(struct copa_blob a, const char *s)
{
	size_t n = strlen(s);

	return a.n == n && (n == 0 || strncasecmp(a.p, s, n) == 0);
}

bool copa_blob_starts(struct copa_blob a, const char *prefix)
{
	size_t n = strlen(prefix);

	return a.n >= n && memcmp(a.p, prefix, n) == 0;
}

bool copa_blob_ends(struct copa_blob a, const char *suffix)
{
	size_t n = strlen(suffix);

	return a.n >= n && memcmp(a.p + a.n - n, suffix, n) == 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

struct copa_blob copa_blob_trim(struct copa_blob b)
{
	while (b.n && is_space(b.p[0])) {
		b.p++;
		b.n--;
	}
	while (b.n && is_space(b.p[b.n - 1]))
		b.n--;
	return b;
}

const char *copa_blob_chr(struct copa_blob b, char c)
{
	return b.n ? memchr(b.p, c, b.n) : NULL;
}

bool copa_blob_split(struct copa_blob *rest, char sep, struct copa_blob *tok)
{
	const char *s;

	if (!rest->p)
		return false;
	s = copa_blob_chr(*rest, sep);
	if (!s) {
		*tok = *rest;
		*rest = COPA_BLOB_NULL;
		return true;
	}
	tok->p = rest->p;
	tok->n = (size_t)(s - rest->p);
	rest->n -= tok->n + 1;
	rest->p = s + 1;
	return true;
}

char *copa_blob_dup(struct copa_blob b)
{
	return copa_xstrndup(b.n ? b.p : "", b.n);
}

int copa_blob_to_u64(struct copa_blob b, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (b.n == 0)
		return -1;
	for (size_t i = 0; i < b.n; i++) {
		unsigned d;

		if (!isdigit((unsigned char)b.p[i]))
			return -1;
		d = (unsigned)(b.p[i] - '0');
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

bool copa_blob_word(struct copa_blob *rest, struct copa_blob *word)
{
	size_t i = 0, j;

	while (i < rest->n && (rest->p[i] == ' ' || rest->p[i] == '\t' || rest->p[i] == '\n' ||
	                       rest->p[i] == '\r'))
		i++;
	if (i == rest->n)
		return false;
	j = i;
	while (j < rest->n && rest->p[j] != ' ' && rest->p[j] != '\t' && rest->p[j] != '\n' &&
	       rest->p[j] != '\r')
		j++;
	*word = copa_blob(rest->p + i, j - i);
	rest->p += j;
	rest->n -= j;
	return true;
}
