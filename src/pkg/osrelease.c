#include "pkg/osrelease.h"

#include "util/blob.h"
#include "util/buf.h"
#include "util/mem.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static char *derive_codename(const struct copa_osrelease *o);

void copa_osrelease_release(struct copa_osrelease *o)
{
	free(o->id);
	free(o->id_like);
	free(o->version_id);
	free(o->version_codename);
	free(o->version);
	free(o->pretty_name);
	free(o->codename);
	memset(o, 0, sizeof(*o));
}

/* Unquotes a value: "..." with backslash escapes, '...' literally, or bare. */
static char *unquote(struct copa_blob v)
{
	struct copa_buf b = COPA_BUF_INIT;

	if (v.n >= 2 && (v.p[0] == '"' || v.p[0] == '\'') && v.p[v.n - 1] == v.p[0]) {
		char q = v.p[0];

		for (size_t i = 1; i + 1 < v.n; i++) {
			if (q == '"' && v.p[i] == '\\' && i + 2 < v.n)
				i++;
			copa_buf_addc(&b, v.p[i]);
		}
	} else {
		copa_buf_add(&b, v.p, v.n);
	}
	return copa_buf_detach(&b, NULL);
}

static void set(char **slot, struct copa_blob v)
{
	free(*slot);
	*slot = unquote(v);
	/* Control characters never belong in these values; drop them. */
	for (char *p = *slot; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
}

int copa_osrelease_parse(const char *text, size_t n, struct copa_osrelease *out,
                         struct copa_err *err)
{
	struct copa_blob rest = copa_blob(text, n), line;

	memset(out, 0, sizeof(*out));
	if (n > COPA_OSRELEASE_MAX)
		return copa_err_set(err, COPA_E_LIMIT, "'os-release' is larger than %u bytes",
		                    COPA_OSRELEASE_MAX);
	while (copa_blob_split(&rest, '\n', &line)) {
		const char *eq;
		struct copa_blob key, val;

		line = copa_blob_trim(line);
		if (line.n == 0 || line.p[0] == '#')
			continue;
		eq = copa_blob_chr(line, '=');
		if (!eq)
			continue;
		key = copa_blob(line.p, (size_t)(eq - line.p));
		val = copa_blob(eq + 1, line.n - key.n - 1);
		if (copa_blob_eqs(key, "ID"))
			set(&out->id, val);
		else if (copa_blob_eqs(key, "ID_LIKE"))
			set(&out->id_like, val);
		else if (copa_blob_eqs(key, "VERSION_ID"))
			set(&out->version_id, val);
		else if (copa_blob_eqs(key, "VERSION_CODENAME"))
			set(&out->version_codename, val);
		else if (copa_blob_eqs(key, "UBUNTU_CODENAME") && !out->version_codename)
			set(&out->version_codename, val);
		else if (copa_blob_eqs(key, "VERSION"))
			set(&out->version, val);
		else if (copa_blob_eqs(key, "PRETTY_NAME"))
			set(&out->pretty_name, val);
	}
	/* Empty values count as absent. */
	char **all[] = {&out->id,      &out->id_like,    &out->version_id, &out->version_codename,
	                &out->version, &out->pretty_name};
	for (size_t i = 0; i < COPA_ARRAY_SIZE(all); i++)
		if (*all[i] && !**all[i]) {
			free(*all[i]);
			*all[i] = NULL;
		}
	if (out->id)
		for (char *p = out->id; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	if (out->version_codename)
		for (char *p = out->version_codename; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	out->codename = derive_codename(out);
	return 0;
}

int copa_osrelease_read(struct copa_view *v, struct copa_osrelease *out, struct copa_err *err)
{
	static const char *const paths[] = {"etc/os-release", "usr/lib/os-release"};
	struct copa_buf b = COPA_BUF_INIT;
	int r = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < COPA_ARRAY_SIZE(paths); i++) {
		struct copa_err e2 = COPA_ERR_INIT;

		if (copa_view_read(v, paths[i], COPA_OSRELEASE_MAX, &b, &e2) < 0) {
			if (e2.code == COPA_E_NOTFOUND)
				continue;
			*err = e2;
			r = -1;
			break;
		}
		r = copa_osrelease_parse(copa_buf_str(&b), b.len, out, err) < 0 ? -1 : 1;
		break;
	}
	copa_buf_release(&b);
	return r;
}

static const char *const debian_names[] = {
    [7] = "wheezy",    [8] = "jessie",  [9] = "stretch", [10] = "buster", [11] = "bullseye",
    [12] = "bookworm", [13] = "trixie", [14] = "forky",  [15] = "duke",
};

const char *copa_debian_codename_of(unsigned major)
{
	return major < COPA_ARRAY_SIZE(debian_names) ? debian_names[major] : NULL;
}

/* The first word inside parentheses of s, lowercased, or NULL. */
static char *paren_word(const char *s)
{
	const char *o = s ? strchr(s, '(') : NULL;
	size_t n = 0;

	if (!o)
		return NULL;
	for (o++; isalpha((unsigned char)o[n]) && n < 32; n++)
		;
	if (!n)
		return NULL;
	char *w = copa_xstrndup(o, n);
	for (char *p = w; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return w;
}

static char *derive_codename(const struct copa_osrelease *o)
{
	if (o->version_codename)
		return copa_xstrdup(o->version_codename);
	if (o->id && strcmp(o->id, "debian") == 0 && o->version_id &&
	    isdigit((unsigned char)o->version_id[0])) {
		char *end;
		unsigned long major = strtoul(o->version_id, &end, 10);
		const char *name = major < 100 ? copa_debian_codename_of((unsigned)major) : NULL;

		if (name)
			return copa_xstrdup(name);
	}
	return paren_word(o->version);
}
