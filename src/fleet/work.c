/* work.c: tag selection, the job list and shards (see work.h). */
#include "fleet/work.h"

#include "util/mem.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>

bool copa_fleet_tag_version(const char *tag, unsigned long v[4])
{
	const char *s = tag;
	size_t k = 0;

	memset(v, 0, 4 * sizeof(*v));
	if (*s == 'v')
		s++;
	for (;;) {
		size_t digits = 0;
		unsigned long x = 0;

		while (*s >= '0' && *s <= '9') {
			if (++digits > 9)
				return false;
			x = x * 10 + (unsigned long)(*s - '0');
			s++;
		}
		if (digits == 0 || k == 4)
			return false;
		v[k++] = x;
		if (*s == '\0')
			return true;
		if (*s != '.')
			return false;
		s++;
	}
}

int copa_fleet_tag_cmp(const char *a, const char *b)
{
	unsigned long va[4], vb[4];
	bool ha = copa_fleet_tag_version(a, va), hb = copa_fleet_tag_version(b, vb);

	if (ha != hb)
		return ha ? -1 : 1;
	if (ha)
		for (int i = 0; i < 4; i++)
			if (va[i] != vb[i])
				return va[i] < vb[i] ? -1 : 1;
	return strcmp(a, b);
}

static int cmp_tags(const void *a, const void *b)
{
	return copa_fleet_tag_cmp(*(char *const *)a, *(char *const *)b);
}

static bool excluded(const struct copa_fleet_tags *t, const char *tag)
{
	for (size_t i = 0; i < t->nexclude; i++)
		if (!strcmp(t->exclude[i], tag))
			return true;
	return false;
}

char **copa_fleet_select_tags(const struct copa_fleet_image *img, char *const *available,
                              size_t navailable, size_t *n, struct copa_err *err)
{
	const struct copa_fleet_tags *t = &img->tags;
	char **out = copa_xcalloc((t->strategy == COPA_FLEET_LIST ? t->nlist : navailable) + 1,
	                          sizeof(*out));
	regex_t re;
	size_t k = 0;

	*n = 0;
	if (t->strategy == COPA_FLEET_LIST) {
		for (size_t i = 0; i < t->nlist; i++) {
			bool dup = false;

			for (size_t j = 0; j < k; j++)
				dup = dup || !strcmp(out[j], t->list[i]);
			if (!dup && !excluded(t, t->list[i]))
				out[k++] = copa_xstrdup(t->list[i]);
		}
		*n = k;
		return out;
	}
	if (t->strategy == COPA_FLEET_PATTERN &&
	    regcomp(&re, t->pattern, REG_EXTENDED | REG_NOSUB) != 0) {
		free(out);
		copa_err_set(err, COPA_E_INPUT, "%s: bad pattern '%s'", img->name, t->pattern);
		return NULL;
	}
	for (size_t i = 0; i < navailable; i++) {
		unsigned long v[4];

		if (excluded(t, available[i]) || !copa_fleet_tag_version(available[i], v))
			continue;
		if (t->strategy == COPA_FLEET_PATTERN &&
		    regexec(&re, available[i], 0, NULL, 0) != 0)
			continue;
		out[k++] = copa_xstrdup(available[i]);
	}
	if (t->strategy == COPA_FLEET_PATTERN)
		regfree(&re);
	if (k > 1)
		qsort(out, k, sizeof(*out), cmp_tags);
	/* The repository's list has no duplicates, but a hostile registry may send some. */
	for (size_t i = 1; i < k;) {
		if (!strcmp(out[i], out[i - 1])) {
			free(out[i]);
			memmove(&out[i], &out[i + 1], (k - i) * sizeof(*out));
			k--;
		} else {
			i++;
		}
	}
	{
		size_t keep = t->strategy == COPA_FLEET_LATEST ? 1
		              : t->max_tags > 0                ? (size_t)t->max_tags
		                                               : k;
		size_t drop = k > keep ? k - keep : 0;

		for (size_t i = 0; i < drop; i++)
			free(out[i]);
		memmove(out, out + drop, (k - drop + 1) * sizeof(*out));
		k -= drop;
	}
	if (k == 0) {
		free(out);
		copa_err_set(err, COPA_E_NOTFOUND,
		             "%s: no version-like tag of '%s' %s (of %zu tags in the registry)",
		             img->name, img->image,
		             t->strategy == COPA_FLEET_PATTERN ? "matches the pattern" : "is left",
		             navailable);
		return NULL;
	}
	*n = k;
	return out;
}

static char *target_repo(const struct copa_fleet_config *c, const struct copa_fleet_image *img)
{
	const char *reg = img->target.registry ? img->target.registry : c->target.registry;
	const char *last;

	if (!reg)
		return copa_xstrdup(img->image);
	last = strrchr(img->image, '/');
	return copa_xasprintf("%s/%s", reg, last ? last + 1 : img->image);
}

int copa_fleet_jobs_add(struct copa_fleet_jobs *j, const struct copa_fleet_config *c, size_t i,
                        char *const *tags, size_t ntags, struct copa_err *err)
{
	const struct copa_fleet_image *img = &c->images[i];
	const char *tmpl = img->target.tag ? img->target.tag
	                   : c->target.tag ? c->target.tag
	                                   : COPA_FLEET_DEFAULT_TAG;
	_cleanup_free_ char *repo = target_repo(c, img);

	for (size_t k = 0; k < ntags; k++) {
		char *tag = copa_fleet_expand_tag(tmpl, tags[k], err);
		struct copa_fleet_job *job;

		if (!tag)
			return copa_err_wrap(err, "%s:%zu: %s", c->path, img->line, img->name);
		j->v = copa_xgrow(j->v, &j->cap, j->n + 1, sizeof(*j->v));
		job = &j->v[j->n++];
		job->image = i;
		job->source = copa_xasprintf("%s:%s", img->image, tags[k]);
		job->source_tag = copa_xstrdup(tags[k]);
		job->target = copa_xasprintf("%s:%s", repo, tag);
		free(tag);
	}
	return 0;
}

static int cmp_jobs(const void *a, const void *b)
{
	const struct copa_fleet_job *x = a, *y = b;
	int r = strcmp(x->source, y->source);

	return r ? r : strcmp(x->target, y->target);
}

static void job_release(struct copa_fleet_job *job)
{
	free(job->source);
	free(job->source_tag);
	free(job->target);
}

int copa_fleet_jobs_finish(struct copa_fleet_jobs *j, struct copa_err *err)
{
	size_t k = 0;

	if (j->n > 1)
		qsort(j->v, j->n, sizeof(*j->v), cmp_jobs);
	for (size_t i = 0; i < j->n; i++) {
		if (k && !cmp_jobs(&j->v[k - 1], &j->v[i])) {
			job_release(&j->v[i]);
			continue;
		}
		j->v[k++] = j->v[i];
	}
	j->n = k;
	/* Two sources writing one target would race and the last would win: refuse. */
	for (size_t a = 0; a < j->n; a++)
		for (size_t b = a + 1; b < j->n; b++)
			if (!strcmp(j->v[a].target, j->v[b].target))
				return copa_err_set(
				    err, COPA_E_INPUT,
				    "'%s' and '%s' would both be patched into '%s': "
				    "give the images different target tags",
				    j->v[a].source, j->v[b].source, j->v[a].target);
	return 0;
}

void copa_fleet_jobs_shard(struct copa_fleet_jobs *j, unsigned index, unsigned count)
{
	size_t k = 0;

	for (size_t i = 0; i < j->n; i++) {
		if (i % count == index)
			j->v[k++] = j->v[i];
		else
			job_release(&j->v[i]);
	}
	j->n = k;
}

void copa_fleet_jobs_release(struct copa_fleet_jobs *j)
{
	for (size_t i = 0; i < j->n; i++)
		job_release(&j->v[i]);
	free(j->v);
	memset(j, 0, sizeof(*j));
}

static bool parse_uint(const char *s, size_t n, unsigned *out)
{
	unsigned long v = 0;

	if (n == 0 || n > 6)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	*out = (unsigned)v;
	return true;
}

int copa_fleet_shard_parse(const char *s, const char *env_index, unsigned *index, unsigned *count,
                           struct copa_err *err)
{
	const char *slash = strchr(s, '/');

	if (!slash || !parse_uint(slash + 1, strlen(slash + 1), count) || *count == 0)
		return copa_err_set(err, COPA_E_USAGE,
		                    "--shard '%s': expected I/N (0 <= I < N) or auto/N", s);
	if ((size_t)(slash - s) == 4 && !strncmp(s, "auto", 4)) {
		if (!env_index)
			return copa_err_set(
			    err, COPA_E_USAGE,
			    "--shard %s: JOB_COMPLETION_INDEX is not set (auto takes "
			    "the index of a Kubernetes Indexed Job; give I/N elsewhere)",
			    s);
		if (!parse_uint(env_index, strlen(env_index), index))
			return copa_err_set(err, COPA_E_USAGE,
			                    "--shard %s: JOB_COMPLETION_INDEX '%s' is not a number",
			                    s, env_index);
	} else if (!parse_uint(s, (size_t)(slash - s), index)) {
		return copa_err_set(err, COPA_E_USAGE,
		                    "--shard '%s': expected I/N (0 <= I < N) or auto/N", s);
	}
	if (*index >= *count)
		return copa_err_set(err, COPA_E_USAGE,
		                    "--shard: index %u is not below the shard count %u (indexes "
		                    "start at 0)",
		                    *index, *count);
	return 0;
}
