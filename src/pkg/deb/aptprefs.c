#include "pkg/deb/aptprefs.h"

#include "pkg/deb/control.h"
#include "util/mem.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

/* More records than any real image carries; a cap on hostile input. */
#define MAX_PINS    4096
#define MAX_PATTERN 512

static void pin_release(struct copa_apt_pin *pin)
{
	free(pin->where);
	copa_strv_free(pin->packages);
	free(pin->version);
	free(pin->origin);
	for (size_t k = 0; k < pin->n_attrs; k++)
		free(pin->attrs[k].value);
	free(pin->attrs);
	memset(pin, 0, sizeof(*pin));
}

void copa_apt_prefs_release(struct copa_apt_prefs *p)
{
	for (size_t i = 0; i < p->n; i++)
		pin_release(&p->v[i]);
	free(p->v);
	memset(p, 0, sizeof(*p));
}

static bool is_regex(struct copa_blob w)
{
	return w.n >= 2 && w.p[0] == '/' && w.p[w.n - 1] == '/';
}

/* "a=stable, n=bookworm" → attrs; false (with *bad set) when unusable. */
static bool parse_release(struct copa_blob v, struct copa_apt_pin *pin, const char **bad)
{
	size_t cap = 0;

	/* "release stable" (a bare archive name) means a=stable. */
	if (v.n && !memchr(v.p, '=', v.n)) {
		struct copa_blob t = copa_blob_trim(v);

		if (is_regex(t)) {
			*bad = "regular expressions";
			return false;
		}
		pin->attrs = copa_xcalloc(1, sizeof(*pin->attrs));
		pin->attrs[0].key = 'a';
		pin->attrs[0].value = copa_blob_dup(t);
		pin->n_attrs = 1;
		return true;
	}
	while (v.n) {
		const char *comma = memchr(v.p, ',', v.n);
		struct copa_blob item =
		    copa_blob_trim(copa_blob(v.p, comma ? (size_t)(comma - v.p) : v.n));
		struct copa_blob val;
		char key;

		v = comma ? copa_blob(comma + 1, v.n - (size_t)(comma - v.p) - 1)
		          : copa_blob(NULL, 0);
		if (!item.n)
			continue;
		if (item.n < 2 || item.p[1] != '=' || !strchr("anolcb", item.p[0])) {
			*bad = item.n >= 2 && item.p[1] == '='
			           ? "release keys other than a, n, o, l, c, b"
			           : "a malformed Pin: release";
			return false;
		}
		key = item.p[0];
		val = copa_blob_trim(copa_blob(item.p + 2, item.n - 2));
		if (is_regex(val)) {
			*bad = "regular expressions";
			return false;
		}
		if (val.n > MAX_PATTERN) {
			*bad = "a value that long";
			return false;
		}
		pin->attrs = copa_xgrow(pin->attrs, &cap, pin->n_attrs + 1, sizeof(*pin->attrs));
		pin->attrs[pin->n_attrs].key = key;
		pin->attrs[pin->n_attrs].value = copa_blob_dup(val);
		pin->n_attrs++;
	}
	if (!pin->n_attrs) {
		*bad = "an empty Pin: release";
		return false;
	}
	return true;
}

/* Fills pin from one record; false with *bad naming what copa cannot use. */
static bool parse_record(const struct copa_deb822_para *para, struct copa_apt_pin *pin,
                         const char **bad)
{
	struct copa_blob pkgs = copa_deb822_get_trim(para, "Package");
	struct copa_blob pinv = copa_deb822_get_trim(para, "Pin");
	struct copa_blob prio = copa_deb822_get_trim(para, "Pin-Priority");
	struct copa_blob w, rest;
	size_t n = 0;
	char buf[32], *end;

	if (!pkgs.p || !pinv.p || !prio.p) {
		*bad = "a record without Package, Pin and Pin-Priority";
		return false;
	}
	if (!prio.n || prio.n >= sizeof(buf)) {
		*bad = "an invalid Pin-Priority";
		return false;
	}
	memcpy(buf, prio.p, prio.n);
	buf[prio.n] = '\0';
	errno = 0;
	pin->priority = strtol(buf, &end, 10);
	if (*end || errno || end == buf) {
		*bad = "an invalid Pin-Priority";
		return false;
	}
	rest = copa_blob_eqs(pkgs, "*") ? copa_blob(pkgs.p + pkgs.n, 0) : pkgs; /* "*": general */
	while (copa_blob_word(&rest, &w)) {
		if (is_regex(w)) {
			*bad = "regular expressions";
			return false;
		}
		if (w.n > 4 && !memcmp(w.p, "src:", 4)) {
			*bad = "source-package (src:) pins";
			return false;
		}
		if (w.n > MAX_PATTERN) {
			*bad = "a package pattern that long";
			return false;
		}
		pin->packages = copa_xrealloc(pin->packages, (n + 2) * sizeof(*pin->packages));
		pin->packages[n++] = copa_blob_dup(w);
		pin->packages[n] = NULL;
	}
	if (!n && !(pkgs.n == 1 && pkgs.p[0] == '*')) {
		*bad = "an empty Package field";
		return false;
	}
	/* "version 1.2*", "release a=stable", "origin deb.debian.org" */
	{
		const char *sp = memchr(pinv.p, ' ', pinv.n);
		struct copa_blob kind = copa_blob(pinv.p, sp ? (size_t)(sp - pinv.p) : pinv.n);
		struct copa_blob arg =
		    sp ? copa_blob_trim(copa_blob(sp + 1, pinv.n - (size_t)(sp - pinv.p) - 1))
		       : copa_blob(pinv.p + pinv.n, 0);

		if (copa_blob_eqs(kind, "version")) {
			if (!arg.n || is_regex(arg) || arg.n > MAX_PATTERN) {
				*bad = arg.n && is_regex(arg) ? "regular expressions"
				                              : "an invalid Pin: version";
				return false;
			}
			pin->kind = COPA_PIN_VERSION;
			pin->version = copa_blob_dup(arg);
			/* A version pin on "*" is a pin on every package. */
			if (!pin->packages) {
				pin->packages = copa_xcalloc(2, sizeof(*pin->packages));
				pin->packages[0] = copa_xstrdup("*");
			}
		} else if (copa_blob_eqs(kind, "release")) {
			pin->kind = COPA_PIN_RELEASE;
			return parse_release(arg, pin, bad);
		} else if (copa_blob_eqs(kind, "origin")) {
			struct copa_blob host = arg;

			if (host.n >= 2 && host.p[0] == '"' && host.p[host.n - 1] == '"')
				host = copa_blob(host.p + 1, host.n - 2);
			if (is_regex(host) || host.n > MAX_PATTERN) {
				*bad = "an invalid Pin: origin";
				return false;
			}
			pin->kind = COPA_PIN_ORIGIN;
			pin->origin = copa_blob_dup(host);
		} else {
			*bad = "a Pin other than version, release or origin";
			return false;
		}
	}
	return true;
}

int copa_apt_prefs_parse(const char *text, size_t n, const char *where, struct copa_apt_prefs *out,
                         struct copa_out *log, struct copa_err *err)
{
	struct copa_deb822_parser ps;
	struct copa_deb822_para para = {0};
	_cleanup_free_ char *what = copa_xasprintf("'%s'", where);
	int r;

	copa_deb822_init(&ps, text, n, what, true);
	while ((r = copa_deb822_next(&ps, &para, err)) == 1) {
		struct copa_apt_pin *pin = copa_xcalloc(1, sizeof(*pin));
		const char *bad = NULL;

		if (out->n >= MAX_PINS) {
			free(pin);
			r = copa_err_set(err, COPA_E_LIMIT, "'%s': more than %d pin records", where,
			                 MAX_PINS);
			break;
		}
		pin->where = copa_xasprintf("%s:%zu", where, para.line);
		if (!parse_record(&para, pin, &bad)) {
			copa_warn(log,
			          "%s: copa does not support %s in apt preferences; ignoring this "
			          "record (apt would use it)",
			          pin->where, bad);
			pin_release(pin);
			free(pin);
			continue;
		}
		out->v = copa_xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
		out->v[out->n++] = *pin;
		free(pin);
	}
	copa_deb822_para_release(&para);
	return r < 0 ? -1 : 0;
}

/* ---- matching ---- */

static bool glob_match(const char *pattern, const char *s)
{
	return fnmatch(pattern, s, 0) == 0;
}

static bool name_matches(const struct copa_apt_pin *pin, const char *name)
{
	const char *colon = strchr(name, ':');
	char base[256];

	snprintf(base, sizeof(base), "%.*s", colon ? (int)(colon - name) : (int)strlen(name), name);
	for (char **p = pin->packages; p && *p; p++) {
		/* "libc6" pins every architecture; "libc6:i386" only that one. */
		if (strchr(*p, ':') ? glob_match(*p, name) : glob_match(*p, base))
			return true;
	}
	return false;
}

static bool file_matches(const struct copa_apt_pin *pin, const struct copa_apt_file *f)
{
	if (pin->kind == COPA_PIN_ORIGIN)
		return !f->status && glob_match(pin->origin, f->host ? f->host : "");
	for (size_t i = 0; i < pin->n_attrs; i++) {
		const struct copa_apt_pin_attr *a = &pin->attrs[i];
		const char *v;

		if (f->status) {
			/* The status file is apt's archive "now" and matches nothing else. */
			if (a->key != 'a' || strcmp(a->value, "now") != 0)
				return false;
			continue;
		}
		switch (a->key) {
		case 'a':
			v = f->suite;
			break;
		case 'n':
			v = f->codename;
			break;
		case 'o':
			v = f->origin;
			break;
		case 'l':
			v = f->label;
			break;
		case 'c':
			v = f->component;
			break;
		default:
			v = f->arch;
			break;
		}
		if (!glob_match(a->value, v ? v : ""))
			return false;
	}
	return true;
}

static long default_priority(const struct copa_apt_file *f)
{
	if (f->status)
		return 100;
	if (f->not_automatic)
		return f->but_automatic_upgrades ? 100 : 1;
	return 500;
}

long copa_apt_priority(const struct copa_apt_prefs *p, const char *name, const char *version,
                       const struct copa_apt_file *files, size_t n, const struct copa_apt_pin **why)
{
	long best = 0;
	bool have = false;

	if (why)
		*why = NULL;
	/* A specific pin: the first record naming the package whose pin matches this version. */
	for (size_t i = 0; p && i < p->n; i++) {
		const struct copa_apt_pin *pin = &p->v[i];
		bool hit = false;

		if (!pin->packages || !name_matches(pin, name))
			continue;
		if (pin->kind == COPA_PIN_VERSION)
			hit = glob_match(pin->version, version);
		else
			for (size_t k = 0; k < n && !hit; k++)
				hit = file_matches(pin, &files[k]);
		if (hit) {
			if (why)
				*why = pin;
			return pin->priority;
		}
	}
	/* Else per file: the first general pin matching it, or its default. */
	for (size_t k = 0; k < n; k++) {
		const struct copa_apt_pin *used = NULL;
		long fp = default_priority(&files[k]);

		for (size_t i = 0; p && i < p->n; i++) {
			const struct copa_apt_pin *pin = &p->v[i];

			if (pin->packages || pin->kind == COPA_PIN_VERSION ||
			    !file_matches(pin, &files[k]))
				continue;
			fp = pin->priority;
			used = pin;
			break;
		}
		if (!have || fp > best) {
			best = fp;
			have = true;
			if (why)
				*why = used;
		}
	}
	return best;
}
