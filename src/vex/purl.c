/*
 * purl.c: canonical package URLs.
 */
#include "vex/purl.h"

#include "util/hash.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

static bool literal(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_' || c == '~' || c == ':';
}

void copa_purl_encode(struct copa_buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (literal(*p)) {
			copa_buf_addc(out, (char)*p);
		} else {
			char t[3] = {'%', hex[*p >> 4], hex[*p & 15]};

			copa_buf_add(out, t, 3);
		}
	}
}

static bool valid_key(const char *k)
{
	if (!k || !(*k >= 'a' && *k <= 'z'))
		return false;
	for (; *k; k++)
		if (!((*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') || *k == '.' ||
		      *k == '-' || *k == '_'))
			return false;
	return true;
}

static bool valid_type(const char *t)
{
	if (!t || !(*t >= 'a' && *t <= 'z'))
		return false;
	for (; *t; t++)
		if (!((*t >= 'a' && *t <= 'z') || (*t >= '0' && *t <= '9') || *t == '.' ||
		      *t == '-'))
			return false;
	return true;
}

static int cmp_qual(const void *a, const void *b)
{
	return strcmp(((const struct copa_purl_qual *)a)->key,
	              ((const struct copa_purl_qual *)b)->key);
}

int copa_purl_build(struct copa_buf *out, const char *type, const char *ns, const char *name,
                    const char *version, const struct copa_purl_qual *quals, size_t n_quals,
                    struct copa_err *err)
{
	struct copa_purl_qual sorted[16];
	size_t n = 0;
	char sep = '?';

	copa_buf_reset(out);
	if (!valid_type(type))
		return copa_err_set(err, COPA_E_INPUT, "invalid purl type '%s'", type ? type : "");
	if (!name || !*name)
		return copa_err_set(err, COPA_E_INPUT, "purl of type '%s' without a name", type);
	if (n_quals > COPA_ARRAY_SIZE(sorted))
		COPA_BUG("too many purl qualifiers (%zu)", n_quals);
	for (size_t i = 0; i < n_quals; i++) {
		if (!valid_key(quals[i].key))
			return copa_err_set(err, COPA_E_INPUT, "invalid purl qualifier key '%s'",
			                    quals[i].key ? quals[i].key : "");
		if (quals[i].value && *quals[i].value)
			sorted[n++] = quals[i];
	}
	qsort(sorted, n, sizeof(*sorted), cmp_qual);
	for (size_t i = 1; i < n; i++)
		if (!strcmp(sorted[i].key, sorted[i - 1].key))
			return copa_err_set(err, COPA_E_INPUT, "duplicate purl qualifier '%s'",
			                    sorted[i].key);

	copa_buf_adds(out, "pkg:");
	copa_buf_adds(out, type);
	copa_buf_addc(out, '/');
	if (ns && *ns) {
		const char *p = ns;

		/* Each namespace segment is encoded on its own; empty ones vanish. */
		while (*p) {
			const char *slash = strchr(p, '/');
			size_t len = slash ? (size_t)(slash - p) : strlen(p);

			if (len) {
				char *seg = copa_xstrndup(p, len);

				copa_purl_encode(out, seg);
				copa_buf_addc(out, '/');
				free(seg);
			}
			p += len + (slash ? 1 : 0);
		}
	}
	copa_purl_encode(out, name);
	if (version && *version) {
		copa_buf_addc(out, '@');
		copa_purl_encode(out, version);
	}
	for (size_t i = 0; i < n; i++) {
		copa_buf_addc(out, sep);
		copa_buf_adds(out, sorted[i].key);
		copa_buf_addc(out, '=');
		copa_purl_encode(out, sorted[i].value);
		sep = '&';
	}
	if (out->overflow)
		return copa_err_set(err, COPA_E_LIMIT, "purl too long");
	return 0;
}

static void lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* The last path component of p without a trailing '/' or archive extension. */
static char *base_name(const char *p, size_t n)
{
	const char *b;
	char *s, *dot;

	while (n > 1 && p[n - 1] == '/')
		n--;
	b = p + n;
	while (b > p && b[-1] != '/')
		b--;
	s = copa_xstrndup(b, (size_t)(p + n - b));
	if ((dot = strrchr(s, '.')) && dot != s &&
	    (!strcmp(dot, ".tar") || !strcmp(dot, ".oci") || !strcmp(dot, ".gz")))
		*dot = '\0';
	return s;
}

int copa_purl_oci(struct copa_buf *out, const char *ref, const char *digest, const char *arch,
                  struct copa_err *err)
{
	static const char *const transports[] = {"oci:", "oci-archive:", "docker-archive:"};
	char *name = NULL, *repo = NULL, *tag = NULL;
	enum copa_hash_alg alg;
	int rc;

	if (!digest || !copa_digest_parse(digest, &alg, NULL) || alg != COPA_HASH_SHA256)
		return copa_err_set(err, COPA_E_INPUT, "image digest '%s' is not sha256:<64 hex>",
		                    digest ? digest : "");
	if (!ref || !*ref)
		return copa_err_set(err, COPA_E_INPUT, "no image reference for the purl");
	for (size_t i = 0; i < COPA_ARRAY_SIZE(transports); i++) {
		size_t tl = strlen(transports[i]);
		const char *rest, *colon;

		if (strncmp(ref, transports[i], tl))
			continue;
		rest = ref + tl;
		colon = strrchr(rest, ':');
		if (colon && !strchr(colon, '/')) {
			tag = copa_xstrdup(colon + 1);
			name = base_name(rest, (size_t)(colon - rest));
		} else {
			name = base_name(rest, strlen(rest));
		}
		/* docker-archive's REF is "repo:tag": keep only the tag part. */
		if (tag && strchr(tag, ':')) {
			char *t = copa_xstrdup(strrchr(tag, ':') + 1);

			free(tag);
			tag = t;
		}
		break;
	}
	if (!name) {
		size_t n = strcspn(ref, "@");
		const char *slash, *colon;

		repo = copa_xstrndup(ref, n);
		slash = strrchr(repo, '/');
		colon = strrchr(repo, ':');
		if (colon && (!slash || colon > slash)) {
			tag = copa_xstrdup(colon + 1);
			repo[colon - repo] = '\0';
		}
		slash = strrchr(repo, '/');
		name = copa_xstrdup(slash ? slash + 1 : repo);
	}
	lower(name);
	{
		struct copa_purl_qual q[] = {
		    {"arch", arch}, {"repository_url", repo}, {"tag", tag}};

		rc = copa_purl_build(out, "oci", NULL, name, digest, q, COPA_ARRAY_SIZE(q), err);
	}
	free(name);
	free(repo);
	free(tag);
	return rc;
}

int copa_purl_package(struct copa_buf *out, enum copa_pkgfam fam, const char *ns, const char *name,
                      const char *version, const char *arch, const char *distro,
                      struct copa_err *err)
{
	char *n = copa_xstrdup(name ? name : ""), *epoch = NULL;
	const char *ver = version;
	int rc;

	if (fam == COPA_FAM_DEB || fam == COPA_FAM_APK)
		lower(n);
	if (fam == COPA_FAM_RPM && version) {
		const char *p = version;

		while (*p >= '0' && *p <= '9')
			p++;
		if (*p == ':' && p > version) {
			epoch = copa_xstrndup(version, (size_t)(p - version));
			ver = p + 1;
			/* Epoch 0 is the default: leave it out, as rpm does. */
			if (epoch[strspn(epoch, "0")] == '\0') {
				free(epoch);
				epoch = NULL;
			}
		}
	}
	if (fam == COPA_FAM_NONE) {
		free(n);
		return copa_err_set(err, COPA_E_UNSUPPORTED,
		                    "no purl type for packages of this OS");
	}
	{
		struct copa_purl_qual q[] = {{"arch", arch}, {"distro", distro}, {"epoch", epoch}};

		rc = copa_purl_build(out, copa_pkgfam_name(fam), ns, n, ver, q, COPA_ARRAY_SIZE(q),
		                     err);
	}
	free(n);
	free(epoch);
	return rc;
}
