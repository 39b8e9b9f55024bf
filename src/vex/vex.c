/*
 * vex.c: OpenVEX v0.2.0 documents.
 */
#include "vex/vex.h"

#include "copa-config.h"
#include "util/arena.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/outfile.h"
#include "util/strmap.h"
#include "vex/purl.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_STATEMENTS 1000000

struct vex_product {
	const char *id;
	const char **subs;
	size_t n_subs, cap_subs;
};

struct vex_stmt {
	const char *vuln;
	struct vex_product *products;
	size_t n_products, cap_products;
};

struct copa_vex {
	struct copa_arena arena;
	const char *author, *role, *tooling;
	long long timestamp;
	struct vex_stmt *stmts;
	size_t n_stmts, cap_stmts;
	struct copa_strmap by_vuln; /* vuln -> statement index */
	struct copa_strmap seen;    /* "vuln\nproduct[\ncomponent]" -> 1 (dedupe) */
};

static bool bad_text(const char *s, size_t max)
{
	size_t n = 0;

	if (!s || !*s)
		return true;
	for (; *s; s++, n++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || n >= max)
			return true;
	return false;
}

struct copa_vex *copa_vex_new(const struct copa_vex_opts *o, struct copa_err *err)
{
	struct copa_vex *v;

	if (!o || bad_text(o->author, 512)) {
		copa_err_set(err, COPA_E_USAGE,
		             "the VEX document needs an author without control characters (use "
		             "--vex-author or COPA_VEX_AUTHOR)");
		return NULL;
	}
	{
		json_t *t = json_string(o->author);

		if (!t) {
			copa_err_set(err, COPA_E_USAGE, "the VEX author is not valid UTF-8");
			return NULL;
		}
		json_decref(t);
	}
	if (o->role && bad_text(o->role, 512)) {
		copa_err_set(err, COPA_E_USAGE, "invalid VEX author role");
		return NULL;
	}
	v = copa_xcalloc(1, sizeof(*v));
	v->author = copa_arena_strdup(&v->arena, o->author);
	v->role = o->role && *o->role ? copa_arena_strdup(&v->arena, o->role) : NULL;
	v->tooling = copa_arena_strdup(&v->arena, o->tooling ? o->tooling : "copa " COPA_VERSION);
	v->timestamp = o->timestamp > 0 ? o->timestamp : (long long)time(NULL);
	return v;
}

void copa_vex_free(struct copa_vex *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n_stmts; i++) {
		for (size_t j = 0; j < v->stmts[i].n_products; j++)
			free(v->stmts[i].products[j].subs);
		free(v->stmts[i].products);
	}
	free(v->stmts);
	copa_strmap_release(&v->by_vuln);
	copa_strmap_release(&v->seen);
	copa_arena_release(&v->arena);
	free(v);
}

size_t copa_vex_count(const struct copa_vex *v)
{
	return v->n_stmts;
}

/* True the first time this key is seen (the key is copied into the arena). */
static bool first_time(struct copa_vex *v, const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = c ? strlen(c) : 0;
	size_t n = la + 1 + lb + (c ? 1 + lc : 0);
	char *key = copa_arena_alloc(&v->arena, n + 1);
	uint32_t dummy;

	memcpy(key, a, la);
	key[la] = '\n';
	memcpy(key + la + 1, b, lb);
	if (c) {
		key[la + 1 + lb] = '\n';
		memcpy(key + la + 2 + lb, c, lc);
	}
	key[n] = '\0';
	if (copa_strmap_get(&v->seen, key, n, &dummy))
		return false;
	copa_strmap_put(&v->seen, key, n, 1);
	return true;
}

int copa_vex_add_fixed(struct copa_vex *v, const char *vuln_id, const char *product,
                       const char *component, struct copa_err *err)
{
	struct vex_stmt *st;
	struct vex_product *pr = NULL;
	uint32_t idx;

	if (bad_text(vuln_id, 1024))
		return copa_err_set(err, COPA_E_INPUT, "VEX: invalid vulnerability ID '%.64s'",
		                    vuln_id ? vuln_id : "");
	if (bad_text(product, 4096) || strncmp(product, "pkg:", 4))
		return copa_err_set(err, COPA_E_INPUT, "VEX: product '%.64s' is not a purl",
		                    product ? product : "");
	if (component && (bad_text(component, 4096) || strncmp(component, "pkg:", 4)))
		return copa_err_set(err, COPA_E_INPUT, "VEX: component '%.64s' is not a purl",
		                    component);
	if (!copa_strmap_get(&v->by_vuln, vuln_id, strlen(vuln_id), &idx)) {
		if (v->n_stmts >= MAX_STATEMENTS)
			return copa_err_set(err, COPA_E_LIMIT, "VEX: more than %d statements",
			                    MAX_STATEMENTS);
		v->stmts = copa_xgrow(v->stmts, &v->cap_stmts, v->n_stmts + 1, sizeof(*v->stmts));
		idx = (uint32_t)v->n_stmts++;
		memset(&v->stmts[idx], 0, sizeof(v->stmts[idx]));
		v->stmts[idx].vuln = copa_arena_strdup(&v->arena, vuln_id);
		copa_strmap_put(&v->by_vuln, v->stmts[idx].vuln, strlen(vuln_id), idx);
	}
	st = &v->stmts[idx];
	if (first_time(v, vuln_id, product, NULL)) {
		st->products = copa_xgrow(st->products, &st->cap_products, st->n_products + 1,
		                          sizeof(*st->products));
		pr = &st->products[st->n_products++];
		memset(pr, 0, sizeof(*pr));
		pr->id = copa_arena_strdup(&v->arena, product);
	} else {
		for (size_t i = 0; i < st->n_products; i++)
			if (!strcmp(st->products[i].id, product))
				pr = &st->products[i];
	}
	if (component && first_time(v, vuln_id, product, component)) {
		pr->subs = copa_xgrow(pr->subs, &pr->cap_subs, pr->n_subs + 1, sizeof(*pr->subs));
		pr->subs[pr->n_subs++] = copa_arena_strdup(&v->arena, component);
	}
	return 0;
}

static int add_platform(struct copa_vex *v, const struct copa_summary *s,
                        const struct copa_summary_platform *p, const char *digest,
                        const struct copa_strmap *open, struct copa_buf *prod,
                        struct copa_buf *comp, struct copa_buf *distro, struct copa_err *err)
{
	uint32_t dummy;

	if (copa_purl_oci(prod, s->output_ref, digest, *p->arch ? p->arch : NULL, err) < 0)
		return -1;
	copa_buf_reset(distro);
	copa_buf_addf(distro, "%s-%s", p->os_type, p->os_version);
	for (size_t j = 0; j < p->n_pkgs; j++) {
		const struct copa_pkg_outcome *o = &p->pkgs[j];
		const char *ver, *arch;

		if (!copa_outcome_fixes(o->outcome) || !o->n_vuln_ids)
			continue;
		ver = o->installed          ? o->installed
		      : o->installed_before ? o->installed_before
		                            : o->chosen;
		arch = o->arch ? o->arch : copa_pkg_arch(p->fam, p->arch, p->variant);
		if (copa_purl_package(comp, p->fam, p->os_purl_ns, o->name, ver, arch,
		                      copa_buf_str(distro), err) < 0)
			return -1;
		for (size_t k = 0; k < o->n_vuln_ids; k++) {
			if (copa_strmap_get(open, o->vuln_ids[k], strlen(o->vuln_ids[k]), &dummy))
				continue;
			if (copa_vex_add_fixed(v, o->vuln_ids[k], copa_buf_str(prod),
			                       copa_buf_str(comp), err) < 0)
				return -1;
		}
	}
	return 0;
}

int copa_vex_add_summary(struct copa_vex *v, const struct copa_summary *s, struct copa_err *err)
{
	struct copa_buf prod = COPA_BUF_INIT, comp = COPA_BUF_INIT, distro = COPA_BUF_INIT;
	int rc = -1;

	for (size_t i = 0; i < s->n_platforms; i++) {
		const struct copa_summary_platform *p = s->platforms[i];
		const char *digest = p->output_digest ? p->output_digest : s->output_digest;
		struct copa_strmap open = COPA_STRMAP_INIT;

		if (!digest)
			continue; /* nothing was written for this platform */
		/* A vulnerability another package still carries in this image
		 * (not updated, or no fix yet) is not fixed in it. */
		for (size_t j = 0; j < p->n_pkgs; j++)
			if (!copa_outcome_fixes(p->pkgs[j].outcome))
				for (size_t k = 0; k < p->pkgs[j].n_vuln_ids; k++)
					copa_strmap_put(&open, p->pkgs[j].vuln_ids[k],
					                strlen(p->pkgs[j].vuln_ids[k]), 1);
		for (size_t j = 0; j < p->n_unfixable; j++)
			copa_strmap_put(&open, p->unfixable[j].vuln_id,
			                strlen(p->unfixable[j].vuln_id), 1);
		if (add_platform(v, s, p, digest, &open, &prod, &comp, &distro, err) < 0) {
			copa_strmap_release(&open);
			goto out;
		}
		copa_strmap_release(&open);
	}
	rc = 0;
out:
	copa_buf_release(&prod);
	copa_buf_release(&comp);
	copa_buf_release(&distro);
	return rc;
}

static int cmp_stmt(const void *a, const void *b)
{
	return strcmp((*(const struct vex_stmt *const *)a)->vuln,
	              (*(const struct vex_stmt *const *)b)->vuln);
}

static json_t *statements_json(const struct copa_vex *v)
{
	const struct vex_stmt **order = copa_xcalloc(v->n_stmts, sizeof(*order));
	json_t *arr = json_array();

	for (size_t i = 0; i < v->n_stmts; i++)
		order[i] = &v->stmts[i];
	qsort(order, v->n_stmts, sizeof(*order), cmp_stmt);
	for (size_t i = 0; i < v->n_stmts; i++) {
		const struct vex_stmt *st = order[i];
		json_t *o = json_object(), *vuln = json_object(), *prods = json_array();

		json_object_set_new(vuln, "name", json_string(st->vuln));
		json_object_set_new(o, "vulnerability", vuln);
		for (size_t j = 0; j < st->n_products; j++) {
			json_t *p = json_object(), *subs = json_array();

			json_object_set_new(p, "@id", json_string(st->products[j].id));
			for (size_t k = 0; k < st->products[j].n_subs; k++) {
				json_t *c = json_object();

				json_object_set_new(c, "@id", json_string(st->products[j].subs[k]));
				json_array_append_new(subs, c);
			}
			if (json_array_size(subs))
				json_object_set_new(p, "subcomponents", subs);
			else
				json_decref(subs);
			json_array_append_new(prods, p);
		}
		json_object_set_new(o, "products", prods);
		json_object_set_new(o, "status", json_string("fixed"));
		json_array_append_new(arr, o);
	}
	free(order);
	return arr;
}

int copa_vex_render(const struct copa_vex *v, struct copa_buf *out, struct copa_err *err)
{
	json_t *doc, *stmts;
	struct copa_buf body = COPA_BUF_INIT;
	struct copa_hash h;
	char hex[COPA_HASH_HEX_MAX], ts[32], id[200];
	struct tm tm;
	time_t t = (time_t)v->timestamp;
	int r;

	if (v->n_stmts == 0)
		return copa_err_set(
		    err, COPA_E_INPUT,
		    "no fixed vulnerabilities: an OpenVEX document needs at least one "
		    "statement");
	if (!gmtime_r(&t, &tm) || !strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm))
		return copa_err_set(err, COPA_E_INPUT, "VEX timestamp %lld out of range",
		                    v->timestamp);
	stmts = statements_json(v);
	/* The @id names this content: same statements, author and time, same id. */
	if (copa_json_dump(stmts, 0, &body, err) < 0) {
		json_decref(stmts);
		copa_buf_release(&body);
		return -1;
	}
	copa_hash_init(&h, COPA_HASH_SHA256);
	copa_hash_update(&h, ts, strlen(ts));
	copa_hash_update(&h, "\n", 1);
	copa_hash_update(&h, v->author, strlen(v->author));
	copa_hash_update(&h, "\n", 1);
	copa_hash_update(&h, body.p, body.len);
	copa_hash_final_hex(&h, hex);
	copa_buf_release(&body);
	snprintf(id, sizeof(id), "https://openvex.dev/docs/public/vex-%s", hex);

	doc = json_object();
	json_object_set_new(doc, "@context", json_string(COPA_VEX_CONTEXT));
	json_object_set_new(doc, "@id", json_string(id));
	json_object_set_new(doc, "author", json_string(v->author));
	if (v->role)
		json_object_set_new(doc, "role", json_string(v->role));
	json_object_set_new(doc, "timestamp", json_string(ts));
	json_object_set_new(doc, "version", json_integer(1));
	json_object_set_new(doc, "tooling", json_string(v->tooling));
	json_object_set_new(doc, "statements", stmts);
	r = copa_json_dump(doc, 2, out, err);
	json_decref(doc);
	if (r < 0)
		return copa_err_wrap(err, "VEX document");
	copa_buf_addc(out, '\n');
	return 0;
}

int copa_vex_write(const struct copa_vex *v, const char *path, struct copa_err *err)
{
	struct copa_buf b;
	int r;

	copa_buf_init(&b, 1024u * 1024 * 1024);
	r = copa_vex_render(v, &b, err);
	if (r == 0 && copa_outfile_write(path, b.p, b.len, err) < 0)
		r = copa_err_wrap(err, "cannot write VEX document '%s'", path);
	copa_buf_release(&b);
	return r;
}
