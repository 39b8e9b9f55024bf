/* config.c: the bulk patching configuration (see config.h). */
#include "fleet/config.h"

#include "util/buf.h"
#include "util/mem.h"

#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Events of one file, a bound on what a hostile file makes the parser do. */
#define FLEET_MAX_EVENTS 1000000

struct ctx {
	struct copa_fleet_config *c;
	yaml_document_t *doc;
	struct copa_err *err;
};

static size_t line_of(const yaml_node_t *n)
{
	return n->start_mark.line + 1;
}

static int fail(struct ctx *x, const yaml_node_t *n, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct ctx *x, const yaml_node_t *n, const char *key, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return copa_err_set(x->err, COPA_E_INPUT, "%s:%zu: %s%s%s", x->c->path, line_of(n),
	                    key ? key : "", key ? ": " : "", msg);
}

static const char *kind_str(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return "a value";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_NO_NODE:
		break;
	}
	return "nothing";
}

/* A plain empty, `~` or `null` scalar: the key is present but says nothing. */
static bool is_null(const yaml_node_t *n)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = (const char *)n->data.scalar.value;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

static int get_str(struct ctx *x, const yaml_node_t *n, const char *key, char **out)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE)
		return fail(x, n, key, "expected a string, found %s", kind_str(n));
	v = (const char *)n->data.scalar.value;
	if (strlen(v) != n->data.scalar.length)
		return fail(x, n, key, "the value contains a NUL byte");
	free(*out);
	*out = copa_xstrdup(v);
	return 0;
}

static int get_long(struct ctx *x, const yaml_node_t *n, const char *key, long *out)
{
	const char *v;
	char *end;
	long l;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return fail(x, n, key, "expected a number, found %s",
		            n->type == YAML_SCALAR_NODE ? "a quoted string" : kind_str(n));
	v = (const char *)n->data.scalar.value;
	l = strtol(v, &end, 10);
	if (end == v || *end || l < 0 || l > 1000000)
		return fail(x, n, key, "expected a number from 0 to 1000000, found '%s'", v);
	*out = l;
	return 0;
}

/* A list of strings, NULL-terminated. */
static int get_strs(struct ctx *x, const yaml_node_t *n, const char *key, char ***out, size_t *nout)
{
	size_t len;

	if (n->type != YAML_SEQUENCE_NODE)
		return fail(x, n, key, "expected a list, found %s", kind_str(n));
	len = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (len > COPA_FLEET_MAX_LIST)
		return copa_err_set(x->err, COPA_E_LIMIT, "%s:%zu: %s: more than %d entries",
		                    x->c->path, line_of(n), key, COPA_FLEET_MAX_LIST);
	*out = copa_xcalloc(len + 1, sizeof(**out));
	*nout = 0;
	for (size_t i = 0; i < len; i++) {
		yaml_node_t *it = yaml_document_get_node(x->doc, n->data.sequence.items.start[i]);

		if (!it || get_str(x, it, key, &(*out)[i]) < 0)
			return it ? -1 : fail(x, n, key, "broken list");
		(*nout)++; /* counted before any check: the release frees it */
		if (!*(*out)[i])
			return fail(x, it, key, "an empty entry");
	}
	return 0;
}

typedef int (*field_fn)(struct ctx *x, void *obj, const char *key, const yaml_node_t *val);

struct field {
	const char *key;
	field_fn fn;
};

/* Walks a mapping: every key must be one of fields, at most once. */
static int walk(struct ctx *x, const yaml_node_t *n, const char *what, const struct field *fields,
                void *obj)
{
	bool seen[16] = {0};

	if (n->type != YAML_MAPPING_NODE)
		return fail(x, n, what, "expected a mapping, found %s", kind_str(n));
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(x->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(x->doc, p->value);
		const char *key;
		size_t i;

		if (!k || !v)
			return fail(x, n, what, "broken mapping");
		if (k->type != YAML_SCALAR_NODE)
			return fail(x, k, what, "a key must be a string, found %s", kind_str(k));
		key = (const char *)k->data.scalar.value;
		for (i = 0; fields[i].key; i++)
			if (!strcmp(fields[i].key, key))
				break;
		if (!fields[i].key) {
			struct copa_buf known = COPA_BUF_INIT;
			int r;

			for (size_t j = 0; fields[j].key; j++)
				copa_buf_addf(&known, "%s%s", j ? ", " : "", fields[j].key);
			r = fail(x, k, key, "unknown key%s%s (known here: %s)", what ? " in " : "",
			         what ? what : "", copa_buf_str(&known));
			copa_buf_release(&known);
			return r;
		}
		if (seen[i])
			return fail(x, k, key, "given twice");
		seen[i] = true;
		if (is_null(v))
			continue;
		if (fields[i].fn(x, obj, key, v) < 0)
			return -1;
	}
	return 0;
}

/* ---- target ---- */

static int f_target_registry(struct ctx *x, void *obj, const char *key, const yaml_node_t *v)
{
	struct copa_fleet_target *t = obj;

	if (get_str(x, v, key, &t->registry) < 0)
		return -1;
	while (*t->registry && t->registry[strlen(t->registry) - 1] == '/')
		t->registry[strlen(t->registry) - 1] = '\0';
	if (!*t->registry || strpbrk(t->registry, " \t:@") == t->registry)
		return fail(x, v, key, "'%s' is not a registry or repository", t->registry);
	return 0;
}

static int f_target_tag(struct ctx *x, void *obj, const char *key, const yaml_node_t *v)
{
	struct copa_fleet_target *t = obj;
	char *probe;

	if (get_str(x, v, key, &t->tag) < 0)
		return -1;
	/* Checked now with a sample tag, so a bad template fails before any work. */
	probe = copa_fleet_expand_tag(t->tag, "1.0", x->err);
	if (!probe)
		return fail(x, v, key, "%s", x->err->msg);
	free(probe);
	return 0;
}

static const struct field target_fields[] = {
    {"registry", f_target_registry},
    {"tag", f_target_tag},
    {NULL, NULL},
};

static int f_target(struct ctx *x, void *obj, const char *key, const yaml_node_t *v)
{
	return walk(x, v, key, target_fields, obj);
}

/* ---- tags ---- */

static int f_strategy(struct ctx *x, void *obj, const char *key, const yaml_node_t *v)
{
	struct copa_fleet_tags *t = obj;
	_cleanup_free_ char *s = NULL;

	if (get_str(x, v, key, &s) < 0)
		return -1;
	if (!strcmp(s, "list"))
		t->strategy = COPA_FLEET_LIST;
	else if (!strcmp(s, "pattern"))
		t->strategy = COPA_FLEET_PATTERN;
	else if (!strcmp(s, "latest"))
		t->strategy = COPA_FLEET_LATEST;
	else
		return fail(x, v, key, "unknown strategy '%s' (list, pattern or latest)", s);
	return 0;
}

static int f_list(struct ctx *x, void *obj, const char *key, const yaml_node_t *v)
{
	struct copa_fleet_tags *t = obj;

	return get_strs(x, v, key, &t->list, &t->nlist);
}

static int f_pattern(struct ctx *x, void *obj, const char *key, const yaml_node_t *v)
{
	struct copa_fleet_tags *t = obj;
	regex_t re;
	int r;

	if (get_str(x, v, key, &t->pattern) < 0)
		return -1;
	r = regcomp(&re, t->pattern, REG_EXTENDED | REG_NOSUB);
	if (r != 0) {
		char msg[128];

		regerror(r, &re, msg, sizeof(msg));
		return fail(x, v, key, "'%s' is not a POSIX extended regular expression: %s",
		            t->pattern, msg);
	}
	regfree(&re);
	return 0;
}

static int f_max_tags(struct ctx *x, void *obj, const char *key, const yaml_node_t *v)
{
	struct copa_fleet_tags *t = obj;

	return get_long(x, v, key, &t->max_tags);
}

static int f_exclude(struct ctx *x, void *obj, const char *key, const yaml_node_t *v)
{
	struct copa_fleet_tags *t = obj;

	return get_strs(x, v, key, &t->exclude, &t->nexclude);
}

static const struct field tags_fields[] = {
    {"strategy", f_strategy}, {"list", f_list},       {"pattern", f_pattern},
    {"maxTags", f_max_tags},  {"exclude", f_exclude}, {NULL, NULL},
};

/* ---- images ---- */

struct image_ctx {
	struct copa_fleet_image *img;
	bool have_tags;
	const yaml_node_t *tags_node;
};

static int f_name(struct ctx *x, void *obj, const char *key, const yaml_node_t *v)
{
	return get_str(x, v, key, &((struct image_ctx *)obj)->img->name);
}

static int f_image(struct ctx *x, void *obj, const char *key, const yaml_node_t *v)
{
	struct copa_fleet_image *img = ((struct image_ctx *)obj)->img;
	const char *slash, *colon;

	if (get_str(x, v, key, &img->image) < 0)
		return -1;
	slash = strrchr(img->image, '/');
	colon = strrchr(img->image, ':');
	if (!*img->image || strchr(img->image, '@') || (colon && (!slash || colon > slash)) ||
	    strpbrk(img->image, " \t"))
		return fail(
		    x, v, key,
		    "'%s' must be a repository without tag or digest (tags go under 'tags')",
		    img->image);
	return 0;
}

static int f_tags(struct ctx *x, void *obj, const char *key, const yaml_node_t *v)
{
	struct image_ctx *ic = obj;

	ic->have_tags = true;
	ic->tags_node = v;
	return walk(x, v, key, tags_fields, &ic->img->tags);
}

static int f_platforms(struct ctx *x, void *obj, const char *key, const yaml_node_t *v)
{
	struct copa_fleet_image *img = ((struct image_ctx *)obj)->img;

	if (get_strs(x, v, key, &img->platforms, &img->nplatforms) < 0)
		return -1;
	for (size_t i = 0; i < img->nplatforms; i++)
		if (!strchr(img->platforms[i], '/'))
			return fail(x, v, key, "'%s' is not a platform (os/arch[/variant])",
			            img->platforms[i]);
	return 0;
}

static int f_image_target(struct ctx *x, void *obj, const char *key, const yaml_node_t *v)
{
	return walk(x, v, key, target_fields, &((struct image_ctx *)obj)->img->target);
}

static const struct field image_fields[] = {
    {"name", f_name},           {"image", f_image},         {"tags", f_tags},
    {"platforms", f_platforms}, {"target", f_image_target}, {NULL, NULL},
};

static int parse_image(struct ctx *x, const yaml_node_t *n, struct copa_fleet_image *img)
{
	struct image_ctx ic = {.img = img};
	const struct copa_fleet_tags *t = &img->tags;

	img->line = line_of(n);
	if (walk(x, n, "images", image_fields, &ic) < 0)
		return -1;
	if (!img->image)
		return fail(x, n, "images", "an entry without 'image'");
	if (!img->name)
		img->name = copa_xstrdup(img->image);
	if (!ic.have_tags)
		return fail(x, n, img->name,
		            "no 'tags' (give a strategy: list, pattern or latest)");
	if (t->strategy == COPA_FLEET_LIST && t->nlist == 0)
		return fail(x, ic.tags_node, "tags", "strategy 'list' needs a non-empty 'list'");
	if (t->strategy != COPA_FLEET_LIST && t->nlist)
		return fail(x, ic.tags_node, "tags", "'list' is only for strategy 'list'");
	if (t->strategy == COPA_FLEET_PATTERN && !t->pattern)
		return fail(x, ic.tags_node, "tags", "strategy 'pattern' needs a 'pattern'");
	if (t->strategy != COPA_FLEET_PATTERN && (t->pattern || t->max_tags))
		return fail(x, ic.tags_node, "tags",
		            "'pattern' and 'maxTags' are only for strategy 'pattern'");
	return 0;
}

static int f_images(struct ctx *x, void *obj, const char *key, const yaml_node_t *v)
{
	struct copa_fleet_config *c = obj;
	size_t len;

	(void)key;
	if (v->type != YAML_SEQUENCE_NODE)
		return fail(x, v, "images", "expected a list, found %s", kind_str(v));
	len = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (len > COPA_FLEET_MAX_IMAGES)
		return copa_err_set(x->err, COPA_E_LIMIT, "%s:%zu: images: more than %d entries",
		                    c->path, line_of(v), COPA_FLEET_MAX_IMAGES);
	c->images = copa_xcalloc(len + 1, sizeof(*c->images));
	for (size_t i = 0; i < len; i++) {
		yaml_node_t *it = yaml_document_get_node(x->doc, v->data.sequence.items.start[i]);

		c->nimages++;
		if (!it)
			return fail(x, v, "images", "broken list");
		if (parse_image(x, it, &c->images[i]) < 0)
			return -1;
	}
	return 0;
}

struct top {
	struct copa_fleet_config *c;
	char *api, *kind;
};

static int f_api(struct ctx *x, void *obj, const char *key, const yaml_node_t *v)
{
	struct top *t = obj;

	if (get_str(x, v, key, &t->api) < 0)
		return -1;
	if (strcmp(t->api, "copa.sh/v1alpha1") != 0)
		return fail(x, v, key, "'%s' is not supported (copa.sh/v1alpha1)", t->api);
	return 0;
}

static int f_kind(struct ctx *x, void *obj, const char *key, const yaml_node_t *v)
{
	struct top *t = obj;

	if (get_str(x, v, key, &t->kind) < 0)
		return -1;
	if (strcmp(t->kind, "PatchConfig") != 0)
		return fail(x, v, key, "'%s' is not a PatchConfig", t->kind);
	return 0;
}

static int f_top_target(struct ctx *x, void *obj, const char *key, const yaml_node_t *v)
{
	return f_target(x, &((struct top *)obj)->c->target, key, v);
}

static int f_top_images(struct ctx *x, void *obj, const char *key, const yaml_node_t *v)
{
	return f_images(x, ((struct top *)obj)->c, key, v);
}

static const struct field top_fields[] = {
    {"apiVersion", f_api},    {"kind", f_kind}, {"target", f_top_target},
    {"images", f_top_images}, {NULL, NULL},
};

/* Refuses aliases and more than one document before the loader builds anything. */
static int prescan(const char *path, const char *text, size_t n, struct copa_err *err)
{
	yaml_parser_t p;
	yaml_event_t ev;
	size_t events = 0, docs = 0;
	int rc = 0;

	if (!yaml_parser_initialize(&p))
		return copa_err_set(err, COPA_E_BUG, "libyaml: out of memory");
	yaml_parser_set_input_string(&p, (const unsigned char *)text, n);
	for (;;) {
		if (!yaml_parser_parse(&p, &ev)) {
			rc = copa_err_set(err, COPA_E_INPUT, "%s:%zu: not valid YAML: %s", path,
			                  p.problem_mark.line + 1, p.problem ? p.problem : "error");
			break;
		}
		if (ev.type == YAML_ALIAS_EVENT)
			rc = copa_err_set(
			    err, COPA_E_INPUT,
			    "%s:%zu: YAML aliases (*name) are not supported in a config", path,
			    ev.start_mark.line + 1);
		else if (ev.type == YAML_DOCUMENT_START_EVENT && ++docs > 1)
			rc = copa_err_set(
			    err, COPA_E_INPUT,
			    "%s:%zu: more than one YAML document (one PatchConfig per file)", path,
			    ev.start_mark.line + 1);
		else if (++events > FLEET_MAX_EVENTS)
			rc = copa_err_set(err, COPA_E_LIMIT, "%s: more than %d YAML events", path,
			                  FLEET_MAX_EVENTS);
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		yaml_event_delete(&ev);
		if (rc < 0)
			break;
	}
	yaml_parser_delete(&p);
	return rc;
}

int copa_fleet_config_parse(struct copa_fleet_config *c, const char *path, const char *text,
                            size_t n, struct copa_err *err)
{
	yaml_parser_t p;
	yaml_document_t doc;
	struct top t = {.c = c};
	struct ctx x = {.c = c, .doc = &doc, .err = err};
	yaml_node_t *root;
	int rc;

	memset(c, 0, sizeof(*c));
	c->path = copa_xstrdup(path);
	if (prescan(path, text, n, err) < 0) {
		copa_fleet_config_release(c);
		return -1;
	}
	if (!yaml_parser_initialize(&p))
		return copa_err_set(err, COPA_E_BUG, "libyaml: out of memory");
	yaml_parser_set_input_string(&p, (const unsigned char *)text, n);
	if (!yaml_parser_load(&p, &doc)) {
		rc = copa_err_set(err, COPA_E_INPUT, "%s:%zu: not valid YAML: %s", path,
		                  p.problem_mark.line + 1, p.problem ? p.problem : "error");
		yaml_parser_delete(&p);
		copa_fleet_config_release(c);
		return rc;
	}
	root = yaml_document_get_root_node(&doc);
	if (!root)
		rc = copa_err_set(err, COPA_E_INPUT, "%s: empty file (expected a PatchConfig)",
		                  path);
	else
		rc = walk(&x, root, NULL, top_fields, &t);
	if (rc == 0 && !t.api)
		rc = copa_err_set(err, COPA_E_INPUT, "%s:1: apiVersion: missing (copa.sh/v1alpha1)",
		                  path);
	if (rc == 0 && !t.kind)
		rc = copa_err_set(err, COPA_E_INPUT, "%s:1: kind: missing (PatchConfig)", path);
	if (rc == 0 && c->nimages == 0)
		rc = copa_err_set(err, COPA_E_INPUT, "%s:1: images: missing or empty", path);
	free(t.api);
	free(t.kind);
	yaml_document_delete(&doc);
	yaml_parser_delete(&p);
	if (rc < 0)
		copa_fleet_config_release(c);
	return rc < 0 ? -1 : 0;
}

static void target_release(struct copa_fleet_target *t)
{
	free(t->registry);
	free(t->tag);
}

void copa_fleet_config_release(struct copa_fleet_config *c)
{
	for (size_t i = 0; i < c->nimages; i++) {
		struct copa_fleet_image *img = &c->images[i];

		free(img->name);
		free(img->image);
		copa_strv_free(img->tags.list);
		free(img->tags.pattern);
		copa_strv_free(img->tags.exclude);
		copa_strv_free(img->platforms);
		target_release(&img->target);
	}
	free(c->images);
	target_release(&c->target);
	free(c->path);
	memset(c, 0, sizeof(*c));
}

static bool tag_valid(const char *t)
{
	size_t n = strlen(t);

	if (n == 0 || n > 128 || t[0] == '.' || t[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = t[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
			return false;
	}
	return true;
}

char *copa_fleet_expand_tag(const char *tmpl, const char *source_tag, struct copa_err *err)
{
	struct copa_buf b = COPA_BUF_INIT;
	const char *s = tmpl;

	while (*s) {
		const char *open = strstr(s, "{{"), *close, *v, *ve;

		if (!open) {
			copa_buf_add(&b, s, strlen(s));
			break;
		}
		copa_buf_add(&b, s, (size_t)(open - s));
		close = strstr(open + 2, "}}");
		if (!close) {
			copa_buf_release(&b);
			copa_err_set(err, COPA_E_INPUT, "tag template '%s': '{{' without '}}'",
			             tmpl);
			return NULL;
		}
		for (v = open + 2; *v == ' '; v++)
			;
		for (ve = close; ve > v && ve[-1] == ' '; ve--)
			;
		if ((size_t)(ve - v) != strlen(".SourceTag") || strncmp(v, ".SourceTag", 10) != 0) {
			copa_err_set(err, COPA_E_INPUT,
			             "tag template '%s': unknown variable '%.*s' (only .SourceTag)",
			             tmpl, (int)(ve - v), v);
			copa_buf_release(&b);
			return NULL;
		}
		copa_buf_add(&b, source_tag, strlen(source_tag));
		s = close + 2;
	}
	if (!tag_valid(copa_buf_str(&b))) {
		copa_err_set(err, COPA_E_INPUT,
		             "tag template '%s' gives '%s', which is not a valid tag "
		             "([A-Za-z0-9_][A-Za-z0-9_.-], at most 128)",
		             tmpl, copa_buf_str(&b));
		copa_buf_release(&b);
		return NULL;
	}
	return copa_buf_detach(&b, NULL);
}
