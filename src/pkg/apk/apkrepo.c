/* apkrepo.c: apk repositories (see apkrepo.h). */
#include "pkg/apk/apkrepo.h"

#include "util/blob.h"
#include "util/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void copa_apk_repos_release(struct copa_apk_repos *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].url);
		free(r->v[i].tag);
	}
	free(r->v);
	for (size_t i = 0; i < r->nwarn; i++)
		free(r->warnings[i]);
	free(r->warnings);
	*r = (struct copa_apk_repos)COPA_APK_REPOS_INIT;
}

static void warn(struct copa_apk_repos *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void warn(struct copa_apk_repos *r, const char *fmt, ...)
{
	va_list ap;
	char buf[512];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	r->warnings = copa_xrealloc(r->warnings, (r->nwarn + 2) * sizeof(*r->warnings));
	r->warnings[r->nwarn++] = copa_xstrdup(buf);
	r->warnings[r->nwarn] = NULL;
}

static bool url_ok(struct copa_blob u)
{
	if (u.n == 0)
		return false;
	for (size_t i = 0; i < u.n; i++)
		if ((unsigned char)u.p[i] <= 0x20 || u.p[i] == 0x7f)
			return false;
	/* a URL with a scheme, or a local absolute path (file repositories) */
	return copa_blob_chr(u, ':') != NULL || u.p[0] == '/';
}

static int add(struct copa_apk_repos *r, struct copa_blob url, struct copa_blob tag,
               struct copa_err *err)
{
	size_t cap = r->cap;

	if (r->n >= COPA_APK_REPOS_MAX)
		return copa_err_set(err, COPA_E_LIMIT, "more than %d repositories",
		                    COPA_APK_REPOS_MAX);
	while (url.n > 1 && url.p[url.n - 1] == '/')
		url.n--;
	r->v = copa_xgrow(r->v, &cap, r->n + 1, sizeof(*r->v));
	r->cap = cap;
	r->v[r->n].url = copa_xstrndup(url.p, url.n);
	r->v[r->n].tag = tag.n ? copa_xstrndup(tag.p, tag.n) : NULL;
	r->n++;
	return 0;
}

static bool tag_ok(struct copa_blob t)
{
	if (t.n == 0 || t.n > 64)
		return false;
	for (size_t i = 0; i < t.n; i++) {
		char c = t.p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

/* Splits off the next whitespace-separated word of *rest. */
static bool word(struct copa_blob *rest, struct copa_blob *w)
{
	size_t i = 0, j;

	while (i < rest->n && (rest->p[i] == ' ' || rest->p[i] == '\t'))
		i++;
	if (i == rest->n)
		return false;
	j = i;
	while (j < rest->n && rest->p[j] != ' ' && rest->p[j] != '\t')
		j++;
	*w = copa_blob(rest->p + i, j - i);
	*rest = copa_blob(rest->p + j, rest->n - j);
	return true;
}

int copa_apk_repos_parse(struct copa_apk_repos *r, const char *text, size_t n, const char *what,
                         struct copa_err *err)
{
	struct copa_blob rest = copa_blob(text, n), line;
	size_t lineno = 0;

	while (copa_blob_split(&rest, '\n', &line)) {
		struct copa_blob w, tag = COPA_BLOB_NULL, url;

		lineno++;
		line = copa_blob_trim(line);
		if (line.n == 0 || line.p[0] == '#')
			continue;
		if (!word(&line, &w))
			continue;
		if (copa_blob_eqs(w, "set") || copa_blob_eqs(w, "v3") || copa_blob_eqs(w, "ndx")) {
			warn(r, "%s line %zu: '%.*s' lines are apk 3's; skipped", what, lineno,
			     (int)w.n, w.p);
			continue;
		}
		if (copa_blob_eqs(w, "v2") && !word(&line, &w)) {
			warn(r, "%s line %zu: no URL after 'v2'; skipped", what, lineno);
			continue;
		}
		if (w.p[0] == '@') {
			tag = copa_blob(w.p + 1, w.n - 1);
			if (!tag_ok(tag) || !word(&line, &w)) {
				warn(r, "%s line %zu: bad tag or no URL; skipped", what, lineno);
				continue;
			}
		}
		url = w;
		if (!url_ok(url) || memmem(url.p, url.n, "${", 2)) {
			warn(r, "%s line %zu: not a repository URL: '%.*s'; skipped", what, lineno,
			     (int)(url.n > 200 ? 200 : url.n), url.p);
			continue;
		}
		struct copa_blob comp, comps = line;
		bool any = false, bad = false;

		while (word(&comps, &comp))
			bad |= !tag_ok(comp); /* components are plain names: main, community */
		if (bad) {
			warn(r, "%s line %zu: bad component; skipped", what, lineno);
			continue;
		}
		while (word(&line, &comp)) {
			char *full =
			    copa_xasprintf("%.*s/%.*s", (int)url.n, url.p, (int)comp.n, comp.p);
			int rc = add(r, copa_blob_str(full), tag, err);

			free(full);
			if (rc < 0)
				return copa_err_wrap(err, "%s line %zu", what, lineno);
			any = true;
		}
		if (!any && add(r, url, tag, err) < 0)
			return copa_err_wrap(err, "%s line %zu", what, lineno);
	}
	return 0;
}

int copa_apk_repos_add(struct copa_apk_repos *r, const char *url, const char *tag,
                       struct copa_err *err)
{
	struct copa_blob u = copa_blob_str(url), t = copa_blob_str(tag);

	if (!url_ok(u))
		return copa_err_set(err, COPA_E_USAGE, "'%s' is not a repository URL", url);
	if (tag && !tag_ok(t))
		return copa_err_set(err, COPA_E_USAGE, "'%s' is not a repository tag", tag);
	return add(r, u, tag ? t : COPA_BLOB_NULL, err);
}

int copa_apk_repos_default(struct copa_apk_repos *r, const char *os_id, const char *version_id,
                           struct copa_err *err)
{
	static const char cdn[] = "https://dl-cdn.alpinelinux.org/alpine";
	char branch[32];

	if (strcmp(os_id, "wolfi") == 0)
		return copa_apk_repos_add(r, "https://packages.wolfi.dev/os", NULL, err);
	if (strcmp(os_id, "alpine") != 0)
		return copa_err_set(err, COPA_E_UNSUPPORTED,
		                    "no default apk repositories for '%s' (give them with --repo)",
		                    os_id);
	if (strcmp(version_id, "edge") == 0 || strstr(version_id, "_alpha")) {
		snprintf(branch, sizeof(branch), "edge");
	} else {
		unsigned major, minor;
		int used = 0;

		if (sscanf(version_id, "%u.%u%n", &major, &minor, &used) != 2 || major > 99 ||
		    minor > 99 || (version_id[used] && version_id[used] != '.'))
			return copa_err_set(err, COPA_E_UNSUPPORTED,
			                    "alpine version '%s' names no release branch "
			                    "(give the repositories with --repo)",
			                    version_id);
		snprintf(branch, sizeof(branch), "v%u.%u", major, minor);
	}
	for (int i = 0; i < 2; i++) {
		char *url = copa_xasprintf("%s/%s/%s", cdn, branch, i ? "community" : "main");
		int rc = copa_apk_repos_add(r, url, NULL, err);

		free(url);
		if (rc < 0)
			return rc;
	}
	return 0;
}

char *copa_apk_repo_index_url(const struct copa_apk_repo *repo, const char *arch)
{
	return copa_xasprintf("%s/%s/APKINDEX.tar.gz", repo->url, arch);
}

char *copa_apk_repo_package_url(const struct copa_apk_repo *repo, const char *arch,
                                const char *name, const char *version)
{
	return copa_xasprintf("%s/%s/%s-%s.apk", repo->url, arch, name, version);
}
