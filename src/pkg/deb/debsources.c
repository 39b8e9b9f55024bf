#include "pkg/deb/debsources.h"

#include "pkg/deb/control.h"
#include "util/blob.h"
#include "util/mem.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void copa_deb_sources_release(struct copa_deb_sources *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct copa_deb_source *src = &s->v[i];

		free(src->uri);
		free(src->suite);
		copa_strv_free(src->components);
		copa_strv_free(src->archs);
		copa_strv_free(src->signed_by);
		free(src->signed_by_key);
		free(src->fallback_uri);
		free(src->where);
		copa_buf_release(&src->keyring);
		copa_strv_free(src->fingerprints);
		free(src->keyring_desc);
	}
	free(s->v);
	memset(s, 0, sizeof(*s));
}

int copa_deb_parse_bool(const char *s, size_t n)
{
	static const char *const yes[] = {"yes", "true", "with", "on", "enable", "1"};
	static const char *const no[] = {"no", "false", "without", "off", "disable", "0"};
	struct copa_blob b = copa_blob(s, n);

	for (size_t i = 0; i < COPA_ARRAY_SIZE(yes); i++)
		if (copa_blob_eqs_ci(b, yes[i]))
			return 1;
	for (size_t i = 0; i < COPA_ARRAY_SIZE(no); i++)
		if (copa_blob_eqs_ci(b, no[i]))
			return 0;
	return -1;
}

bool copa_deb_is_fingerprint(const char *s)
{
	size_t n = strlen(s);

	if (n && s[n - 1] == '!')
		n--;
	if (n != 40 && n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* A NULL-terminated string vector being built. */
struct strv {
	char **v;
	size_t n, cap;
};

static void strv_push(struct strv *sv, struct copa_blob b)
{
	sv->v = copa_xgrow(sv->v, &sv->cap, sv->n + 2, sizeof(char *));
	sv->v[sv->n++] = copa_blob_dup(b);
	sv->v[sv->n] = NULL;
}

static void strv_release(struct strv *sv)
{
	if (sv->v)
		copa_strv_free(sv->v);
	memset(sv, 0, sizeof(*sv));
}

static char **strv_steal(struct strv *sv)
{
	char **v = sv->v;

	memset(sv, 0, sizeof(*sv));
	return v;
}

static char **strv_dup(char *const *v)
{
	struct strv sv = {0};

	if (!v)
		return NULL;
	for (; *v; v++)
		strv_push(&sv, copa_blob_str(*v));
	return sv.v ? strv_steal(&sv) : copa_xcalloc(1, sizeof(char *));
}

static bool plain_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

/* A word from sources: printable ASCII, no quotes or brackets, no ".." component. */
static bool valid_word(struct copa_blob w)
{
	if (w.n == 0 || w.n > 1024)
		return false;
	for (size_t i = 0; i < w.n; i++)
		if (!plain_char((unsigned char)w.p[i]) || w.p[i] == '"' || w.p[i] == '\'' ||
		    w.p[i] == '[' || w.p[i] == ']' || w.p[i] == '\\')
			return false;
	for (size_t i = 0; i + 1 < w.n; i++)
		if (w.p[i] == '.' && w.p[i + 1] == '.' && (i == 0 || w.p[i - 1] == '/') &&
		    (i + 2 == w.n || w.p[i + 2] == '/'))
			return false;
	return true;
}

/* A URI: "scheme:" followed by anything printable. */
static bool valid_uri(struct copa_blob u)
{
	size_t i = 0;

	if (!valid_word(u) || !isalpha((unsigned char)u.p[0]))
		return false;
	while (i < u.n &&
	       (isalnum((unsigned char)u.p[i]) || u.p[i] == '+' || u.p[i] == '-' || u.p[i] == '.'))
		i++;
	return i < u.n && u.p[i] == ':' && i + 1 < u.n;
}

/* Everything that makes one entry, before it is expanded into sources. */
struct entry {
	struct strv uris, suites, components, archs, signed_by;
	char *signed_by_key;
	int trusted;           /* -1 unset */
	int check_valid_until; /* -1 unset */
	int enabled;           /* -1 unset */
	bool is_deb;
};

static void entry_release(struct entry *e)
{
	strv_release(&e->uris);
	strv_release(&e->suites);
	strv_release(&e->components);
	strv_release(&e->archs);
	strv_release(&e->signed_by);
	free(e->signed_by_key);
	memset(e, 0, sizeof(*e));
}

static struct copa_deb_source *add_source(struct copa_deb_sources *s, struct copa_err *err)
{
	struct copa_deb_source *src;

	if (s->n >= COPA_DEB_SOURCES_MAX) {
		copa_err_set(err, COPA_E_LIMIT, "more than %d repositories configured",
		             COPA_DEB_SOURCES_MAX);
		return NULL;
	}
	s->v = copa_xgrow(s->v, &s->cap, s->n + 1, sizeof(*s->v));
	src = &s->v[s->n++];
	memset(src, 0, sizeof(*src));
	src->check_valid_until = -1;
	return src;
}

/* Adds the sources of one complete entry (one per URI x suite). */
static int expand(struct copa_deb_sources *s, const struct entry *e, const char *where, bool user,
                  struct copa_err *err)
{
	for (size_t u = 0; u < e->uris.n; u++)
		for (size_t k = 0; k < e->suites.n; k++) {
			const char *suite = e->suites.v[k];
			size_t ul = strlen(e->uris.v[u]);
			bool flat = suite[strlen(suite) - 1] == '/';
			struct copa_deb_source *src;

			if (flat && e->components.n)
				return copa_err_set(err, COPA_E_INPUT,
				                    "%s: components given for the flat repository "
				                    "'%s %s'",
				                    where, e->uris.v[u], suite);
			if (!flat && !e->components.n)
				return copa_err_set(err, COPA_E_INPUT,
				                    "%s: no component given for '%s %s'", where,
				                    e->uris.v[u], suite);
			src = add_source(s, err);
			if (!src)
				return copa_err_wrap(err, "%s", where);
			while (ul > 0 && e->uris.v[u][ul - 1] == '/')
				ul--;
			src->uri = copa_xstrndup(e->uris.v[u], ul);
			src->suite = copa_xstrdup(suite);
			src->flat = flat;
			src->components = strv_dup(e->components.v);
			if (!src->components)
				src->components = copa_xcalloc(1, sizeof(char *));
			src->archs = strv_dup(e->archs.v);
			src->signed_by = strv_dup(e->signed_by.v);
			src->signed_by_key =
			    e->signed_by_key ? copa_xstrdup(e->signed_by_key) : NULL;
			src->trusted = e->trusted == 1;
			src->check_valid_until = e->check_valid_until;
			src->where = copa_xstrdup(where);
			src->user = user;
		}
	return 0;
}

/* Splits a comma- or space-separated list into sv, validating each word. */
static int split_list(struct strv *sv, struct copa_blob v, const char *what, const char *where,
                      struct copa_err *err)
{
	struct copa_blob rest = v, w;

	while (copa_blob_word(&rest, &w)) {
		struct copa_blob r2 = w, part;

		while (copa_blob_split(&r2, ',', &part)) {
			if (part.n == 0)
				continue;
			if (!valid_word(part))
				return copa_err_set(err, COPA_E_INPUT, "%s: invalid %s '%.*s'",
				                    where, what, (int)(part.n > 64 ? 64 : part.n),
				                    part.p);
			if (sv->n >= 256)
				return copa_err_set(err, COPA_E_LIMIT, "%s: too many %s values",
				                    where, what);
			strv_push(sv, part);
		}
	}
	return 0;
}

static int check_signed_by(const struct strv *sv, const char *where, struct copa_err *err)
{
	for (size_t i = 0; i < sv->n; i++)
		if (sv->v[i][0] != '/' && !copa_deb_is_fingerprint(sv->v[i]))
			return copa_err_set(
			    err, COPA_E_INPUT,
			    "%s: Signed-By '%s' is neither an absolute key file path "
			    "nor a key fingerprint",
			    where, sv->v[i]);
	return 0;
}

/* Handles one "key=value" option of a one-line entry. */
static int line_option(struct entry *e, struct copa_blob opt, const char *where,
                       struct copa_err *err)
{
	const char *eq = copa_blob_chr(opt, '=');
	struct copa_blob key, val;

	if (!eq)
		return copa_err_set(err, COPA_E_INPUT, "%s: option '%.*s' has no value", where,
		                    (int)(opt.n > 64 ? 64 : opt.n), opt.p);
	key = copa_blob(opt.p, (size_t)(eq - opt.p));
	val = copa_blob(eq + 1, opt.n - key.n - 1);
	if (copa_blob_eqs(key, "arch"))
		return split_list(&e->archs, val, "architecture", where, err);
	if (copa_blob_eqs(key, "signed-by"))
		return split_list(&e->signed_by, val, "Signed-By", where, err);
	if (copa_blob_eqs(key, "trusted") || copa_blob_eqs(key, "check-valid-until")) {
		int b = copa_deb_parse_bool(val.p, val.n);

		if (b < 0)
			return copa_err_set(err, COPA_E_INPUT, "%s: option '%.*s' wants yes or no",
			                    where, (int)key.n, key.p);
		if (copa_blob_eqs(key, "trusted"))
			e->trusted = b;
		else
			e->check_valid_until = b;
		return 0;
	}
	/* lang=, target=, pdiffs=, by-hash=, arch+=/arch-= ... do not change what copa fetches. */
	return 0;
}

/*
 * Parses one non-comment line of the one-line format into e. Returns 1 for
 * an entry, 0 for a line to skip (deb-src, other types), -1 on error.
 */
static int parse_line(struct entry *e, struct copa_blob line, const char *where, bool user,
                      struct copa_out *out, struct copa_err *err)
{
	struct copa_blob rest = line, w;
	const char *hash = copa_blob_chr(line, '#');

	memset(e, 0, sizeof(*e));
	e->trusted = e->check_valid_until = e->enabled = -1;
	if (hash)
		rest.n = (size_t)(hash - line.p);
	rest = copa_blob_trim(rest);
	if (rest.n == 0)
		return 0;
	/* The type word ends at a blank or at '['. */
	{
		size_t i = 0;

		while (i < rest.n && rest.p[i] != ' ' && rest.p[i] != '\t' && rest.p[i] != '[')
			i++;
		w = copa_blob(rest.p, i);
		rest = copa_blob(rest.p + i, rest.n - i);
	}
	if (copa_blob_eqs(w, "deb-src"))
		return 0;
	if (!copa_blob_eqs(w, "deb")) {
		if (user && valid_uri(w)) {
			/* "--repo URI suite comp": the type may be left out. */
			rest = copa_blob(w.p, (size_t)(rest.p + rest.n - w.p));
		} else {
			copa_warn(out, "%s: skipping entry of type '%.*s'", where,
			          (int)(w.n > 32 ? 32 : w.n), w.p);
			return 0;
		}
	}
	rest = copa_blob_trim(rest);
	if (rest.n >= 6 && strncasecmp(rest.p, "cdrom:", 6) == 0) {
		copa_warn(out, "%s: skipping cdrom repository", where);
		return 0;
	}
	if (rest.n && rest.p[0] == '[') {
		const char *close = copa_blob_chr(rest, ']');
		struct copa_blob opts, o;

		if (!close)
			return copa_err_set(err, COPA_E_INPUT, "%s: option list has no closing ']'",
			                    where);
		opts = copa_blob(rest.p + 1, (size_t)(close - rest.p - 1));
		rest = copa_blob(close + 1, (size_t)(rest.p + rest.n - close - 1));
		while (copa_blob_word(&opts, &o))
			if (line_option(e, o, where, err) < 0)
				return -1;
	}
	if (!copa_blob_word(&rest, &w) || !valid_uri(w))
		return copa_err_set(err, COPA_E_INPUT, "%s: expected a repository URI", where);
	strv_push(&e->uris, w);
	if (!copa_blob_word(&rest, &w) || !valid_word(w))
		return copa_err_set(err, COPA_E_INPUT, "%s: expected a suite after the URI", where);
	strv_push(&e->suites, w);
	while (copa_blob_word(&rest, &w)) {
		if (!valid_word(w) || e->components.n >= 64)
			return copa_err_set(err, COPA_E_INPUT, "%s: invalid component '%.*s'",
			                    where, (int)(w.n > 64 ? 64 : w.n), w.p);
		strv_push(&e->components, w);
	}
	if (check_signed_by(&e->signed_by, where, err) < 0)
		return -1;
	e->is_deb = true;
	return 1;
}

/* cdrom: entries name media no image has; apt users keep them commented out. */
static bool skip_uri(const struct entry *e, const char *where, struct copa_out *out)
{
	for (size_t i = 0; i < e->uris.n; i++)
		if (strncasecmp(e->uris.v[i], "cdrom:", 6) == 0) {
			copa_warn(out, "%s: skipping cdrom repository '%s'", where, e->uris.v[i]);
			return true;
		}
	return false;
}

int copa_deb_sources_parse_list(struct copa_deb_sources *s, const char *text, size_t n,
                                const char *file, struct copa_out *out, struct copa_err *err)
{
	struct copa_blob rest = copa_blob(text, n), line;
	size_t lineno = 0;

	if (n > COPA_DEB_SOURCES_FILE_MAX)
		return copa_err_set(err, COPA_E_LIMIT, "'%s' is larger than %u bytes", file,
		                    COPA_DEB_SOURCES_FILE_MAX);
	while (copa_blob_split(&rest, '\n', &line)) {
		_cleanup_free_ char *where = copa_xasprintf("%s:%zu", file, ++lineno);
		struct entry e;
		int r = parse_line(&e, line, where, false, out, err);

		if (r > 0 && !skip_uri(&e, where, out))
			r = expand(s, &e, where, false, err);
		entry_release(&e);
		if (r < 0)
			return -1;
	}
	return 0;
}

int copa_deb_sources_add_user(struct copa_deb_sources *s, const char *entry, struct copa_err *err)
{
	struct entry e;
	int r;

	if (strchr(entry, '\n') || strlen(entry) > 4096)
		return copa_err_set(err, COPA_E_USAGE, "--repo '%.64s': expected one line", entry);
	r = parse_line(&e, copa_blob_str(entry), "--repo", true, NULL, err);
	if (r == 0) {
		entry_release(&e);
		return copa_err_set(err, COPA_E_USAGE,
		                    "--repo '%s': expected 'deb [options] URI SUITE COMPONENT...'",
		                    entry);
	}
	if (r > 0)
		r = expand(s, &e, "--repo", true, err);
	entry_release(&e);
	if (r < 0) {
		err->code = COPA_E_USAGE;
		return -1;
	}
	return 0;
}

/* Converts a deb822 multi-line value holding an armoured key into plain text. */
static char *inline_key(struct copa_blob raw)
{
	struct copa_buf b = COPA_BUF_INIT;
	struct copa_blob rest = raw, line;
	bool first = true;

	while (copa_deb822_lines(&rest, &line)) {
		/* The part on the field's own line is empty when the key starts below it. */
		if (first && (first = false, line.n == 0))
			continue;
		if (copa_blob_eqs(line, "."))
			line.n = 0;
		copa_buf_add(&b, line.p, line.n);
		copa_buf_addc(&b, '\n');
	}
	return copa_buf_detach(&b, NULL);
}

static int para_bool(const struct copa_deb822_para *p, const char *name, int *slot,
                     const char *where, struct copa_err *err)
{
	struct copa_blob v = copa_deb822_get_trim(p, name);

	if (!v.p)
		return 0;
	*slot = copa_deb_parse_bool(v.p, v.n);
	if (*slot < 0)
		return copa_err_set(err, COPA_E_INPUT, "%s: field '%s' wants yes or no", where,
		                    name);
	return 0;
}

static int para_entry(struct entry *e, const struct copa_deb822_para *p, const char *where,
                      struct copa_out *out, struct copa_err *err)
{
	struct copa_blob types = copa_deb822_get_trim(p, "Types"), sb, w;
	struct strv tv = {0};
	int r = -1;

	memset(e, 0, sizeof(*e));
	e->trusted = e->check_valid_until = e->enabled = -1;
	if (!types.p)
		return copa_err_set(err, COPA_E_INPUT, "%s: entry has no 'Types' field", where);
	if (split_list(&tv, types, "type", where, err) < 0)
		goto out;
	for (size_t i = 0; i < tv.n; i++) {
		if (strcmp(tv.v[i], "deb") == 0)
			e->is_deb = true;
		else if (strcmp(tv.v[i], "deb-src") != 0)
			copa_warn(out, "%s: skipping entry type '%s'", where, tv.v[i]);
	}
	if (para_bool(p, "Enabled", &e->enabled, where, err) < 0 ||
	    para_bool(p, "Trusted", &e->trusted, where, err) < 0 ||
	    para_bool(p, "Check-Valid-Until", &e->check_valid_until, where, err) < 0)
		goto out;
	if (!e->is_deb || e->enabled == 0) {
		r = 0;
		goto out;
	}
	if (!copa_deb822_has(p, "URIs") || !copa_deb822_has(p, "Suites")) {
		copa_err_set(err, COPA_E_INPUT, "%s: entry needs 'URIs' and 'Suites' fields",
		             where);
		goto out;
	}
	{
		struct copa_blob rest = copa_deb822_get(p, "URIs");

		while (copa_blob_word(&rest, &w)) {
			if (!valid_uri(w) || e->uris.n >= 64) {
				copa_err_set(err, COPA_E_INPUT, "%s: invalid URI '%.*s'", where,
				             (int)(w.n > 64 ? 64 : w.n), w.p);
				goto out;
			}
			strv_push(&e->uris, w);
		}
	}
	if (split_list(&e->suites, copa_deb822_get(p, "Suites"), "suite", where, err) < 0 ||
	    split_list(&e->components, copa_deb822_get(p, "Components"), "component", where, err) <
	        0 ||
	    split_list(&e->archs, copa_deb822_get(p, "Architectures"), "architecture", where, err) <
	        0)
		goto out;
	if (!e->uris.n || !e->suites.n) {
		copa_err_set(err, COPA_E_INPUT, "%s: 'URIs' and 'Suites' must not be empty", where);
		goto out;
	}
	sb = copa_deb822_get(p, "Signed-By");
	if (sb.p) {
		struct copa_blob t = copa_blob_trim(sb);

		if (copa_blob_starts(t, "-----BEGIN PGP PUBLIC KEY BLOCK-----"))
			e->signed_by_key = inline_key(sb);
		else if (split_list(&e->signed_by, sb, "Signed-By", where, err) < 0 ||
		         check_signed_by(&e->signed_by, where, err) < 0)
			goto out;
	}
	r = 1;
out:
	strv_release(&tv);
	return r;
}

int copa_deb_sources_parse_deb822(struct copa_deb_sources *s, const char *text, size_t n,
                                  const char *file, struct copa_out *out, struct copa_err *err)
{
	struct copa_deb822_parser p;
	struct copa_deb822_para para = {0};
	int r;

	if (n > COPA_DEB_SOURCES_FILE_MAX)
		return copa_err_set(err, COPA_E_LIMIT, "'%s' is larger than %u bytes", file,
		                    COPA_DEB_SOURCES_FILE_MAX);
	_cleanup_free_ char *what = copa_xasprintf("'%s'", file);
	copa_deb822_init(&p, text, n, what, true);
	while ((r = copa_deb822_next(&p, &para, err)) == 1) {
		_cleanup_free_ char *where = copa_xasprintf("%s:%zu", file, para.line);
		struct entry e;
		int er = para_entry(&e, &para, where, out, err);

		if (er > 0 && !skip_uri(&e, where, out))
			er = expand(s, &e, where, false, err);
		entry_release(&e);
		if (er < 0) {
			r = -1;
			break;
		}
	}
	copa_deb822_para_release(&para);
	return r < 0 ? -1 : 0;
}

/* apt reads sources.list.d files whose names are [A-Za-z0-9_.-]+ with the right extension. */
static bool apt_file_name(const char *name, const char *ext)
{
	size_t n = strlen(name), el = strlen(ext);

	if (n <= el || strcmp(name + n - el, ext) != 0)
		return false;
	for (size_t i = 0; i < n - el; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_' && name[i] != '-' &&
		    name[i] != '.')
			return false;
	return true;
}

static int read_one(struct copa_view *v, const char *path, bool deb822, struct copa_deb_sources *s,
                    struct copa_out *out, struct copa_err *err)
{
	struct copa_buf b = COPA_BUF_INIT;
	struct copa_err e2 = COPA_ERR_INIT;
	int r;

	if (copa_view_read(v, path, COPA_DEB_SOURCES_FILE_MAX, &b, &e2) < 0) {
		copa_buf_release(&b);
		if (e2.code == COPA_E_NOTFOUND)
			return 0;
		*err = e2;
		return copa_err_wrap(err, "reading the image's apt sources");
	}
	r = deb822 ? copa_deb_sources_parse_deb822(s, copa_buf_str(&b), b.len, path, out, err)
	           : copa_deb_sources_parse_list(s, copa_buf_str(&b), b.len, path, out, err);
	copa_buf_release(&b);
	return r;
}

int copa_deb_sources_read_view(struct copa_view *v, struct copa_deb_sources *s,
                               struct copa_out *out, struct copa_err *err)
{
	struct copa_buf dir = COPA_BUF_INIT;
	const struct copa_view_entry **kids = NULL;
	size_t nk = 0;
	struct copa_err e2 = COPA_ERR_INIT;
	int r = 0;

	if (read_one(v, "etc/apt/sources.list", false, s, out, err) < 0)
		return -1;
	/* sources.list.d may itself be a symlink inside the image. */
	if (copa_view_resolve(v, "etc/apt/sources.list.d", COPA_VIEW_FOLLOW, &dir, NULL, &e2) < 0 ||
	    copa_view_children(v, copa_buf_str(&dir), &kids, &nk) < 0) {
		copa_buf_release(&dir);
		return 0;
	}
	if (nk > COPA_DEB_SOURCES_FILES_MAX) {
		r = copa_err_set(err, COPA_E_LIMIT,
		                 "'etc/apt/sources.list.d' has more than %d files",
		                 COPA_DEB_SOURCES_FILES_MAX);
		goto out;
	}
	for (size_t i = 0; i < nk && r == 0; i++) {
		const char *name = kids[i]->name;
		bool list = apt_file_name(name, ".list"), d822 = apt_file_name(name, ".sources");
		_cleanup_free_ char *path = NULL;

		if (!list && !d822)
			continue;
		if (kids[i]->type != COPA_FT_REG && kids[i]->type != COPA_FT_SYMLINK &&
		    kids[i]->type != COPA_FT_HARDLINK)
			continue;
		path = copa_xasprintf("%s/%s", copa_buf_str(&dir), name);
		r = read_one(v, path, d822, s, out, err);
	}
out:
	free(kids);
	copa_buf_release(&dir);
	return r;
}

static int add_default(struct copa_deb_sources *s, const char *uri, const char *suite,
                       const char *components, const char *fallback, const char *where,
                       struct copa_err *err)
{
	struct copa_deb_source *src = add_source(s, err);
	struct strv comps = {0};

	if (!src)
		return -1;
	src->uri = copa_xstrdup(uri);
	src->suite = copa_xstrdup(suite);
	split_list(&comps, copa_blob_str(components), "component", where, err);
	src->components = strv_steal(&comps);
	src->fallback_uri = fallback ? copa_xstrdup(fallback) : NULL;
	src->where = copa_xstrdup(where);
	return 0;
}

int copa_deb_sources_default(struct copa_deb_sources *s, const struct copa_osrelease *os,
                             const char *arch, struct copa_err *err)
{
	const char *id = os->id ? os->id : "";
	const char *code = os->codename;
	_cleanup_free_ char *where = NULL;
	_cleanup_free_ char *sec = NULL, *upd = NULL;

	if (code && !valid_word(copa_blob_str(code)))
		code = NULL;
	if (strcmp(id, "debian") == 0) {
		bool old;
		const char *mirror = "http://deb.debian.org/debian";
		const char *secmirror = "http://deb.debian.org/debian-security";

		if (!code)
			return copa_err_set(err, COPA_E_UNSUPPORTED,
			                    "cannot tell the Debian release of the image from its "
			                    "os-release (no VERSION_CODENAME or VERSION_ID): name "
			                    "its repositories with --repo");
		where = copa_xasprintf("default repositories for debian %s", code);
		if (add_default(s, mirror, code, "main", "http://archive.debian.org/debian", where,
		                err) < 0)
			return -1;
		if (strcmp(code, "sid") == 0 || strcmp(code, "unstable") == 0)
			return 0;
		/* Up to buster, security updates lived at "<codename>/updates". */
		old = strcmp(code, "buster") == 0 || strcmp(code, "stretch") == 0 ||
		      strcmp(code, "jessie") == 0 || strcmp(code, "wheezy") == 0;
		upd = copa_xasprintf("%s-updates", code);
		sec = copa_xasprintf(old ? "%s/updates" : "%s-security", code);
		if (add_default(s, mirror, upd, "main", "http://archive.debian.org/debian", where,
		                err) < 0 ||
		    add_default(s, secmirror, sec, "main",
		                "http://archive.debian.org/debian-security", where, err) < 0)
			return -1;
		return 0;
	}
	if (strcmp(id, "ubuntu") == 0) {
		bool primary = arch && (strcmp(arch, "amd64") == 0 || strcmp(arch, "i386") == 0);
		const char *mirror = primary ? "http://archive.ubuntu.com/ubuntu"
		                             : "http://ports.ubuntu.com/ubuntu-ports";
		const char *secmirror = primary ? "http://security.ubuntu.com/ubuntu"
		                                : "http://ports.ubuntu.com/ubuntu-ports";
		const char *comps = "main restricted universe multiverse";
		const char *old = "http://old-releases.ubuntu.com/ubuntu";

		if (!code)
			return copa_err_set(
			    err, COPA_E_UNSUPPORTED,
			    "cannot tell the Ubuntu release of the image from its "
			    "os-release (no VERSION_CODENAME): name its repositories "
			    "with --repo");
		where = copa_xasprintf("default repositories for ubuntu %s", code);
		upd = copa_xasprintf("%s-updates", code);
		sec = copa_xasprintf("%s-security", code);
		if (add_default(s, mirror, code, comps, old, where, err) < 0 ||
		    add_default(s, mirror, upd, comps, old, where, err) < 0 ||
		    add_default(s, secmirror, sec, comps, old, where, err) < 0)
			return -1;
		return 0;
	}
	return copa_err_set(err, COPA_E_UNSUPPORTED,
	                    "the image has no apt sources and its distribution '%s' has no known "
	                    "default repositories: name them with --repo",
	                    id);
}

int copa_deb_sources_rewrite(struct copa_deb_sources *s, const char *rule, struct copa_err *err)
{
	const char *eq = strchr(rule, '=');
	size_t fl;
	int count = 0;

	if (!eq || eq == rule || !eq[1] || !valid_uri(copa_blob(rule, (size_t)(eq - rule))) ||
	    !valid_uri(copa_blob_str(eq + 1)))
		return copa_err_set(err, COPA_E_USAGE,
		                    "mirror rule '%s': expected FROM=TO, two URIs", rule);
	fl = (size_t)(eq - rule);
	while (fl > 0 && rule[fl - 1] == '/')
		fl--;
	for (size_t i = 0; i < s->n; i++) {
		char *u = s->v[i].uri;
		size_t tl = strlen(eq + 1);

		if (strncmp(u, rule, fl) != 0 || (u[fl] != 0 && u[fl] != '/'))
			continue;
		while (tl > 0 && eq[tl] == '/')
			tl--;
		s->v[i].uri = copa_xasprintf("%.*s%s", (int)tl, eq + 1, u + fl);
		free(u);
		free(s->v[i].fallback_uri);
		s->v[i].fallback_uri = NULL;
		count++;
	}
	return count;
}

char *copa_deb_source_label(const struct copa_deb_source *src)
{
	return copa_xasprintf("%s %s", src->uri, src->suite);
}

char *copa_deb_source_url(const struct copa_deb_source *src, const char *base, const char *rel)
{
	const char *b = base ? base : src->uri;

	if (src->flat) {
		const char *suite = src->suite;

		/* "./" and "/" name the URI itself. */
		while (suite[0] == '.' && suite[1] == '/')
			suite += 2;
		while (suite[0] == '/')
			suite++;
		return copa_xasprintf("%s/%s%s", b, suite, rel);
	}
	return copa_xasprintf("%s/dists/%s/%s", b, src->suite, rel);
}
