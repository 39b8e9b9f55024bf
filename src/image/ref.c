#include "image/ref.h"

#include "util/hash.h"
#include "util/mem.h"

#include <ctype.h>
#include <string.h>

#define NAME_MAX_LEN 255

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

bool copa_ref_tag_valid(const char *tag)
{
	size_t n = strlen(tag);

	if (n == 0 || n > 128 || !(is_alnum(tag[0]) || tag[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(is_alnum(tag[i]) || tag[i] == '_' || tag[i] == '.' || tag[i] == '-'))
			return false;
	return true;
}

/* One path component: alnum+ (sep alnum+)* with sep = "." | "_" | "__" | "-"+. */
static const char *component_error(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0)
		return "empty path component";
	for (size_t k = 0; k < n; k++)
		if (s[k] >= 'A' && s[k] <= 'Z')
			return "repository name must be lowercase";
	while (i < n) {
		size_t start = i;

		while (i < n && is_lower_alnum(s[i]))
			i++;
		if (i == start)
			return "path components must start and end with a letter or digit";
		if (i == n)
			break;
		start = i;
		if (s[i] == '.') {
			i++;
		} else if (s[i] == '_') {
			i++;
			if (i < n && s[i] == '_')
				i++;
		} else if (s[i] == '-') {
			while (i < n && s[i] == '-')
				i++;
		} else {
			return "invalid character in repository name";
		}
		if (i == n)
			return "path components must start and end with a letter or digit";
	}
	return NULL;
}

static const char *path_error(const char *s)
{
	const char *p = s;

	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		const char *e = component_error(p, n);

		if (e)
			return e;
		if (!slash)
			return NULL;
		p = slash + 1;
	}
}

static bool domain_label_valid(const char *s, size_t n)
{
	if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(is_alnum(s[i]) || s[i] == '-'))
			return false;
	return true;
}

static bool domain_valid(const char *d)
{
	const char *host_end;
	const char *port = NULL;

	if (d[0] == '[') {
		const char *close = strchr(d, ']');

		if (!close || close == d + 1)
			return false;
		for (const char *c = d + 1; c < close; c++)
			if (!(isxdigit((unsigned char)*c) || *c == ':' || *c == '.'))
				return false;
		host_end = close + 1;
		if (*host_end == ':')
			port = host_end + 1;
		else if (*host_end)
			return false;
	} else {
		const char *colon = strchr(d, ':');
		const char *p = d;

		host_end = colon ? colon : d + strlen(d);
		if (colon)
			port = colon + 1;
		while (p < host_end) {
			const char *dot = memchr(p, '.', (size_t)(host_end - p));
			size_t n = dot ? (size_t)(dot - p) : (size_t)(host_end - p);

			if (!domain_label_valid(p, n))
				return false;
			p += n;
			if (dot) {
				p++;
				if (p == host_end)
					return false;
			}
		}
		if (host_end == d)
			return false;
	}
	if (port) {
		size_t n = strlen(port);

		if (n == 0 || n > 5)
			return false;
		for (size_t i = 0; i < n; i++)
			if (!isdigit((unsigned char)port[i]))
				return false;
	}
	return true;
}

static bool is_hex64(const char *s)
{
	size_t n = strlen(s);

	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

void copa_ref_release(struct copa_ref *ref)
{
	free(ref->domain);
	free(ref->path);
	free(ref->tag);
	free(ref->digest);
	memset(ref, 0, sizeof(*ref));
}

int copa_ref_parse(const char *s, struct copa_ref *ref, struct copa_err *err)
{
	_cleanup_free_ char *name = NULL;
	_cleanup_free_ char *tag = NULL;
	_cleanup_free_ char *digest = NULL;
	_cleanup_free_ char *domain = NULL;
	_cleanup_free_ char *path = NULL;
	const char *at, *slash, *colon, *e;
	size_t n = strlen(s);

	memset(ref, 0, sizeof(*ref));
	if (n == 0)
		return copa_err_set(err, COPA_E_INPUT, "invalid image reference '': empty");
	if (n > COPA_REF_MAX)
		return copa_err_set(err, COPA_E_INPUT,
		                    "invalid image reference '%.64s...': longer than %d bytes", s,
		                    COPA_REF_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return copa_err_set(
			    err, COPA_E_INPUT,
			    "invalid image reference '%s': contains a space, control "
			    "or non-ASCII character",
			    s);

	at = strchr(s, '@');
	if (at) {
		digest = copa_xstrdup(at + 1);
		if (!copa_digest_valid(digest))
			return copa_err_set(err, COPA_E_INPUT,
			                    "invalid image reference '%s': '%s' is not a sha256 or "
			                    "sha512 digest (expected sha256:<64 lowercase hex>)",
			                    s, digest);
		name = copa_xstrndup(s, (size_t)(at - s));
	} else {
		name = copa_xstrdup(s);
	}

	slash = strrchr(name, '/');
	colon = strrchr(name, ':');
	if (colon && (!slash || colon > slash)) {
		tag = copa_xstrdup(colon + 1);
		name[colon - name] = '\0';
		if (!copa_ref_tag_valid(tag))
			return copa_err_set(
			    err, COPA_E_INPUT,
			    "invalid image reference '%s': invalid tag '%s' (letters, "
			    "digits, '_', '.', '-', at most 128, not starting with '.' "
			    "or '-')",
			    s, tag);
	}
	if (!name[0])
		return copa_err_set(err, COPA_E_INPUT,
		                    "invalid image reference '%s': missing repository name", s);

	slash = strchr(name, '/');
	if (slash) {
		size_t dn = (size_t)(slash - name);
		bool upper = false;

		for (size_t i = 0; i < dn; i++)
			upper |= name[i] >= 'A' && name[i] <= 'Z';
		if (memchr(name, '.', dn) || memchr(name, ':', dn) ||
		    (dn == 9 && !memcmp(name, "localhost", 9)) || upper) {
			domain = copa_xstrndup(name, dn);
			path = copa_xstrdup(slash + 1);
		}
	}
	if (!domain) {
		if (is_hex64(name))
			return copa_err_set(
			    err, COPA_E_INPUT,
			    "invalid image reference '%s': a 64-character hexadecimal "
			    "string is an image ID, not a repository name",
			    s);
		domain = copa_xstrdup("docker.io");
		path = copa_xstrdup(name);
	} else if (!domain_valid(domain)) {
		return copa_err_set(err, COPA_E_INPUT,
		                    "invalid image reference '%s': invalid registry host '%s'", s,
		                    domain);
	}
	if (!strcmp(domain, "index.docker.io")) {
		free(domain);
		domain = copa_xstrdup("docker.io");
	}
	if (!path[0])
		return copa_err_set(err, COPA_E_INPUT,
		                    "invalid image reference '%s': missing repository name", s);
	e = path_error(path);
	if (e)
		return copa_err_set(err, COPA_E_INPUT, "invalid image reference '%s': %s", s, e);
	if (!strcmp(domain, "docker.io") && !strchr(path, '/')) {
		char *p = copa_xasprintf("library/%s", path);

		free(path);
		path = p;
	}
	if (strlen(domain) + 1 + strlen(path) > NAME_MAX_LEN)
		return copa_err_set(err, COPA_E_INPUT,
		                    "invalid image reference '%s': repository name longer than %d "
		                    "characters",
		                    s, NAME_MAX_LEN);
	if (!tag && !digest) {
		tag = copa_xstrdup("latest");
		ref->tag_defaulted = true;
	}
	ref->domain = steal_ptr(&domain);
	ref->path = steal_ptr(&path);
	ref->tag = steal_ptr(&tag);
	ref->digest = steal_ptr(&digest);
	return 0;
}

char *copa_ref_name(const struct copa_ref *ref)
{
	return copa_xasprintf("%s/%s", ref->domain, ref->path);
}

char *copa_ref_string(const struct copa_ref *ref)
{
	return copa_xasprintf("%s/%s%s%s%s%s", ref->domain, ref->path, ref->tag ? ":" : "",
	                      ref->tag ? ref->tag : "", ref->digest ? "@" : "",
	                      ref->digest ? ref->digest : "");
}

const char *copa_ref_lookup(const struct copa_ref *ref)
{
	return ref->digest ? ref->digest : ref->tag;
}

/* ref ::= component ("/" component)*; component ::= alnum (separator alnum)*;
 * separator ::= [-._:@+] | "--". */
bool copa_ref_oci_name_valid(const char *name)
{
	const char *p = name;

	if (!*p || strlen(name) > 512)
		return false;
	for (;;) {
		if (!is_alnum(*p))
			return false;
		while (is_alnum(*p))
			p++;
		if (!*p)
			return true;
		if (*p == '/') {
			p++;
			continue;
		}
		if (p[0] == '-' && p[1] == '-')
			p += 2;
		else if (strchr("-._:@+", *p))
			p++;
		else
			return false;
	}
}

const char *copa_transport_name(enum copa_transport t)
{
	switch (t) {
	case COPA_TRANSPORT_REGISTRY:
		return "registry";
	case COPA_TRANSPORT_OCI:
		return "oci";
	case COPA_TRANSPORT_OCI_ARCHIVE:
		return "oci-archive";
	case COPA_TRANSPORT_DOCKER_ARCHIVE:
		return "docker-archive";
	}
	return "?";
}

void copa_image_ref_release(struct copa_image_ref *r)
{
	free(r->path);
	free(r->tag);
	copa_ref_release(&r->ref);
	memset(r, 0, sizeof(*r));
	r->archive_index = -1;
}

void copa_image_ref_copy(struct copa_image_ref *dst, const struct copa_image_ref *src)
{
	*dst = *src;
	dst->path = src->path ? copa_xstrdup(src->path) : NULL;
	dst->tag = src->tag ? copa_xstrdup(src->tag) : NULL;
	memset(&dst->ref, 0, sizeof(dst->ref));
	if (src->has_ref) {
		dst->ref.domain = copa_xstrdup(src->ref.domain);
		dst->ref.path = copa_xstrdup(src->ref.path);
		dst->ref.tag = src->ref.tag ? copa_xstrdup(src->ref.tag) : NULL;
		dst->ref.digest = src->ref.digest ? copa_xstrdup(src->ref.digest) : NULL;
		dst->ref.tag_defaulted = src->ref.tag_defaulted;
	}
}

/* Transports skopeo knows that copa does not (recognised for a clear error). */
static const char *const unsupported_transports[] = {
    "docker-daemon", "containers-storage", "dir", "ostree", "sif", "tarball", NULL,
};

static int parse_local(const char *s, const char *rest, struct copa_image_ref *out,
                       struct copa_err *err)
{
	const char *colon = strchr(rest, ':');
	size_t pn = colon ? (size_t)(colon - rest) : strlen(rest);
	const char *what = copa_transport_name(out->transport);

	if (pn == 0)
		return copa_err_set(
		    err, COPA_E_INPUT, "invalid image reference '%s': missing %s after '%s:'", s,
		    out->transport == COPA_TRANSPORT_OCI ? "directory" : "file", what);
	out->path = copa_xstrndup(rest, pn);
	if (!colon)
		return 0;
	if (out->transport == COPA_TRANSPORT_DOCKER_ARCHIVE) {
		const char *r = colon + 1;

		if (r[0] == '@') {
			uint64_t idx = 0;

			for (const char *c = r + 1; *c; c++) {
				if (!isdigit((unsigned char)*c) || idx > 100000)
					return copa_err_set(
					    err, COPA_E_INPUT,
					    "invalid image reference '%s': '@' must be "
					    "followed by an image number",
					    s);
				idx = idx * 10 + (uint64_t)(*c - '0');
			}
			if (!r[1])
				return copa_err_set(err, COPA_E_INPUT,
				                    "invalid image reference '%s': '@' must be "
				                    "followed by an image number",
				                    s);
			out->archive_index = (int)idx;
			return 0;
		}
		if (copa_ref_parse(r, &out->ref, err) < 0)
			return copa_err_wrap(err, "docker-archive reference");
		if (out->ref.digest)
			return copa_err_set(
			    err, COPA_E_INPUT,
			    "invalid image reference '%s': a docker-archive reference "
			    "names a tag, not a digest",
			    s);
		out->has_ref = true;
		return 0;
	}
	if (!copa_ref_oci_name_valid(colon + 1))
		return copa_err_set(
		    err, COPA_E_INPUT,
		    "invalid image reference '%s': invalid tag '%s' for %s (letters, "
		    "digits and -._:@+/ separators)",
		    s, colon + 1, what);
	out->tag = copa_xstrdup(colon + 1);
	return 0;
}

int copa_image_ref_parse(const char *s, struct copa_image_ref *out, struct copa_err *err)
{
	static const struct {
		const char *prefix;
		enum copa_transport t;
	} local[] = {
	    {"oci:", COPA_TRANSPORT_OCI},
	    {"oci-archive:", COPA_TRANSPORT_OCI_ARCHIVE},
	    {"docker-archive:", COPA_TRANSPORT_DOCKER_ARCHIVE},
	};
	const char *colon;

	memset(out, 0, sizeof(*out));
	out->archive_index = -1;
	if (strlen(s) > 4096)
		return copa_err_set(err, COPA_E_INPUT,
		                    "invalid image reference: longer than 4096 bytes");
	for (size_t i = 0; i < COPA_ARRAY_SIZE(local); i++) {
		size_t n = strlen(local[i].prefix);

		if (!strncmp(s, local[i].prefix, n)) {
			out->transport = local[i].t;
			if (parse_local(s, s + n, out, err) < 0) {
				copa_image_ref_release(out);
				return -1;
			}
			return 0;
		}
	}
	out->transport = COPA_TRANSPORT_REGISTRY;
	out->has_ref = true;
	if (!strncmp(s, "docker://", 9)) {
		s += 9;
	} else if (!strncmp(s, "docker:", 7) && !isdigit((unsigned char)s[7])) {
		return copa_err_set(err, COPA_E_INPUT,
		                    "invalid image reference '%s': the docker transport is written "
		                    "'docker://REFERENCE'",
		                    s);
	}
	colon = strchr(s, ':');
	if (colon) {
		for (size_t i = 0; unsupported_transports[i]; i++)
			if (strlen(unsupported_transports[i]) == (size_t)(colon - s) &&
			    !strncmp(s, unsupported_transports[i], (size_t)(colon - s)))
				return copa_err_set(err, COPA_E_UNSUPPORTED,
				                    "image reference '%s': transport '%s' is not "
				                    "supported (use a registry reference, oci:, "
				                    "oci-archive: or docker-archive:)",
				                    s, unsupported_transports[i]);
	}
	if (copa_ref_parse(s, &out->ref, err) < 0) {
		copa_image_ref_release(out);
		out->transport = COPA_TRANSPORT_REGISTRY;
		return -1;
	}
	return 0;
}

char *copa_image_ref_string(const struct copa_image_ref *r)
{
	switch (r->transport) {
	case COPA_TRANSPORT_REGISTRY:
		return copa_ref_string(&r->ref);
	case COPA_TRANSPORT_OCI:
	case COPA_TRANSPORT_OCI_ARCHIVE:
		return copa_xasprintf("%s:%s%s%s", copa_transport_name(r->transport), r->path,
		                      r->tag ? ":" : "", r->tag ? r->tag : "");
	case COPA_TRANSPORT_DOCKER_ARCHIVE:
		if (r->has_ref) {
			_cleanup_free_ char *ref = copa_ref_string(&r->ref);

			return copa_xasprintf("docker-archive:%s:%s", r->path, ref);
		}
		if (r->archive_index >= 0)
			return copa_xasprintf("docker-archive:%s:@%d", r->path, r->archive_index);
		return copa_xasprintf("docker-archive:%s", r->path);
	}
	return copa_xstrdup("?");
}
