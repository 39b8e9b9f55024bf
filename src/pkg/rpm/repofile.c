/*
 * repofile.c: dnf/yum/tdnf repository configuration (see repofile.h).
 */
#include "pkg/rpm/repofile.h"

#include "util/blob.h"
#include "util/buf.h"
#include "util/mem.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ variables */

void copa_rpm_vars_release(struct copa_rpm_vars *vars)
{
	for (size_t i = 0; i < vars->n; i++) {
		free(vars->names[i]);
		free(vars->values[i]);
	}
	free(vars->names);
	free(vars->values);
	memset(vars, 0, sizeof(*vars));
}

static bool var_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

static bool var_name_ok(const char *s, size_t n)
{
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!var_char(s[i]))
			return false;
	return true;
}

int copa_rpm_vars_set(struct copa_rpm_vars *vars, const char *name, const char *value,
                      struct copa_err *err)
{
	size_t cap;

	if (!var_name_ok(name, strlen(name)))
		return copa_err_set(err, COPA_E_INPUT, "'%.80s' is not a dnf variable name", name);
	if (strlen(value) > COPA_RPM_VALUE_MAX)
		return copa_err_set(err, COPA_E_LIMIT, "dnf variable '%s' is longer than %d bytes",
		                    name, COPA_RPM_VALUE_MAX);
	for (size_t i = 0; i < vars->n; i++) {
		if (strcmp(vars->names[i], name) == 0) {
			free(vars->values[i]);
			vars->values[i] = copa_xstrdup(value);
			return 0;
		}
	}
	if (vars->n >= COPA_RPM_VARS_MAX)
		return copa_err_set(err, COPA_E_LIMIT, "more than %d dnf variables",
		                    COPA_RPM_VARS_MAX);
	cap = vars->cap;
	vars->names = copa_xgrow(vars->names, &cap, vars->n + 1, sizeof(char *));
	vars->values = copa_xgrow(vars->values, &vars->cap, vars->n + 1, sizeof(char *));
	vars->names[vars->n] = copa_xstrdup(name);
	vars->values[vars->n++] = copa_xstrdup(value);
	return 0;
}

static const char *vars_getn(const struct copa_rpm_vars *vars, const char *name, size_t n)
{
	for (size_t i = 0; vars && i < vars->n; i++)
		if (strlen(vars->names[i]) == n && memcmp(vars->names[i], name, n) == 0)
			return vars->values[i];
	return NULL;
}

const char *copa_rpm_vars_get(const struct copa_rpm_vars *vars, const char *name)
{
	return vars_getn(vars, name, strlen(name));
}

const char *copa_rpm_basearch(const char *arch)
{
	static const struct {
		const char *arch, *base;
	} map[] = {
	    {"x86_64", "x86_64"},   {"amd64", "x86_64"},   {"ia32e", "x86_64"},
	    {"i386", "i386"},       {"i486", "i386"},      {"i586", "i386"},
	    {"i686", "i386"},       {"athlon", "i386"},    {"aarch64", "aarch64"},
	    {"arm64", "aarch64"},   {"armv7hl", "armhfp"}, {"armv7hnl", "armhfp"},
	    {"ppc64le", "ppc64le"}, {"s390x", "s390x"},    {"noarch", "noarch"},
	    {"riscv64", "riscv64"},
	};

	for (size_t i = 0; arch && i < COPA_ARRAY_SIZE(map); i++)
		if (strcmp(map[i].arch, arch) == 0)
			return map[i].base;
	return NULL;
}

char *copa_rpm_vars_subst(const struct copa_rpm_vars *vars, const char *value, struct copa_err *err)
{
	struct copa_buf b;
	const char *p = value;

	copa_buf_init(&b, COPA_RPM_VALUE_MAX);
	while (*p) {
		const char *name, *word = NULL, *val;
		size_t nn, wn = 0;
		char op = 0;

		if (*p == '\\' && p[1] == '$') {
			copa_buf_addc(&b, '$');
			p += 2;
			continue;
		}
		if (*p != '$') {
			copa_buf_addc(&b, *p++);
			continue;
		}
		if (p[1] == '{') {
			const char *end;

			name = p + 2;
			for (nn = 0; var_char(name[nn]); nn++)
				;
			end = name + nn;
			if (end[0] == ':' && (end[1] == '-' || end[1] == '+')) {
				op = end[1];
				word = end + 2;
				end = strchr(word, '}');
				if (end)
					wn = (size_t)(end - word);
			}
			if (!end || *end != '}' || !var_name_ok(name, nn)) {
				copa_buf_addc(&b, *p++); /* not a reference: keep it literally */
				continue;
			}
			val = vars_getn(vars, name, nn);
			if (op == '-' && (!val || !*val))
				copa_buf_add(&b, word, wn);
			else if (op == '+' && val && *val)
				copa_buf_add(&b, word, wn);
			else if (op == '+')
				; /* unset: nothing */
			else if (val)
				copa_buf_adds(&b, val);
			else
				copa_buf_add(&b, p, (size_t)(end + 1 - p));
			p = end + 1;
			continue;
		}
		name = p + 1;
		for (nn = 0; var_char(name[nn]); nn++)
			;
		val = nn ? vars_getn(vars, name, nn) : NULL;
		if (val)
			copa_buf_adds(&b, val);
		else
			copa_buf_add(&b, p, nn + 1);
		p = name + nn;
	}
	if (b.overflow) {
		copa_buf_release(&b);
		copa_err_set(err, COPA_E_LIMIT, "value longer than %d bytes after substitution",
		             COPA_RPM_VALUE_MAX);
		return NULL;
	}
	return copa_buf_detach(&b, NULL);
}

/* ---------------------------------------------------------- repositories */

static void repo_release(struct copa_rpm_repo *x)
{
	free(x->id);
	free(x->name);
	copa_strv_free(x->baseurls);
	free(x->mirrorlist);
	free(x->metalink);
	copa_strv_free(x->gpgkeys);
	free(x->where);
	memset(x, 0, sizeof(*x));
}

void copa_rpm_repos_release(struct copa_rpm_repos *r)
{
	for (size_t i = 0; i < r->n; i++)
		repo_release(&r->v[i]);
	free(r->v);
	memset(r, 0, sizeof(*r));
}

/* A section being parsed: the raw settings before defaults. */
struct section {
	struct copa_rpm_repo *repo; /* NULL for [main] and before any section */
	bool is_main;
	int gpgcheck, repo_gpgcheck; /* -1 unset */
	size_t line;
};

static int parse_bool(const char *v, int *out)
{
	static const char *const yes[] = {"1", "yes", "true", "on"};
	static const char *const no[] = {"0", "no", "false", "off"};

	for (size_t i = 0; i < COPA_ARRAY_SIZE(yes); i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

/* dnf's repository id characters. */
static bool id_ok(struct copa_blob id)
{
	if (id.n == 0 || id.n > 100)
		return false;
	for (size_t i = 0; i < id.n; i++) {
		char c = id.p[i];

		if (!isalnum((unsigned char)c) && !strchr("-_.:", c))
			return false;
	}
	return true;
}

/* scheme://rest with a known scheme and no blanks or control characters. */
static bool url_ok(const char *u)
{
	static const char *const schemes[] = {"http://", "https://", "file://", "ftp://"};
	bool scheme = false;

	for (size_t i = 0; i < COPA_ARRAY_SIZE(schemes); i++)
		if (strncasecmp(u, schemes[i], strlen(schemes[i])) == 0)
			scheme = true;
	if (!scheme)
		return false;
	for (; *u; u++)
		if ((unsigned char)*u <= 0x20 || *u == 0x7f)
			return false;
	return true;
}

/* Splits a list value at blanks, commas and newlines into a NULL-terminated vector. */
static int split_list(const char *v, char ***out, const char *file, size_t line, const char *key,
                      struct copa_err *err)
{
	char **list = NULL;
	size_t n = 0, cap = 0;
	const char *p = v;

	while (*p) {
		size_t len;

		while (*p && (isspace((unsigned char)*p) || *p == ','))
			p++;
		for (len = 0; p[len] && !isspace((unsigned char)p[len]) && p[len] != ','; len++)
			;
		if (!len)
			break;
		if (n >= COPA_RPM_REPO_URLS_MAX) {
			copa_strv_free(list);
			return copa_err_set(err, COPA_E_LIMIT,
			                    "'%s' line %zu: more than %d %s "
			                    "entries",
			                    file, line, COPA_RPM_REPO_URLS_MAX, key);
		}
		list = copa_xgrow(list, &cap, n + 2, sizeof(*list));
		list[n] = copa_xstrndup(p, len);
		if (!url_ok(list[n])) {
			copa_err_set(
			    err, COPA_E_INPUT,
			    "'%s' line %zu: %s '%.200s' is not an http, https, ftp or file URL",
			    file, line, key, list[n]);
			list[n + 1] = NULL;
			copa_strv_free(list);
			return -1;
		}
		list[++n] = NULL;
		p += len;
	}
	copa_strv_free(*out); /* a repeated key replaces the earlier list, as in dnf */
	*out = list ? list : copa_xcalloc(1, sizeof(char *));
	return 0;
}

static int set_url(char **slot, const char *v, const char *file, size_t line, const char *key,
                   struct copa_err *err)
{
	if (*v && !url_ok(v))
		return copa_err_set(
		    err, COPA_E_INPUT,
		    "'%s' line %zu: %s '%.200s' is not an http, https, ftp or file URL", file, line,
		    key, v);
	free(*slot);
	*slot = *v ? copa_xstrdup(v) : NULL;
	return 0;
}

static int apply_key(struct copa_rpm_repos *r, struct section *s, const char *key, const char *raw,
                     const struct copa_rpm_vars *vars, const char *file, size_t line,
                     struct copa_err *err)
{
	_cleanup_free_ char *v = copa_rpm_vars_subst(vars, raw, err);
	struct copa_rpm_repo *x = s->repo;
	int b;

	if (!v)
		return copa_err_wrap(err, "'%s' line %zu", file, line);
	if (strcmp(key, "gpgcheck") == 0 || strcmp(key, "repo_gpgcheck") == 0 ||
	    strcmp(key, "enabled") == 0) {
		if (parse_bool(v, &b) < 0)
			return copa_err_set(err, COPA_E_INPUT,
			                    "'%s' line %zu: %s '%.80s' is not a boolean (1/0, "
			                    "yes/no, true/false, on/off)",
			                    file, line, key, v);
		if (strcmp(key, "gpgcheck") == 0 && s->is_main)
			r->main_gpgcheck = b ? 1 : 2;
		else if (strcmp(key, "gpgcheck") == 0)
			s->gpgcheck = b;
		else if (strcmp(key, "repo_gpgcheck") == 0 && s->is_main)
			r->main_repo_gpgcheck = b ? 1 : 2;
		else if (strcmp(key, "repo_gpgcheck") == 0)
			s->repo_gpgcheck = b;
		else if (x)
			x->enabled = b;
		return 0;
	}
	if (!x)
		return 0; /* other [main] options do not concern copa */
	if (strcmp(key, "name") == 0) {
		for (char *c = v; *c; c++)
			if ((unsigned char)*c < 0x20)
				*c = ' ';
		free(x->name);
		x->name = copa_xstrdup(v);
	} else if (strcmp(key, "baseurl") == 0) {
		return split_list(v, &x->baseurls, file, line, key, err);
	} else if (strcmp(key, "gpgkey") == 0) {
		return split_list(v, &x->gpgkeys, file, line, key, err);
	} else if (strcmp(key, "mirrorlist") == 0) {
		return set_url(&x->mirrorlist, v, file, line, key, err);
	} else if (strcmp(key, "metalink") == 0) {
		return set_url(&x->metalink, v, file, line, key, err);
	}
	return 0;
}

/* Closes a section: checks the repository and applies defaults. */
static int end_section(struct copa_rpm_repos *r, struct section *s, const char *file,
                       struct copa_err *err)
{
	struct copa_rpm_repo *x = s->repo;
	int g;

	if (!x)
		return 0;
	if ((!x->baseurls || !x->baseurls[0]) && !x->mirrorlist && !x->metalink)
		return copa_err_set(err, COPA_E_INPUT,
		                    "'%s' line %zu: repository '%s' has no baseurl, mirrorlist or "
		                    "metalink",
		                    file, s->line, x->id);
	/* the repository's own setting, else [main]'s, else on (copa's default) */
	g = s->gpgcheck >= 0 ? s->gpgcheck : r->main_gpgcheck != 2;
	x->gpgcheck = g;
	x->gpgcheck_off = !g;
	/* off unless asked for, as in dnf */
	x->repo_gpgcheck = s->repo_gpgcheck >= 0 ? s->repo_gpgcheck : r->main_repo_gpgcheck == 1;
	s->repo = NULL;
	return 0;
}

static int begin_section(struct copa_rpm_repos *r, struct section *s, struct copa_blob raw,
                         const struct copa_rpm_vars *vars, const char *file, size_t line, bool conf,
                         struct copa_err *err)
{
	struct copa_rpm_repo *x;
	_cleanup_free_ char *raw_s = copa_blob_dup(raw);
	/* dnf substitutes variables in ids too ("[fedora-$releasever]") */
	_cleanup_free_ char *sub = raw.n <= 100 ? copa_rpm_vars_subst(vars, raw_s, err) : NULL;
	struct copa_blob id = sub ? copa_blob_str(sub) : raw;

	memset(s, 0, sizeof(*s));
	s->gpgcheck = s->repo_gpgcheck = -1;
	s->line = line;
	if (copa_blob_eqs(id, "main")) {
		if (!conf)
			return copa_err_set(err, COPA_E_INPUT,
			                    "'%s' line %zu: [main] belongs in "
			                    "dnf.conf, not in a .repo file",
			                    file, line);
		s->is_main = true;
		return 0;
	}
	if (!id_ok(id))
		return copa_err_set(err, COPA_E_INPUT,
		                    "'%s' line %zu: '%.*s' is not a repository id (letters, "
		                    "digits, '-', '_', '.', ':')",
		                    file, line, (int)(id.n > 100 ? 100 : id.n), id.p);
	for (size_t i = 0; i < r->n; i++)
		if (copa_blob_eqs(id, r->v[i].id))
			return copa_err_set(err, COPA_E_INPUT,
			                    "'%s' line %zu: repository '%s' is already defined at "
			                    "%s",
			                    file, line, r->v[i].id, r->v[i].where);
	if (r->n >= COPA_RPM_REPOS_MAX)
		return copa_err_set(err, COPA_E_LIMIT, "more than %d repositories",
		                    COPA_RPM_REPOS_MAX);
	r->v = copa_xgrow(r->v, &r->cap, r->n + 1, sizeof(*r->v));
	x = &r->v[r->n++];
	memset(x, 0, sizeof(*x));
	x->id = copa_blob_dup(id);
	x->enabled = true;
	x->gpgcheck = true;
	x->where = copa_xasprintf("%s:%zu", file, line);
	x->baseurls = copa_xcalloc(1, sizeof(char *));
	x->gpgkeys = copa_xcalloc(1, sizeof(char *));
	s->repo = x;
	return 0;
}

int copa_rpm_repos_parse(struct copa_rpm_repos *r, const struct copa_rpm_vars *vars,
                         const char *text, size_t n, const char *file, struct copa_err *err)
{
	struct copa_blob rest = copa_blob(text, n), line;
	struct section s = {.repo = NULL, .gpgcheck = -1, .repo_gpgcheck = -1};
	struct copa_buf key = COPA_BUF_INIT, val;
	size_t lineno = 0, keyline = 0, n0 = r->n;
	bool conf = copa_blob_ends(copa_blob_str(file), ".conf");
	bool in_section = false;
	int rc = 0;

	if (n > COPA_RPM_REPO_FILE_MAX)
		return copa_err_set(err, COPA_E_LIMIT, "'%s' is larger than %u KiB", file,
		                    COPA_RPM_REPO_FILE_MAX >> 10);
	if (n && memchr(text, '\0', n))
		return copa_err_set(err, COPA_E_INPUT, "'%s' has a NUL byte: not a text file",
		                    file);
	copa_buf_init(&val, COPA_RPM_VALUE_MAX);
	while (copa_blob_split(&rest, '\n', &line)) {
		struct copa_blob t = copa_blob_trim(line);
		const char *eq;

		lineno++;
		if (line.n && line.p[line.n - 1] == '\r')
			line.n--;
		/* a continuation line: starts with a blank, follows a key */
		if (line.n && (line.p[0] == ' ' || line.p[0] == '\t') && key.len && t.n &&
		    t.p[0] != '#' && t.p[0] != ';') {
			copa_buf_addc(&val, '\n');
			copa_buf_add(&val, t.p, t.n);
			continue;
		}
		if (key.len) {
			if (val.overflow) {
				rc = copa_err_set(err, COPA_E_LIMIT,
				                  "'%s' line %zu: value of '%s' "
				                  "is longer than %d bytes",
				                  file, keyline, copa_buf_str(&key),
				                  COPA_RPM_VALUE_MAX);
				goto out;
			}
			if ((rc = apply_key(r, &s, copa_buf_str(&key), copa_buf_str(&val), vars,
			                    file, keyline, err)) < 0)
				goto out;
			copa_buf_reset(&key);
			copa_buf_reset(&val);
		}
		if (t.n == 0 || t.p[0] == '#' || t.p[0] == ';')
			continue;
		if (t.p[0] == '[') {
			if (t.p[t.n - 1] != ']') {
				rc = copa_err_set(err, COPA_E_INPUT,
				                  "'%s' line %zu: section header without ']'", file,
				                  lineno);
				goto out;
			}
			if ((rc = end_section(r, &s, file, err)) < 0 ||
			    (rc = begin_section(r, &s, copa_blob_trim(copa_blob(t.p + 1, t.n - 2)),
			                        vars, file, lineno, conf, err)) < 0)
				goto out;
			in_section = true;
			continue;
		}
		eq = copa_blob_chr(t, '=');
		if (!eq) {
			rc = copa_err_set(err, COPA_E_INPUT,
			                  "'%s' line %zu: expected 'key=value', '[section]' or a "
			                  "comment",
			                  file, lineno);
			goto out;
		}
		if (!in_section) {
			rc = copa_err_set(err, COPA_E_INPUT,
			                  "'%s' line %zu: option before the first [section]", file,
			                  lineno);
			goto out;
		}
		{
			struct copa_blob k = copa_blob_trim(copa_blob(t.p, (size_t)(eq - t.p)));
			struct copa_blob v =
			    copa_blob_trim(copa_blob(eq + 1, (size_t)(t.p + t.n - eq - 1)));

			if (k.n == 0 || k.n > 64) {
				rc = copa_err_set(err, COPA_E_INPUT,
				                  "'%s' line %zu: empty or overlong option name",
				                  file, lineno);
				goto out;
			}
			copa_buf_add(&key, k.p, k.n);
			copa_buf_add(&val, v.p, v.n);
			keyline = lineno;
		}
	}
	if (key.len) {
		if (val.overflow) {
			rc = copa_err_set(err, COPA_E_LIMIT,
			                  "'%s' line %zu: value of '%s' is "
			                  "longer than %d bytes",
			                  file, keyline, copa_buf_str(&key), COPA_RPM_VALUE_MAX);
			goto out;
		}
		if ((rc = apply_key(r, &s, copa_buf_str(&key), copa_buf_str(&val), vars, file,
		                    keyline, err)) < 0)
			goto out;
	}
	rc = end_section(r, &s, file, err);
out:
	copa_buf_release(&key);
	copa_buf_release(&val);
	/* a file is taken whole or not at all */
	while (rc < 0 && r->n > n0)
		repo_release(&r->v[--r->n]);
	return rc;
}

/* ------------------------------------------------------------- the image */

static int read_vars_dir(struct copa_view *v, const char *dir, struct copa_rpm_vars *vars,
                         struct copa_out *out, struct copa_err *err)
{
	struct copa_buf canon = COPA_BUF_INIT, content = COPA_BUF_INIT;
	const struct copa_view_entry **kids = NULL;
	struct copa_err e = COPA_ERR_INIT;
	size_t nk = 0;
	int rc = 0;

	if (copa_view_resolve(v, dir, COPA_VIEW_FOLLOW, &canon, NULL, &e) < 0 ||
	    copa_view_children(v, copa_buf_str(&canon), &kids, &nk) < 0)
		goto out; /* no such directory */
	for (size_t i = 0; i < nk; i++) {
		_cleanup_free_ char *path = NULL, *value = NULL;
		struct copa_blob first, rest;

		if (!var_name_ok(kids[i]->name, strlen(kids[i]->name))) {
			copa_debug(out, "ignoring '%s/%s': not a variable name", dir,
			           kids[i]->name);
			continue;
		}
		path = copa_xasprintf("%s/%s", copa_buf_str(&canon), kids[i]->name);
		if (copa_view_read(v, path, 4096, &content, &e) < 0) {
			copa_warn(out, "ignoring dnf variable file '%s': %s", path, e.msg);
			continue;
		}
		rest = copa_blob(content.p, content.len);
		if (!copa_blob_split(&rest, '\n', &first))
			first = COPA_BLOB_NULL;
		value = copa_blob_dup(copa_blob_trim(first));
		for (char *c = value; *c; c++)
			if ((unsigned char)*c < 0x20)
				*c = ' ';
		if ((rc = copa_rpm_vars_set(vars, kids[i]->name, value, err)) < 0) {
			copa_err_wrap(err, "'%s'", path);
			goto out;
		}
	}
out:
	free(kids);
	copa_buf_release(&canon);
	copa_buf_release(&content);
	return rc;
}

static int read_one(struct copa_view *v, const char *path, const struct copa_rpm_vars *vars,
                    struct copa_rpm_repos *r, struct copa_err *err)
{
	struct copa_buf b = COPA_BUF_INIT;
	struct copa_err e = COPA_ERR_INIT;
	int rc;

	if (copa_view_read(v, path, COPA_RPM_REPO_FILE_MAX, &b, &e) < 0) {
		copa_buf_release(&b);
		if (e.code == COPA_E_NOTFOUND)
			return 0;
		*err = e;
		return copa_err_wrap(err, "cannot read '%s'", path);
	}
	rc = copa_rpm_repos_parse(r, vars, copa_buf_str(&b), b.len, path, err);
	copa_buf_release(&b);
	return rc;
}

int copa_rpm_repos_read_view(struct copa_view *v, struct copa_rpm_vars *vars,
                             struct copa_rpm_repos *r, struct copa_out *out, struct copa_err *err)
{
	static const char *const confs[] = {"etc/dnf/dnf.conf", "etc/yum.conf",
	                                    "etc/tdnf/tdnf.conf"};
	struct copa_buf canon = COPA_BUF_INIT;
	const struct copa_view_entry **kids = NULL;
	struct copa_err e = COPA_ERR_INIT;
	size_t nk = 0, files = 0;
	int rc = 0;

	if (read_vars_dir(v, "etc/yum/vars", vars, out, err) < 0 ||
	    read_vars_dir(v, "etc/dnf/vars", vars, out, err) < 0)
		return -1;
	for (size_t i = 0; i < COPA_ARRAY_SIZE(confs); i++)
		if (read_one(v, confs[i], vars, r, err) < 0)
			return -1;
	if (copa_view_resolve(v, "etc/yum.repos.d", COPA_VIEW_FOLLOW, &canon, NULL, &e) < 0 ||
	    copa_view_children(v, copa_buf_str(&canon), &kids, &nk) < 0)
		goto out;
	for (size_t i = 0; i < nk; i++) {
		_cleanup_free_ char *path = NULL;

		if (!copa_blob_ends(copa_blob_str(kids[i]->name), ".repo"))
			continue;
		if (++files > COPA_RPM_REPO_FILES_MAX) {
			rc = copa_err_set(err, COPA_E_LIMIT,
			                  "more than %d files in "
			                  "'etc/yum.repos.d'",
			                  COPA_RPM_REPO_FILES_MAX);
			goto out;
		}
		path = copa_xasprintf("%s/%s", copa_buf_str(&canon), kids[i]->name);
		if ((rc = read_one(v, path, vars, r, err)) < 0)
			goto out;
	}
out:
	free(kids);
	copa_buf_release(&canon);
	return rc;
}
