/*
 * dpkgfilter.c: dpkg's path filters (see dpkgfilter.h), following dpkg
 * 1.21's lib/dpkg/options.c and src/main/filters.c.
 */
#include "pkg/deb/dpkgfilter.h"

#include "layer/layer.h"
#include "util/blob.h"
#include "util/mem.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILTERS 4096

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool copa_dpkg_filters_valid_name(const char *name)
{
	if (!*name || name[0] == '.')
		return false;
	for (const char *c = name; *c; c++)
		if (!is_alnum(*c) && *c != '_' && *c != '-')
			return false;
	return true;
}

void copa_dpkg_filters_parse(struct copa_dpkg_filters *f, const char *text, size_t len)
{
	struct copa_blob rest = copa_blob(text, len), line;

	while (len && copa_blob_split(&rest, '\n', &line)) {
		const char *p = line.p, *end = line.p + line.n, *name, *val;
		size_t nn, vn;
		bool include;

		while (p < end && is_space(*p))
			p++;
		while (end > p && is_space(end[-1]))
			end--;
		if (p == end || *p == '#')
			continue;
		name = p;
		while (p < end && (is_alnum(*p) || *p == '-'))
			p++;
		nn = (size_t)(p - name);
		if (nn == 12 && !memcmp(name, "path-exclude", 12))
			include = false;
		else if (nn == 12 && !memcmp(name, "path-include", 12))
			include = true;
		else
			continue;
		if (p == end)
			continue; /* dpkg: the option needs a value */
		p++;              /* the separator, ' ' or '=' */
		if (p < end && *p == '=')
			p++;
		while (p < end && is_space(*p))
			p++;
		val = p;
		vn = (size_t)(end - p);
		if (vn && (val[0] == '"' || val[0] == '\'')) {
			if (vn < 2 || val[vn - 1] != val[0])
				continue; /* dpkg: unbalanced quotes, an error */
			val++;
			vn -= 2;
		}
		if (f->n >= MAX_FILTERS)
			return;
		f->v = copa_xgrow(f->v, &f->cap, f->n + 1, sizeof(*f->v));
		f->v[f->n].pattern = copa_xstrndup(val, vn);
		f->v[f->n].include = include;
		f->n++;
	}
}

bool copa_dpkg_filters_skip(const struct copa_dpkg_filters *f, const char *path, uint8_t type)
{
	bool skip = false;

	for (size_t i = 0; i < f->n; i++)
		if (fnmatch(f->v[i].pattern, path, 0) == 0)
			skip = !f->v[i].include;
	if (!skip || (type != COPA_FT_DIR && type != COPA_FT_SYMLINK))
		return skip;
	/* Keep directories (and symlinks) an include pattern may bring files back under. */
	for (size_t i = 0; i < f->n; i++) {
		const char *pat = f->v[i].pattern;
		size_t n;

		if (!f->v[i].include)
			continue;
		n = strcspn(pat, "*?[\\");
		while (n && pat[n - 1] == '/')
			n--;
		if (!strncmp(path, pat, n))
			return false;
	}
	return true;
}

void copa_dpkg_filters_release(struct copa_dpkg_filters *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->v[i].pattern);
	free(f->v);
	memset(f, 0, sizeof(*f));
}
