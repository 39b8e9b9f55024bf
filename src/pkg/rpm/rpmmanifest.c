/*
 * rpmmanifest.c: reading and writing the distroless rpm manifests (see rpmmanifest.h).
 */
#include "pkg/rpm/rpmmanifest.h"

#include "pkg/version.h"
#include "util/blob.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

#define FIELDS 10

void copa_rpmmf_entry_release(struct copa_rpmmf_entry *e)
{
	free(e->name);
	free(e->version);
	free(e->release);
	free(e->installtime);
	free(e->buildtime);
	free(e->vendor);
	free(e->epoch_field);
	free(e->size);
	free(e->arch);
	free(e->sourcerpm);
	memset(e, 0, sizeof(*e));
}

void copa_rpmmf_release(struct copa_rpmmf *m)
{
	for (size_t i = 0; i < m->n; i++)
		copa_rpmmf_entry_release(&m->v[i]);
	free(m->v);
	memset(m, 0, sizeof(*m));
}

void copa_rpmmf1_release(struct copa_rpmmf1 *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].nvra);
		free(m->v[i].name);
		free(m->v[i].version);
		free(m->v[i].release);
		free(m->v[i].arch);
	}
	free(m->v);
	memset(m, 0, sizeof(*m));
}

/* A token: non-empty, printable ASCII without spaces (names, arches, file names). */
static const char *token_bad(const char *s)
{
	if (!*s)
		return "is empty";
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return "has a space, tab or control character";
	return NULL;
}

/* Free text (vendor): anything but tabs and control characters; may be empty. */
static const char *text_bad(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return "has a tab or control character";
	return NULL;
}

static const char *digits_bad(const char *s)
{
	if (!*s)
		return "is empty";
	if (strlen(s) > 20)
		return "is too long for a number";
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return "is not a decimal number";
	return NULL;
}

/* A package name: a token without '/' (it becomes a purl and a message subject). */
static const char *name_bad(const char *s)
{
	const char *why = token_bad(s);

	if (why)
		return why;
	return strchr(s, '/') ? "has a '/'" : NULL;
}

/* version and release of rpm's grammar; joined "v-r" must be a valid rpm version without epoch. */
static const char *vr_bad(const char *v, const char *r)
{
	const char *why;
	_cleanup_free_ char *vr = NULL;

	if (!*v)
		return "has an empty version";
	if (!*r)
		return "has an empty release";
	if (strchr(v, '-') || strchr(r, '-') || strchr(v, ':') || strchr(r, ':'))
		return "is not VERSION-RELEASE with exactly one '-' and no epoch";
	vr = copa_xasprintf("%s-%s", v, r);
	why = copa_version_invalid_reason(COPA_FAM_RPM, vr);
	return why;
}

/* NAME-VERSION-RELEASE.ARCH.rpm, as scanners split a source rpm's file name. */
static const char *sourcerpm_bad(const char *s)
{
	size_t n = strlen(s);
	const char *why = token_bad(s), *arch, *rel, *ver;

	if (why)
		return why;
	if (n < 4 || strcmp(s + n - 4, ".rpm") != 0)
		return "does not end in '.rpm'";
	n -= 4;
	arch = memrchr(s, '.', n);
	if (!arch || arch == s || arch + 1 == s + n)
		return "is not NAME-VERSION-RELEASE.ARCH.rpm (no arch)";
	rel = memrchr(s, '-', (size_t)(arch - s));
	if (!rel || rel + 1 == arch)
		return "is not NAME-VERSION-RELEASE.ARCH.rpm (no release)";
	ver = memrchr(s, '-', (size_t)(rel - s));
	if (!ver || ver == s || ver + 1 == rel)
		return "is not NAME-VERSION-RELEASE.ARCH.rpm (no name or version)";
	return NULL;
}

/* Checks every field of e; returns a static reason naming the field, or NULL. */
static const char *entry_bad(const struct copa_rpmmf_entry *e, const char **field)
{
	const char *why;

#define CHECK(f, expr, label)                                                                      \
	do {                                                                                       \
		if ((why = (expr))) {                                                              \
			*field = label;                                                            \
			return why;                                                                \
		}                                                                                  \
	} while (0)
	CHECK(name, name_bad(e->name), "name (field 1)");
	CHECK(vr, vr_bad(e->version, e->release), "version-release (field 2)");
	CHECK(installtime, digits_bad(e->installtime), "install time (field 3)");
	CHECK(buildtime, digits_bad(e->buildtime), "build time (field 4)");
	CHECK(vendor, text_bad(e->vendor), "vendor (field 5)");
	if (strcmp(e->epoch_field, "(none)") != 0)
		CHECK(epoch, digits_bad(e->epoch_field), "epoch (field 6)");
	CHECK(size, digits_bad(e->size), "size (field 7)");
	CHECK(arch, token_bad(e->arch), "arch (field 8)");
	CHECK(sourcerpm, sourcerpm_bad(e->sourcerpm), "source rpm (field 10)");
#undef CHECK
	return NULL;
}

static int parse_epoch(struct copa_blob b, uint32_t *out)
{
	uint64_t v;

	if (copa_blob_to_u64(b, UINT32_MAX, &v) < 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int parse_line(struct copa_blob line, const char *file, size_t lineno,
                      struct copa_rpmmf_entry *e, struct copa_err *err)
{
	struct copa_blob f[FIELDS + 1], rest = line, vr;
	size_t nf = 0;
	const char *dash, *why, *field = NULL;

	while (nf <= FIELDS && copa_blob_split(&rest, '\t', &f[nf]))
		nf++;
	if (nf != FIELDS)
		return copa_err_set(err, COPA_E_INPUT,
		                    "'%s' line %zu: expected %d tab-separated fields, found %s%zu",
		                    file, lineno, FIELDS, nf > FIELDS ? "more than " : "",
		                    nf > FIELDS ? (size_t)FIELDS : nf);
	vr = f[1];
	dash = copa_blob_chr(vr, '-');
	if (!dash)
		return copa_err_set(err, COPA_E_INPUT,
		                    "'%s' line %zu: version-release (field 2) has no '-'", file,
		                    lineno);
	if (parse_epoch(f[8], &e->epoch) < 0)
		return copa_err_set(err, COPA_E_INPUT,
		                    "'%s' line %zu: epoch (field 9) is not a number", file, lineno);
	e->name = copa_blob_dup(f[0]);
	e->version = copa_xstrndup(vr.p, (size_t)(dash - vr.p));
	e->release = copa_xstrndup(dash + 1, (size_t)(vr.p + vr.n - dash - 1));
	e->installtime = copa_blob_dup(f[2]);
	e->buildtime = copa_blob_dup(f[3]);
	e->vendor = copa_blob_dup(f[4]);
	e->epoch_field = copa_blob_dup(f[5]);
	e->size = copa_blob_dup(f[6]);
	e->arch = copa_blob_dup(f[7]);
	e->sourcerpm = copa_blob_dup(f[9]);
	if ((why = entry_bad(e, &field)))
		return copa_err_set(err, COPA_E_INPUT, "'%s' line %zu: %s %s", file, lineno, field,
		                    why);
	if (strcmp(e->epoch_field, "(none)") != 0 &&
	    (strlen(e->epoch_field) > 10 || strtoull(e->epoch_field, NULL, 10) != e->epoch))
		return copa_err_set(err, COPA_E_INPUT,
		                    "'%s' line %zu: epoch (field 6) '%s' differs from field 9 '%u'",
		                    file, lineno, e->epoch_field, e->epoch);
	return 0;
}

/* Walks the lines of a manifest text, calling fn on each non-blank one. */
static int each_line(const char *text, size_t n, const char *file,
                     int (*fn)(struct copa_blob line, size_t lineno, void *ctx), void *ctx,
                     struct copa_err *err)
{
	struct copa_blob rest = copa_blob(text, n), line;
	size_t lineno = 0, count = 0;

	if (n > COPA_RPMMF_FILE_MAX)
		return copa_err_set(err, COPA_E_LIMIT, "'%s' is larger than %u MiB", file,
		                    COPA_RPMMF_FILE_MAX >> 20);
	if (n && memchr(text, '\0', n))
		return copa_err_set(err, COPA_E_INPUT, "'%s' has a NUL byte: not a text file",
		                    file);
	while (copa_blob_split(&rest, '\n', &line)) {
		lineno++;
		if (line.n == 0)
			continue;
		if (++count > COPA_RPMMF_LINES_MAX)
			return copa_err_set(err, COPA_E_LIMIT, "'%s' lists more than %d packages",
			                    file, COPA_RPMMF_LINES_MAX);
		if (fn(line, lineno, ctx) < 0)
			return -1;
	}
	return 0;
}

struct parse2_ctx {
	const char *file;
	struct copa_rpmmf *m;
	struct copa_err *err;
};

static int parse2_line(struct copa_blob line, size_t lineno, void *ctx)
{
	struct parse2_ctx *c = ctx;
	struct copa_rpmmf_entry e = {0};

	if (parse_line(line, c->file, lineno, &e, c->err) < 0) {
		copa_rpmmf_entry_release(&e);
		return -1;
	}
	c->m->v = copa_xgrow(c->m->v, &c->m->cap, c->m->n + 1, sizeof(*c->m->v));
	c->m->v[c->m->n++] = e;
	return 0;
}

int copa_rpmmf_parse(const char *text, size_t n, const char *file, struct copa_rpmmf *m,
                     struct copa_err *err)
{
	struct parse2_ctx c = {file, m, err};

	return each_line(text, n, file, parse2_line, &c, err);
}

struct parse1_ctx {
	const char *file;
	struct copa_rpmmf1 *m;
	struct copa_err *err;
};

static int parse1_line(struct copa_blob line, size_t lineno, void *ctx)
{
	struct parse1_ctx *c = ctx;
	struct copa_rpmmf1_entry e = {0};
	const char *dot, *rel, *ver, *why;

	e.nvra = copa_blob_dup(line);
	if ((why = token_bad(e.nvra)))
		goto bad;
	dot = strrchr(e.nvra, '.');
	rel = dot ? memrchr(e.nvra, '-', (size_t)(dot - e.nvra)) : NULL;
	ver = rel ? memrchr(e.nvra, '-', (size_t)(rel - e.nvra)) : NULL;
	if (!ver || ver == e.nvra || ver + 1 == rel || rel + 1 == dot || !dot[1]) {
		why = "is not NAME-VERSION-RELEASE.ARCH";
		goto bad;
	}
	e.name = copa_xstrndup(e.nvra, (size_t)(ver - e.nvra));
	e.version = copa_xstrndup(ver + 1, (size_t)(rel - ver - 1));
	e.release = copa_xstrndup(rel + 1, (size_t)(dot - rel - 1));
	e.arch = copa_xstrdup(dot + 1);
	if ((why = vr_bad(e.version, e.release)))
		goto bad;
	c->m->v = copa_xgrow(c->m->v, &c->m->cap, c->m->n + 1, sizeof(*c->m->v));
	c->m->v[c->m->n++] = e;
	return 0;
bad:
	copa_err_set(c->err, COPA_E_INPUT, "'%s' line %zu: '%.100s' %s", c->file, lineno, e.nvra,
	             why);
	free(e.nvra);
	free(e.name);
	free(e.version);
	free(e.release);
	free(e.arch);
	return -1;
}

int copa_rpmmf1_parse(const char *text, size_t n, const char *file, struct copa_rpmmf1 *m1,
                      struct copa_err *err)
{
	struct parse1_ctx c = {file, m1, err};

	return each_line(text, n, file, parse1_line, &c, err);
}

static char *entry_nvra(const struct copa_rpmmf_entry *e)
{
	return copa_xasprintf("%s-%s-%s.%s", e->name, e->version, e->release, e->arch);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int copa_rpmmf_check_pair(const struct copa_rpmmf *m, const struct copa_rpmmf1 *m1,
                          struct copa_err *err)
{
	char **a = copa_xcalloc(m->n + 1, sizeof(*a));
	char **b = copa_xcalloc(m1->n + 1, sizeof(*b));
	size_t i = 0, j = 0;
	int rc = 0;

	for (size_t k = 0; k < m->n; k++)
		a[k] = entry_nvra(&m->v[k]);
	for (size_t k = 0; k < m1->n; k++)
		b[k] = m1->v[k].nvra;
	qsort(a, m->n, sizeof(*a), cmp_str);
	qsort(b, m1->n, sizeof(*b), cmp_str);
	while (i < m->n || j < m1->n) {
		int c = i == m->n ? 1 : j == m1->n ? -1 : strcmp(a[i], b[j]);

		if (c != 0) {
			rc = copa_err_set(err, COPA_E_INPUT,
			                  "'%s' lists '%s' but '%s' does not: the distroless "
			                  "manifests disagree",
			                  c < 0 ? COPA_RPMMF2_PATH : COPA_RPMMF1_PATH,
			                  c < 0 ? a[i] : b[j],
			                  c < 0 ? COPA_RPMMF1_PATH : COPA_RPMMF2_PATH);
			break;
		}
		i++;
		j++;
	}
	for (size_t k = 0; k < m->n; k++)
		free(a[k]);
	free(a);
	free(b);
	return rc;
}

/* Both manifests: every entry checked as Trivy would read it back, then one line each. */
static int write_lines(const struct copa_rpmmf *m, bool full, struct copa_buf *out,
                       struct copa_err *err)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct copa_rpmmf_entry *e = &m->v[i];
		const char *why, *field = NULL;

		if ((why = entry_bad(e, &field)))
			return copa_err_set(err, COPA_E_INPUT,
			                    "cannot write package '%.100s' to the rpm manifest: "
			                    "%s %s",
			                    e->name ? e->name : "?", field, why);
		if (full)
			copa_buf_addf(out, "%s\t%s-%s\t%s\t%s\t%s\t%s\t%s\t%s\t%u\t%s\n", e->name,
			              e->version, e->release, e->installtime, e->buildtime,
			              e->vendor, e->epoch_field, e->size, e->arch, e->epoch,
			              e->sourcerpm);
		else
			copa_buf_addf(out, "%s-%s-%s.%s\n", e->name, e->version, e->release,
			              e->arch);
	}
	if (out->overflow)
		return copa_err_set(err, COPA_E_LIMIT, "rpm manifest larger than its buffer");
	return 0;
}

int copa_rpmmf_write(const struct copa_rpmmf *m, struct copa_buf *out, struct copa_err *err)
{
	return write_lines(m, true, out, err);
}

int copa_rpmmf_write1(const struct copa_rpmmf *m, struct copa_buf *out, struct copa_err *err)
{
	return write_lines(m, false, out, err);
}

int copa_rpmmf_entry_from_pkg(const struct copa_rpm_pkg *p, struct copa_rpmmf_entry *e,
                              struct copa_err *err)
{
	const char *why, *field = NULL;

	memset(e, 0, sizeof(*e));
	if (!p->sourcerpm || !p->arch)
		return copa_err_set(err, COPA_E_INPUT,
		                    "package '%s' has no source rpm or arch: it cannot be listed "
		                    "in the rpm manifest",
		                    p->name);
	e->name = copa_xstrdup(p->name);
	e->version = copa_xstrdup(p->version);
	e->release = copa_xstrdup(p->release);
	e->installtime = copa_xasprintf("%llu", (unsigned long long)p->installtime);
	e->buildtime = copa_xasprintf("%llu", (unsigned long long)p->buildtime);
	e->vendor = copa_xstrdup(p->vendor ? p->vendor : "(none)");
	e->epoch_field = copa_xstrdup("(none)");
	e->size = copa_xasprintf("%llu", (unsigned long long)p->size);
	e->arch = copa_xstrdup(p->arch);
	e->epoch = p->has_epoch ? p->epoch : 0;
	e->sourcerpm = copa_xstrdup(p->sourcerpm);
	if ((why = entry_bad(e, &field))) {
		copa_err_set(err, COPA_E_INPUT,
		             "package '%.100s' cannot be listed in the rpm "
		             "manifest: %s %s",
		             p->name, field, why);
		copa_rpmmf_entry_release(e);
		return -1;
	}
	return 0;
}
