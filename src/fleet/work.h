/*
 * work.h: from a bulk configuration and the tags each source repository
 * has, the list of patch jobs, and the part of it one shard runs.
 *
 * Owns the tag strategies (list as given; pattern: registry tags matching
 * the expression that are version-like, highest `maxTags` kept; latest: the
 * highest version-like tag; `exclude` drops tags in every strategy), the
 * version order of tags, the target reference of a job (the image's or the
 * top-level target registry plus the source repository's last path
 * component, or the source repository itself; the tag template expanded),
 * and sharding: the job list is sorted by source and target reference, so
 * the same config and registry state give every shard the same list, and
 * shard I of N takes every job whose position modulo N is I.
 *
 * Pure: no I/O (the caller lists the tags). Results are owned by the list.
 */
#ifndef COPA_FLEET_WORK_H
#define COPA_FLEET_WORK_H

#include "fleet/config.h"
#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * A version-like tag: an optional 'v', then one to four dot-separated
 * decimal numbers (each at most 9 digits) and nothing else. Fills v (missing
 * components 0) and returns true, else false.
 */
bool copa_fleet_tag_version(const char *tag, unsigned long v[4]);

/* Orders tags by version (version-like before others; equal versions by text). */
int copa_fleet_tag_cmp(const char *a, const char *b);

/*
 * The tags an image entry selects from `available` (the repository's tags;
 * unused for strategy list). Returns a malloc'd NULL-terminated array of
 * malloc'd tags in ascending version order (list: as given, duplicates
 * dropped) and sets *n. Tags that are not version-like are never selected
 * by pattern or latest. COPA_E_NOTFOUND when pattern or latest selects
 * nothing.
 */
char **copa_fleet_select_tags(const struct copa_fleet_image *img, char *const *available,
                              size_t navailable, size_t *n, struct copa_err *err);

struct copa_fleet_job {
	size_t image;     /* index into the config's images */
	char *source;     /* "REPO:TAG" */
	char *source_tag; /* "TAG" */
	char *target;     /* "REPO:TAG" the patched image goes to */
};

struct copa_fleet_jobs {
	struct copa_fleet_job *v;
	size_t n, cap;
};

/*
 * Adds the jobs of image entry i for its selected tags. COPA_E_INPUT when
 * a target tag template fails for a tag.
 */
int copa_fleet_jobs_add(struct copa_fleet_jobs *j, const struct copa_fleet_config *c, size_t i,
                        char *const *tags, size_t ntags, struct copa_err *err);

/*
 * Sorts the list into its canonical order and drops exact duplicates;
 * COPA_E_INPUT when two different sources would write the same target.
 */
int copa_fleet_jobs_finish(struct copa_fleet_jobs *j, struct copa_err *err);

/* Keeps only shard `index` of `count` (0 <= index < count). */
void copa_fleet_jobs_shard(struct copa_fleet_jobs *j, unsigned index, unsigned count);

void copa_fleet_jobs_release(struct copa_fleet_jobs *j);

/*
 * Parses a --shard value "I/N" (0-based I) or "auto/N", where I comes from
 * the environment value `env_index` (JOB_COMPLETION_INDEX of a Kubernetes
 * Indexed Job; NULL when unset). COPA_E_USAGE naming the problem.
 */
int copa_fleet_shard_parse(const char *s, const char *env_index, unsigned *index, unsigned *count,
                           struct copa_err *err);

#endif
