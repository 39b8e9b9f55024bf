/*
 * summary.c: the patch summary JSON (docs/summary.md).
 */
#include "vex/summary.h"

#include "copa-config.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/outfile.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PACKAGES 100000

static const char *const outcome_names[] = {"updated", "already-fixed", "not-available", "failed",
                                            "skipped"};

const char *copa_outcome_name(enum copa_outcome o)
{
	switch (o) {
	case COPA_OUTCOME_UPDATED:
	case COPA_OUTCOME_ALREADY_FIXED:
	case COPA_OUTCOME_NOT_AVAILABLE:
	case COPA_OUTCOME_FAILED:
	case COPA_OUTCOME_SKIPPED:
		return outcome_names[o];
	}
	return "failed";
}

int copa_outcome_parse(const char *s, enum copa_outcome *out)
{
	for (size_t i = 0; s && i < COPA_ARRAY_SIZE(outcome_names); i++)
		if (!strcmp(s, outcome_names[i])) {
			*out = (enum copa_outcome)i;
			return 0;
		}
	return -1;
}

bool copa_outcome_fixes(enum copa_outcome o)
{
	return o == COPA_OUTCOME_UPDATED || o == COPA_OUTCOME_ALREADY_FIXED;
}

struct copa_summary *copa_summary_new(void)
{
	return copa_xcalloc(1, sizeof(struct copa_summary));
}

void copa_summary_free(struct copa_summary *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_platforms; i++) {
		free(s->platforms[i]->pkgs);
		free(s->platforms[i]->unfixable);
		free(s->platforms[i]);
	}
	free(s->platforms);
	copa_arena_release(&s->arena);
	free(s);
}

static const char *dup_or_null(struct copa_summary *s, const char *v)
{
	return v ? copa_arena_strdup(&s->arena, v) : NULL;
}

void copa_summary_set_input(struct copa_summary *s, const char *ref, const char *digest)
{
	s->input_ref = dup_or_null(s, ref);
	s->input_digest = dup_or_null(s, digest);
}

void copa_summary_set_output(struct copa_summary *s, const char *ref, const char *digest)
{
	s->output_ref = dup_or_null(s, ref);
	s->output_digest = dup_or_null(s, digest);
}

struct copa_summary_platform *copa_summary_add_manifest(struct copa_summary *s,
                                                        const struct copa_update_manifest *m)
{
	struct copa_summary_platform *p = copa_xcalloc(1, sizeof(*p));
	struct copa_buf plat = COPA_BUF_INIT;

	copa_update_manifest_platform(m, &plat);
	p->platform = copa_arena_strdup(&s->arena, copa_buf_str(&plat));
	copa_buf_release(&plat);
	p->arch = copa_arena_strdup(&s->arena, m->arch);
	p->variant = copa_arena_strdup(&s->arena, m->variant);
	p->os_type = copa_arena_strdup(&s->arena, m->os_type);
	p->os_version = copa_arena_strdup(&s->arena, m->os_version);
	p->os_purl_ns = m->os ? m->os->purl_ns : m->os_type;
	p->fam = m->fam;
	for (size_t i = 0; i < m->n_unfixable; i++) {
		struct copa_unfixable_finding *f;

		p->unfixable = copa_xgrow(p->unfixable, &p->cap_unfixable, p->n_unfixable + 1,
		                          sizeof(*p->unfixable));
		f = &p->unfixable[p->n_unfixable++];
		f->name = copa_arena_strdup(&s->arena, m->unfixable[i].name);
		f->installed = copa_arena_strdup(&s->arena, m->unfixable[i].installed);
		f->vuln_id = copa_arena_strdup(&s->arena, m->unfixable[i].vuln_id);
	}
	s->platforms = copa_xrealloc(s->platforms, (s->n_platforms + 1) * sizeof(*s->platforms));
	s->platforms[s->n_platforms++] = p;
	return p;
}

void copa_summary_platform_set_name(struct copa_summary *s, struct copa_summary_platform *p,
                                    const char *platform)
{
	if (platform && *platform)
		p->platform = copa_arena_strdup(&s->arena, platform);
}

void copa_summary_platform_digests(struct copa_summary *s, struct copa_summary_platform *p,
                                   const char *input_digest, const char *output_digest)
{
	p->input_digest = dup_or_null(s, input_digest);
	p->output_digest = dup_or_null(s, output_digest);
}

static const char **dup_list(struct copa_summary *s, const char *const *v, size_t n)
{
	const char **out;

	if (!n)
		return NULL;
	out = copa_arena_alloc(&s->arena, n * sizeof(*out));
	for (size_t i = 0; i < n; i++)
		out[i] = copa_arena_strdup(&s->arena, v[i] ? v[i] : "");
	return out;
}

void copa_summary_platform_error(struct copa_summary *s, struct copa_summary_platform *p,
                                 const char *msg)
{
	p->error = copa_arena_strdup(&s->arena, msg && *msg ? msg : "cannot be patched");
}

/* "error", "patched" (a new manifest was written for it) or "unchanged". */
static const char *platform_status(const struct copa_summary_platform *p)
{
	if (p->error)
		return "error";
	if (p->output_digest && p->input_digest && strcmp(p->output_digest, p->input_digest) != 0)
		return "patched";
	return "unchanged";
}

int copa_summary_add_package(struct copa_summary *s, struct copa_summary_platform *p,
                             const struct copa_pkg_result *r, struct copa_err *err)
{
	struct copa_pkg_outcome *o;

	if (!r->name || !*r->name)
		return copa_err_set(err, COPA_E_BUG, "summary: package result without a name");
	if (p->n_pkgs >= MAX_PACKAGES)
		return copa_err_set(err, COPA_E_LIMIT, "summary: more than %d packages",
		                    MAX_PACKAGES);
	if ((unsigned)r->outcome > COPA_OUTCOME_SKIPPED)
		return copa_err_set(err, COPA_E_BUG, "summary: invalid outcome %d",
		                    (int)r->outcome);
	p->pkgs = copa_xgrow(p->pkgs, &p->cap_pkgs, p->n_pkgs + 1, sizeof(*p->pkgs));
	o = &p->pkgs[p->n_pkgs++];
	o->name = copa_arena_strdup(&s->arena, r->name);
	o->arch = dup_or_null(s, r->arch);
	o->installed_before = dup_or_null(s, r->installed_before);
	o->requested = dup_or_null(s, r->requested);
	o->chosen = dup_or_null(s, r->chosen);
	o->installed = dup_or_null(s, r->installed);
	o->reason = dup_or_null(s, r->reason && *r->reason ? r->reason : NULL);
	o->outcome = r->outcome;
	o->vuln_ids = dup_list(s, r->vuln_ids, r->n_vuln_ids);
	o->n_vuln_ids = r->n_vuln_ids;
	o->skipped_scripts = dup_list(s, r->skipped_scripts, r->n_skipped_scripts);
	o->n_skipped_scripts = r->n_skipped_scripts;
	return 0;
}

void copa_summary_platform_counts(const struct copa_summary_platform *p,
                                  struct copa_summary_counts *c)
{
	memset(c, 0, sizeof(*c));
	c->not_fixable = p->n_unfixable;
	for (size_t i = 0; i < p->n_pkgs; i++) {
		const struct copa_pkg_outcome *o = &p->pkgs[i];

		c->pkgs[o->outcome]++;
		if (copa_outcome_fixes(o->outcome))
			c->fixed += o->n_vuln_ids;
		else
			c->failed += o->n_vuln_ids;
	}
}

static json_t *str_or_null(const char *v)
{
	json_t *j = v ? json_string(v) : NULL;

	return j ? j : json_null();
}

static json_t *image_json(bool with_ref, const char *ref, const char *digest)
{
	json_t *o = json_object();

	if (with_ref)
		json_object_set_new(o, "ref", str_or_null(ref));
	json_object_set_new(o, "digest", str_or_null(digest));
	return o;
}

static json_t *list_json(const char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, str_or_null(v[i]));
	return a;
}

static json_t *counts_json(const struct copa_summary_counts *c)
{
	json_t *o = json_object(), *v = json_object(), *p = json_object();

	json_object_set_new(v, "fixed", json_integer((json_int_t)c->fixed));
	json_object_set_new(v, "notFixableYet", json_integer((json_int_t)c->not_fixable));
	json_object_set_new(v, "failed", json_integer((json_int_t)c->failed));
	for (size_t i = 0; i < COPA_ARRAY_SIZE(outcome_names); i++)
		json_object_set_new(p, outcome_names[i], json_integer((json_int_t)c->pkgs[i]));
	json_object_set_new(o, "vulnerabilities", v);
	json_object_set_new(o, "packages", p);
	return o;
}

static json_t *platform_json(const struct copa_summary_platform *p,
                             struct copa_summary_counts *total)
{
	json_t *o = json_object(), *os = json_object(), *pkgs = json_array(), *unf = json_array();
	struct copa_summary_counts c;

	json_object_set_new(o, "platform", json_string(p->platform));
	json_object_set_new(os, "type", json_string(p->os_type));
	json_object_set_new(os, "version", json_string(p->os_version));
	json_object_set_new(o, "os", os);
	json_object_set_new(o, "input", image_json(false, NULL, p->input_digest));
	json_object_set_new(o, "output", image_json(false, NULL, p->output_digest));
	json_object_set_new(o, "status", json_string(platform_status(p)));
	json_object_set_new(o, "error", str_or_null(p->error));
	for (size_t i = 0; i < p->n_pkgs; i++) {
		const struct copa_pkg_outcome *r = &p->pkgs[i];
		json_t *j = json_object();

		json_object_set_new(j, "name", json_string(r->name));
		json_object_set_new(j, "arch", str_or_null(r->arch));
		json_object_set_new(j, "installedBefore", str_or_null(r->installed_before));
		json_object_set_new(j, "requestedVersion", str_or_null(r->requested));
		json_object_set_new(j, "chosenVersion", str_or_null(r->chosen));
		json_object_set_new(j, "installedVersion", str_or_null(r->installed));
		json_object_set_new(j, "outcome", json_string(copa_outcome_name(r->outcome)));
		json_object_set_new(j, "reason", str_or_null(r->reason));
		json_object_set_new(j, "vulnerabilities",
		                    list_json((const char *const *)r->vuln_ids, r->n_vuln_ids));
		json_object_set_new(
		    j, "skippedScripts",
		    list_json((const char *const *)r->skipped_scripts, r->n_skipped_scripts));
		json_array_append_new(pkgs, j);
	}
	json_object_set_new(o, "packages", pkgs);
	for (size_t i = 0; i < p->n_unfixable; i++) {
		json_t *j = json_object();

		json_object_set_new(j, "name", json_string(p->unfixable[i].name));
		json_object_set_new(j, "installedVersion", json_string(p->unfixable[i].installed));
		json_object_set_new(j, "vulnerability", json_string(p->unfixable[i].vuln_id));
		json_array_append_new(unf, j);
	}
	json_object_set_new(o, "notFixableYet", unf);
	copa_summary_platform_counts(p, &c);
	json_object_set_new(o, "counts", counts_json(&c));
	total->fixed += c.fixed;
	total->not_fixable += c.not_fixable;
	total->failed += c.failed;
	for (size_t i = 0; i < COPA_ARRAY_SIZE(c.pkgs); i++)
		total->pkgs[i] += c.pkgs[i];
	return o;
}

int copa_summary_render(const struct copa_summary *s, struct copa_buf *out, struct copa_err *err)
{
	json_t *doc = json_object(), *plats = json_array();
	struct copa_summary_counts total = {0};
	int r;

	json_object_set_new(doc, "summaryVersion", json_integer(1));
	json_object_set_new(doc, "tool", json_string("copa " COPA_VERSION));
	json_object_set_new(doc, "input", image_json(true, s->input_ref, s->input_digest));
	json_object_set_new(doc, "output", image_json(true, s->output_ref, s->output_digest));
	for (size_t i = 0; i < s->n_platforms; i++)
		json_array_append_new(plats, platform_json(s->platforms[i], &total));
	json_object_set_new(doc, "platforms", plats);
	json_object_set_new(doc, "counts", counts_json(&total));
	r = copa_json_dump(doc, 2, out, err);
	json_decref(doc);
	if (r < 0)
		return copa_err_wrap(err, "summary");
	copa_buf_addc(out, '\n');
	return 0;
}

int copa_summary_write(const struct copa_summary *s, const char *path, struct copa_err *err)
{
	struct copa_buf b;
	int r;

	copa_buf_init(&b, 512u * 1024 * 1024);
	r = copa_summary_render(s, &b, err);
	if (r == 0 && copa_outfile_write(path, b.p, b.len, err) < 0)
		r = copa_err_wrap(err, "cannot write summary '%s'", path);
	copa_buf_release(&b);
	return r;
}
