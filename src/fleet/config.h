/*
 * config.h: the bulk patching configuration (`copa patch --config FILE`),
 * the original tool's `copa.sh/v1alpha1` `PatchConfig`, read with libyaml.
 *
 *   apiVersion: copa.sh/v1alpha1
 *   kind: PatchConfig
 *   target: {registry: REGISTRY/PATH, tag: "{{ .SourceTag }}-patched"}
 *   images:
 *     - name: NAME
 *       image: REPOSITORY
 *       tags: {strategy: list|pattern|latest, list: [...], pattern: RE,
 *              maxTags: N, exclude: [...]}
 *       platforms: [linux/amd64, ...]
 *       target: {registry: ..., tag: ...}
 *
 * Owns the schema: unknown keys, wrong types, missing required fields and
 * values copa cannot use (an unknown strategy, a pattern that is not a
 * POSIX extended regular expression, a tag template with another variable
 * than `.SourceTag`) are COPA_E_INPUT errors naming the file, the line and
 * the key. YAML anchors and aliases are refused (they are the way to make a
 * small file expand without bound). Everything is copied out of libyaml;
 * the config owns its strings. Not thread-safe per config.
 */
#ifndef COPA_FLEET_CONFIG_H
#define COPA_FLEET_CONFIG_H

#include "util/err.h"

#include <stddef.h>

/* Caps for hostile files: the file itself is capped by the caller. */
#define COPA_FLEET_MAX_IMAGES 10000
#define COPA_FLEET_MAX_LIST   10000

enum copa_fleet_strategy {
	COPA_FLEET_LIST,    /* the tags given */
	COPA_FLEET_PATTERN, /* registry tags matching a regular expression */
	COPA_FLEET_LATEST,  /* the highest version-like registry tag */
};

struct copa_fleet_tags {
	enum copa_fleet_strategy strategy;
	char **list; /* LIST: the tags, NULL-terminated */
	size_t nlist;
	char *pattern;  /* PATTERN: POSIX extended regular expression */
	long max_tags;  /* PATTERN: keep the highest N; 0: all */
	char **exclude; /* NULL-terminated */
	size_t nexclude;
};

struct copa_fleet_target {
	char *registry; /* NULL: not set here */
	char *tag;      /* a template; NULL: not set here */
};

struct copa_fleet_image {
	char *name;  /* for the summary; defaults to the image */
	char *image; /* the source repository, without tag */
	struct copa_fleet_tags tags;
	char **platforms; /* NULL-terminated; NULL: every platform of the image */
	size_t nplatforms;
	struct copa_fleet_target target; /* overrides of the top-level target */
	size_t line;                     /* where the entry starts, for messages */
};

struct copa_fleet_config {
	char *path; /* the file, as named in messages */
	struct copa_fleet_target target;
	struct copa_fleet_image *images;
	size_t nimages;
};

/* The tag template used when neither the image nor the top level sets one. */
#define COPA_FLEET_DEFAULT_TAG "{{ .SourceTag }}-patched"

/*
 * Parses the YAML text of a config file named `path` (for messages) into c.
 * Errors (COPA_E_INPUT, COPA_E_LIMIT) read "PATH:LINE: KEY: what is wrong".
 * On error c holds nothing.
 */
int copa_fleet_config_parse(struct copa_fleet_config *c, const char *path, const char *text,
                            size_t n, struct copa_err *err);

void copa_fleet_config_release(struct copa_fleet_config *c);

/*
 * Expands a tag template for one source tag: "{{ .SourceTag }}" (spaces
 * inside the braces optional) becomes source_tag. Returns a malloc'd tag, or
 * NULL with COPA_E_INPUT when the template has another variable, an
 * unclosed brace or expands to an invalid tag.
 */
char *copa_fleet_expand_tag(const char *tmpl, const char *source_tag, struct copa_err *err);

#endif
