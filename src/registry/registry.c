#include "registry/registry.h"

#include "registry/auth.h"
#include "util/blob.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/runctl.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#define DEFAULT_MAX_MANIFEST  (4u << 20)
#define DEFAULT_MAX_BLOB      (32ULL << 30)
#define TOKEN_BODY_MAX        (256u << 10)
#define ERROR_BODY_MAX        (64u << 10)
#define MANIFEST_BLOB_RETRIES 3 /* waits of 0.2, 0.4, 0.6 s */
#define MAX_REDIRECTS         10
#define TOKEN_CACHE_MAX       32

static const char *const manifest_accept =
    "Accept: application/vnd.oci.image.index.v1+json, "
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v2+json";

enum auth_kind { AUTH_UNKNOWN, AUTH_BASIC, AUTH_BEARER };

struct token {
	char *scopes;
	char *value; /* "Bearer <token>" */
	long long expires_ms;
};

struct copa_registry {
	struct copa_http *http;
	struct copa_out *out;
	char *host;     /* as given */
	char *endpoint; /* host to connect to */
	char *repo;
	char **plain_http;
	bool plain_http_all;
	char *auth_file;
	char *username;
	char *password;
	size_t max_manifest;
	uint64_t chunk_size;
	uint64_t max_blob;
	char *ca_pem; /* per-host CA bundle from certs.d; NULL: the client's */
	char *client_cert;
	char *client_key;

	pthread_mutex_t lock; /* guards everything below */
	char *base;           /* "https://host" once decided */
	enum auth_kind kind;
	char *realm;
	char *service;
	bool cred_loaded;
	bool have_cred;
	struct copa_cred cred;
	struct token tokens[TOKEN_CACHE_MAX];
	size_t n_tokens;
};

/* ---------- helpers ---------- */

char **copa_registry_parse_host_list(const char *s)
{
	struct copa_blob rest = copa_blob_str(s), tok;
	char **v = copa_xcalloc(1, sizeof(*v));
	size_t n = 0;

	if (!s)
		return v;
	while (copa_blob_split(&rest, ',', &tok)) {
		tok = copa_blob_trim(tok);
		if (tok.n == 0)
			continue;
		v = copa_xrealloc(v, (n + 2) * sizeof(*v));
		v[n++] = copa_blob_dup(tok);
		v[n] = NULL;
	}
	return v;
}

/* Splits host[:port] / [v6]:port into the host part (malloc'd, no brackets). */
static char *host_part(const char *host)
{
	const char *colon;

	if (host[0] == '[') {
		const char *end = strchr(host, ']');

		return end ? copa_xstrndup(host + 1, (size_t)(end - host - 1)) : copa_xstrdup(host);
	}
	colon = strchr(host, ':');
	if (colon && strchr(colon + 1, ':'))
		return copa_xstrdup(host); /* a bare IPv6 address */
	return colon ? copa_xstrndup(host, (size_t)(colon - host)) : copa_xstrdup(host);
}

bool copa_registry_host_is_loopback(const char *host)
{
	_cleanup_free_ char *h = host_part(host);
	struct in_addr a4;
	struct in6_addr a6;

	if (strcasecmp(h, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, h, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, h, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return false;
}

bool copa_registry_plain_http_allowed(const struct copa_registry_opts *o, const char *host)
{
	_cleanup_free_ char *h = host_part(host);

	if (o->plain_http_all || copa_registry_host_is_loopback(host))
		return true;
	if (!o->plain_http)
		return false;
	for (const char *const *p = o->plain_http; *p; p++) {
		_cleanup_free_ char *eh = host_part(*p);
		bool has_port = (*p)[0] == '['
		                    ? strstr(*p, "]:") != NULL
		                    : (strchr(*p, ':') && !strchr(strchr(*p, ':') + 1, ':'));

		if (strcasecmp(*p, host) == 0)
			return true;
		if (!has_port && strcasecmp(eh, h) == 0)
			return true;
	}
	return false;
}

static bool is_docker_hub(const char *host)
{
	return strcasecmp(host, "docker.io") == 0 || strcasecmp(host, "index.docker.io") == 0 ||
	       strcasecmp(host, "registry-1.docker.io") == 0;
}

const char *copa_registry_endpoint(const char *host)
{
	return is_docker_hub(host) ? "registry-1.docker.io" : host;
}

bool copa_registry_host_valid(const char *host)
{
	const char *p = host, *port = NULL;
	size_t n = strlen(host);

	if (n == 0 || n > 255)
		return false;
	if (*p == '[') {
		const char *end = strchr(p, ']');
		_cleanup_free_ char *a = NULL;
		struct in6_addr a6;

		if (!end)
			return false;
		a = copa_xstrndup(p + 1, (size_t)(end - p - 1));
		if (inet_pton(AF_INET6, a, &a6) != 1)
			return false;
		if (end[1] == '\0')
			return true;
		if (end[1] != ':')
			return false;
		port = end + 2;
	} else {
		const char *s = p;

		for (; *p && *p != ':'; p++)
			if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
				return false;
		if (p == s || *s == '.' || *s == '-')
			return false;
		if (*p == ':')
			port = p + 1;
	}
	if (port) {
		uint64_t v;

		if (copa_blob_to_u64(copa_blob_str(port), 65535, &v) < 0 || v == 0)
			return false;
	}
	return true;
}

/* One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* */
static bool component_valid(struct copa_blob c)
{
	size_t i = 0;

	while (i < c.n) {
		size_t start = i;

		while (i < c.n &&
		       (islower((unsigned char)c.p[i]) || isdigit((unsigned char)c.p[i])))
			i++;
		if (i == start)
			return false;
		if (i == c.n)
			return true;
		/* separator */
		if (c.p[i] == '.') {
			i++;
		} else if (c.p[i] == '_') {
			i++;
			if (i < c.n && c.p[i] == '_')
				i++;
		} else if (c.p[i] == '-') {
			while (i < c.n && c.p[i] == '-')
				i++;
		} else {
			return false;
		}
		if (i == c.n)
			return false;
	}
	return c.n > 0;
}

bool copa_registry_repo_valid(const char *repo)
{
	struct copa_blob rest = copa_blob_str(repo), c;

	if (!repo || !*repo || strlen(repo) > 255)
		return false;
	while (copa_blob_split(&rest, '/', &c))
		if (!component_valid(c))
			return false;
	return true;
}

bool copa_registry_tag_valid(const char *tag)
{
	size_t n = strlen(tag);

	if (n == 0 || n > 128)
		return false;
	if (!isalnum((unsigned char)tag[0]) && tag[0] != '_')
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)tag[i]) && !strchr("._-", tag[i]))
			return false;
	return true;
}

char *copa_registry_upload_url(const char *base, const char *location, const char *digest)
{
	char *u = copa_url_resolve(base, location);
	char *r;
	_cleanup_free_ char *esc = NULL;

	if (!u || !digest)
		return u;
	esc = copa_url_escape(digest);
	r = copa_xasprintf("%s%cdigest=%s", u, strchr(u, '?') ? '&' : '?', esc);
	free(u);
	return r;
}

/* Appends s to out, keeping printable ASCII only. */
static void add_printable(struct copa_buf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		copa_buf_addc(out, (c >= 0x20 && c < 0x7f) ? (char)c : ' ');
	}
}

void copa_registry_error_text(const char *body, size_t n, char *out, size_t outsz)
{
	struct copa_buf b = COPA_BUF_INIT;
	struct copa_err e = COPA_ERR_INIT;
	json_t *j = NULL, *errs;

	if (outsz == 0)
		return;
	out[0] = '\0';
	if (!body || n == 0)
		return;
	if (n > ERROR_BODY_MAX)
		n = ERROR_BODY_MAX;
	copa_buf_init(&b, outsz * 2);
	if (body[0] == '{')
		j = copa_json_parse(body, n, ERROR_BODY_MAX, "error body", &e);
	errs = j ? copa_json_arr(j, "errors") : NULL;
	if (errs && json_array_size(errs) > 0) {
		for (size_t i = 0; i < json_array_size(errs) && i < 3; i++) {
			json_t *x = json_array_get(errs, i);
			const char *code = copa_json_str(x, "code");
			const char *msg = copa_json_str(x, "message");

			if (i)
				copa_buf_adds(&b, "; ");
			if (code)
				add_printable(&b, code, strlen(code) > 64 ? 64 : strlen(code));
			if (code && msg)
				copa_buf_adds(&b, ": ");
			if (msg)
				add_printable(&b, msg, strlen(msg) > 200 ? 200 : strlen(msg));
		}
	} else if (j) {
		const char *msg = copa_json_str(j, "message");

		if (!msg)
			msg = copa_json_str(j, "error");
		if (!msg)
			msg = copa_json_str(j, "details");
		if (msg)
			add_printable(&b, msg, strlen(msg) > 200 ? 200 : strlen(msg));
	} else {
		/* Plain text: the first line. */
		size_t l = 0;

		while (l < n && l < 200 && body[l] != '\n' && body[l] != '\r')
			l++;
		add_printable(&b, body, l);
	}
	if (j)
		json_decref(j);
	{
		struct copa_blob t = copa_blob_trim(copa_blob(b.p, b.len));

		snprintf(out, outsz, "%.*s", (int)t.n, t.p ? t.p : "");
	}
	copa_buf_release(&b);
}

/* ---------- client lifecycle ---------- */

static char **strv_dup(const char *const *v)
{
	size_t n = 0;
	char **out;

	if (!v)
		return NULL;
	while (v[n])
		n++;
	out = copa_xcalloc(n + 1, sizeof(*out));
	for (size_t i = 0; i < n; i++)
		out[i] = copa_xstrdup(v[i]);
	return out;
}

static void tokens_clear(struct copa_registry *r)
{
	for (size_t i = 0; i < r->n_tokens; i++) {
		free(r->tokens[i].scopes);
		explicit_bzero(r->tokens[i].value, strlen(r->tokens[i].value));
		free(r->tokens[i].value);
	}
	r->n_tokens = 0;
}

static void load_certs_dirs(struct copa_registry *r, const char *const *dirs);

struct copa_registry *copa_registry_new(const struct copa_registry_opts *opts, const char *host,
                                        const char *repo, struct copa_err *err)
{
	struct copa_registry *r;

	if (!opts->http)
		COPA_BUG("copa_registry_new without an http client");
	if (!copa_registry_host_valid(host)) {
		copa_err_set(err, COPA_E_INPUT, "invalid registry host '%.255s'", host);
		return NULL;
	}
	if (!copa_registry_repo_valid(repo)) {
		copa_err_set(err, COPA_E_INPUT,
		             "invalid repository name '%.255s': lowercase letters, digits and "
		             "'.', '_', '-' separators, components joined by '/'",
		             repo);
		return NULL;
	}
	if (!opts->username != !opts->password) {
		copa_err_set(err, COPA_E_USAGE,
		             "a registry username needs a password and vice versa");
		return NULL;
	}
	r = copa_xcalloc(1, sizeof(*r));
	r->http = opts->http;
	r->out = opts->out;
	r->host = copa_xstrdup(host);
	r->endpoint = copa_xstrdup(copa_registry_endpoint(host));
	/* Docker Hub's official images live under library/. */
	r->repo = is_docker_hub(host) && !strchr(repo, '/') ? copa_xasprintf("library/%s", repo)
	                                                    : copa_xstrdup(repo);
	r->plain_http = strv_dup(opts->plain_http);
	r->plain_http_all = opts->plain_http_all;
	r->auth_file = opts->auth_file ? copa_xstrdup(opts->auth_file) : NULL;
	r->username = opts->username ? copa_xstrdup(opts->username) : NULL;
	r->password = opts->password ? copa_xstrdup(opts->password) : NULL;
	r->max_manifest = opts->max_manifest ? opts->max_manifest : DEFAULT_MAX_MANIFEST;
	r->chunk_size = opts->chunk_size;
	r->max_blob = opts->max_blob ? opts->max_blob : DEFAULT_MAX_BLOB;
	pthread_mutex_init(&r->lock, NULL);
	load_certs_dirs(r, opts->certs_dirs);
	return r;
}

void copa_registry_free(struct copa_registry *r)
{
	if (!r)
		return;
	tokens_clear(r);
	copa_cred_release(&r->cred);
	pthread_mutex_destroy(&r->lock);
	if (r->plain_http)
		copa_strv_free(r->plain_http);
	if (r->password)
		explicit_bzero(r->password, strlen(r->password));
	free(r->password);
	free(r->username);
	free(r->auth_file);
	free(r->host);
	free(r->endpoint);
	free(r->repo);
	free(r->base);
	free(r->realm);
	free(r->service);
	free(r->ca_pem);
	free(r->client_cert);
	free(r->client_key);
	free(r);
}

const char *copa_registry_host(const struct copa_registry *r)
{
	return r->host;
}

const char *copa_registry_repo(const struct copa_registry *r)
{
	return r->repo;
}

/* ---------- per-host certificates (certs.d) ---------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Docker and podman read <dir>/<host[:port]>/NAME.crt as extra CAs for that
 * host, and client.cert + client.key for mutual TLS. The CAs are added to the
 * user's --ca-file (if any); the system store stays trusted through curl's
 * CA path.
 */
static void load_certs_dir(struct copa_registry *r, const char *dir, struct copa_buf *pem)
{
	_cleanup_free_ char *path = copa_xasprintf("%s/%s", dir, r->host);
	DIR *d = opendir(path);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;

	if (!d)
		return;
	while ((de = readdir(d)) && n < 64) {
		size_t l = strlen(de->d_name);

		if (l > 4 && strcmp(de->d_name + l - 4, ".crt") == 0) {
			names = copa_xrealloc(names, (n + 1) * sizeof(*names));
			names[n++] = copa_xstrdup(de->d_name);
		} else if (strcmp(de->d_name, "client.cert") == 0 && !r->client_cert) {
			r->client_cert = copa_xasprintf("%s/client.cert", path);
		} else if (strcmp(de->d_name, "client.key") == 0 && !r->client_key) {
			r->client_key = copa_xasprintf("%s/client.key", path);
		}
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *f = copa_xasprintf("%s/%s", path, names[i]);
		struct copa_err e = COPA_ERR_INIT;
		struct copa_buf one = COPA_BUF_INIT;

		if (copa_fs_read_file(AT_FDCWD, f, 1u << 20, &one, &e) == 0) {
			copa_buf_add(pem, one.p, one.len);
			copa_buf_addc(pem, '\n');
			copa_debug(r->out, "using CA certificate '%s' for '%s'", f, r->host);
		} else {
			copa_warn(r->out, "ignoring CA certificate: %s", e.msg);
		}
		copa_buf_release(&one);
		free(names[i]);
	}
	free(names);
}

static void load_certs_dirs(struct copa_registry *r, const char *const *dirs)
{
	static const char *const defaults[] = {"/etc/docker/certs.d", "/etc/containers/certs.d",
	                                       NULL};
	struct copa_buf pem = COPA_BUF_INIT;
	const char *ca_file = copa_http_options(r->http)->ca_file;

	for (const char *const *d = dirs ? dirs : defaults; *d; d++)
		load_certs_dir(r, *d, &pem);
	if (r->client_cert && !r->client_key) {
		free(r->client_cert);
		r->client_cert = NULL;
	}
	if (!r->client_cert) {
		free(r->client_key);
		r->client_key = NULL;
	}
	if (pem.len == 0) {
		copa_buf_release(&pem);
		return;
	}
	if (ca_file) {
		struct copa_err e = COPA_ERR_INIT;
		struct copa_buf one = COPA_BUF_INIT;

		if (copa_fs_read_file(AT_FDCWD, ca_file, 8u << 20, &one, &e) == 0)
			copa_buf_add(&pem, one.p, one.len);
		copa_buf_release(&one);
	}
	r->ca_pem = copa_buf_detach(&pem, NULL);
}

/* ---------- requests, auth and retries ---------- */

/* Ensures r->base is set: https, or plain http where allowed and TLS fails. */
static int ensure_endpoint(struct copa_registry *r, struct copa_err *err)
{
	struct copa_registry_opts o = {.plain_http = (const char *const *)r->plain_http,
	                               .plain_http_all = r->plain_http_all};
	struct copa_http_resp resp = {0};
	struct copa_http_req req = {0};
	struct copa_err perr = COPA_ERR_INIT;
	_cleanup_free_ char *url = NULL;
	int rc;

	pthread_mutex_lock(&r->lock);
	if (r->base) {
		pthread_mutex_unlock(&r->lock);
		return 0;
	}
	if (!copa_registry_plain_http_allowed(&o, r->host)) {
		r->base = copa_xasprintf("https://%s", r->endpoint);
		pthread_mutex_unlock(&r->lock);
		return 0;
	}
	/* Docker's rule for insecure registries: HTTPS first, plain HTTP when TLS fails. */
	url = copa_xasprintf("https://%s/v2/", r->endpoint);
	req.url = url;
	req.method = "GET";
	req.ca_pem = r->ca_pem;
	req.client_cert = r->client_cert;
	req.client_key = r->client_key;
	rc = copa_http_do(r->http, &req, &resp, &perr);
	if (rc < 0 && perr.code == COPA_E_TIMEOUT) {
		pthread_mutex_unlock(&r->lock);
		copa_http_resp_release(&resp);
		*err = perr;
		return -1;
	}
	/*
	 * A server that speaks TLS but fails verification stays on https, so
	 * the user sees the certificate error rather than a plain-HTTP muddle.
	 */
	if (rc < 0 && resp.curl_code == CURLE_PEER_FAILED_VERIFICATION)
		rc = 0;
	/*
	 * Otherwise plain HTTP only when a registry answers there: /v2/ gives
	 * 200 or 401. A TLS server asked in plain HTTP answers 400 or nothing,
	 * and then the TLS error (say, a missing client certificate) is the one
	 * to show.
	 */
	if (rc < 0) {
		struct copa_err herr = COPA_ERR_INIT;
		_cleanup_free_ char *hurl = copa_xasprintf("http://%s/v2/", r->endpoint);
		struct copa_http_req hreq = {.url = hurl, .method = "GET"};

		copa_http_resp_release(&resp);
		if (copa_http_do(r->http, &hreq, &resp, &herr) == 0 &&
		    (resp.status == 200 || resp.status == 401))
			copa_debug(r->out, "'%s': TLS failed (%s); using plain HTTP as allowed",
			           r->host, perr.msg);
		else
			rc = 0;
	}
	r->base = copa_xasprintf("%s://%s", rc < 0 ? "http" : "https", r->endpoint);
	pthread_mutex_unlock(&r->lock);
	copa_http_resp_release(&resp);
	return 0;
}

/* Loads credentials once (under r->lock). */
static int load_cred(struct copa_registry *r, struct copa_err *err)
{
	if (r->cred_loaded)
		return 0;
	if (r->username) {
		r->cred.username = copa_xstrdup(r->username);
		r->cred.password = copa_xstrdup(r->password);
		r->cred.source = copa_xstrdup("the command line");
		r->have_cred = true;
	} else if (copa_cred_lookup(r->auth_file, r->host, r->repo, r->out, &r->cred, &r->have_cred,
	                            err) < 0) {
		return -1;
	}
	r->cred_loaded = true;
	if (r->have_cred)
		copa_debug(r->out, "using credentials for '%s' from %s", r->host, r->cred.source);
	return 0;
}

static char *basic_value(const struct copa_cred *c)
{
	_cleanup_free_ char *up =
	    copa_xasprintf("%s:%s", c->username, c->password ? c->password : "");
	char *b64 = copa_base64_encode(up, strlen(up));
	char *v = copa_xasprintf("Basic %s", b64);

	explicit_bzero(up, strlen(up));
	explicit_bzero(b64, strlen(b64));
	free(b64);
	return v;
}

/* "query=<value>" pieces for the token request. */
static void add_param(struct copa_buf *b, const char *name, const char *value)
{
	_cleanup_free_ char *e = copa_url_escape(value);

	if (b->len)
		copa_buf_addc(b, '&');
	copa_buf_addf(b, "%s=%s", name, e);
}

static bool realm_url_ok(struct copa_registry *r, const char *realm)
{
	_cleanup_free_ char *hostport = NULL;
	const char *p, *end;
	struct copa_registry_opts o = {.plain_http = (const char *const *)r->plain_http,
	                               .plain_http_all = r->plain_http_all};

	if (strncasecmp(realm, "https://", 8) == 0)
		return true;
	if (strncasecmp(realm, "http://", 7) != 0)
		return false;
	/* Plain HTTP only where the user allows it for that host. */
	p = realm + 7;
	end = p + strcspn(p, "/?#");
	hostport = copa_xstrndup(p, (size_t)(end - p));
	return copa_registry_plain_http_allowed(&o, hostport);
}

/* Gets a token for scopes from the token service (under r->lock). */
static int fetch_token(struct copa_registry *r, const char *scopes, char **value, long *expires,
                       struct copa_err *err)
{
	struct copa_buf body = COPA_BUF_INIT, form = COPA_BUF_INIT;
	struct copa_http_resp resp = {0};
	_cleanup_free_ char *url = NULL, *auth = NULL;
	const char *hdrs[2] = {NULL, NULL};
	struct copa_blob rest = copa_blob_str(scopes), tok;
	bool post;
	unsigned attempt = 0;
	int rc = -1;

	if (load_cred(r, err) < 0)
		return -1;
	if (r->have_cred && r->cred.registry_token) {
		*value = copa_xstrdup(r->cred.registry_token);
		*expires = 3600;
		return 0;
	}
	if (!realm_url_ok(r, r->realm))
		return copa_err_set(err, COPA_E_AUTH,
		                    "registry '%s' names token service '%.200s', which is not an "
		                    "https URL (allow its host with --insecure-registry to use it)",
		                    r->host, r->realm);
	post = r->have_cred && r->cred.identity_token;
	if (r->service)
		add_param(&form, "service", r->service);
	while (copa_blob_split(&rest, ' ', &tok)) {
		_cleanup_free_ char *s = copa_blob_dup(tok);

		if (*s && !post)
			add_param(&form, "scope", s);
	}
	if (post) {
		add_param(&form, "scope", scopes);
		add_param(&form, "grant_type", "refresh_token");
		add_param(&form, "refresh_token", r->cred.identity_token);
		add_param(&form, "client_id", "copa");
		url = copa_xstrdup(r->realm);
		hdrs[0] = "Content-Type: application/x-www-form-urlencoded";
	} else {
		add_param(&form, "client_id", "copa");
		if (r->have_cred && r->cred.username)
			add_param(&form, "account", r->cred.username);
		url = copa_xasprintf("%s%c%s", r->realm, strchr(r->realm, '?') ? '&' : '?',
		                     copa_buf_str(&form));
		if (r->have_cred && r->cred.username)
			auth = basic_value(&r->cred);
	}
	copa_buf_init(&body, TOKEN_BODY_MAX);
	for (;;) {
		struct copa_http_req req = {.method = post ? "POST" : "GET",
		                            .url = url,
		                            .headers = hdrs,
		                            .auth = auth,
		                            .resp_body = &body,
		                            .max_redirects = MAX_REDIRECTS};

		if (post) {
			req.body = form.p;
			req.body_len = form.len;
		}
		copa_buf_reset(&body);
		if (copa_http_do(r->http, &req, &resp, err) < 0) {
			if (resp.transient && err->code == COPA_E_NET &&
			    copa_http_retry_wait(r->http, attempt++, &resp, "token request")) {
				copa_err_clear(err);
				continue;
			}
			if (err->code == COPA_E_LIMIT)
				copa_err_set(err, COPA_E_LIMIT,
				             "token service answer is larger than %u bytes",
				             TOKEN_BODY_MAX);
			copa_err_wrap(err, "cannot get a token for '%s' from '%.200s'", r->host,
			              r->realm);
			goto out;
		}
		if (copa_http_retry_wait(r->http, attempt++, &resp, "token request"))
			continue;
		break;
	}
	if (resp.status == 200) {
		rc = copa_token_parse(body.p, body.len, value, expires, err);
		if (rc < 0)
			copa_err_wrap(err, "token service '%.200s'", r->realm);
		goto out;
	}
	{
		char detail[256];

		copa_registry_error_text(body.p, body.len, detail, sizeof(detail));
		if (resp.status == 401 || resp.status == 403) {
			if (r->have_cred)
				copa_err_set(
				    err, COPA_E_AUTH,
				    "token service '%.200s' refused the credentials for '%s' "
				    "from %s (HTTP %ld)%s%s: check the user name and password",
				    r->realm, r->host, r->cred.source, resp.status,
				    *detail ? ": " : "", detail);
			else
				copa_err_set(
				    err, COPA_E_AUTH,
				    "token service '%.200s' refused an anonymous token for "
				    "'%s' (HTTP %ld)%s%s: log in with 'docker login %s' or "
				    "set REGISTRY_AUTH_FILE",
				    r->realm, r->host, resp.status, *detail ? ": " : "", detail,
				    r->host);
		} else {
			copa_err_set(err, COPA_E_HTTP,
			             "token service '%.200s' answered HTTP %ld%s%s", r->realm,
			             resp.status, *detail ? ": " : "", detail);
		}
	}
out:
	if (form.p)
		explicit_bzero(form.p, form.len);
	if (auth)
		explicit_bzero(auth, strlen(auth));
	copa_buf_release(&form);
	if (body.p)
		explicit_bzero(body.p, body.len);
	copa_buf_release(&body);
	copa_http_resp_release(&resp);
	return rc;
}

/*
 * The Authorization value for a request needing `scopes` (malloc'd), or
 * NULL while no challenge has been seen (anonymous).
 */
static int current_auth(struct copa_registry *r, const char *scopes, char **auth,
                        struct copa_err *err)
{
	long long now = copa_now_ms();
	int rc = 0;

	*auth = NULL;
	pthread_mutex_lock(&r->lock);
	switch (r->kind) {
	case AUTH_UNKNOWN:
		break;
	case AUTH_BASIC:
		if (r->have_cred && r->cred.username)
			*auth = basic_value(&r->cred);
		break;
	case AUTH_BEARER: {
		char *tok = NULL;
		long expires = 0;
		struct token *t;

		for (size_t i = 0; i < r->n_tokens; i++)
			if (r->tokens[i].expires_ms > now &&
			    copa_scopes_cover(r->tokens[i].scopes, scopes)) {
				*auth = copa_xstrdup(r->tokens[i].value);
				goto done;
			}
		if (fetch_token(r, scopes, &tok, &expires, err) < 0) {
			rc = -1;
			break;
		}
		if (r->n_tokens == TOKEN_CACHE_MAX)
			tokens_clear(r);
		t = &r->tokens[r->n_tokens++];
		t->scopes = copa_xstrdup(scopes);
		t->value = copa_xasprintf("Bearer %s", tok);
		/* Renew ten seconds early: a token must not expire in flight. */
		t->expires_ms = now + (expires - 10) * 1000LL;
		explicit_bzero(tok, strlen(tok));
		free(tok);
		*auth = copa_xstrdup(t->value);
		break;
	}
	}
done:
	pthread_mutex_unlock(&r->lock);
	return rc;
}

/* Forgets a cached token the registry just refused. */
static void drop_token(struct copa_registry *r, const char *value)
{
	for (size_t i = 0; value && i < r->n_tokens; i++)
		if (strcmp(r->tokens[i].value, value) == 0) {
			free(r->tokens[i].scopes);
			free(r->tokens[i].value);
			r->tokens[i] = r->tokens[--r->n_tokens];
			return;
		}
}

/* Learns how to authenticate from a 401's challenges. */
static int authorize(struct copa_registry *r, const struct copa_http_resp *resp, const char *sent,
                     struct copa_err *err)
{
	struct copa_auth_challenges ch = {0};
	const struct copa_auth_challenge *bearer, *basic;
	const char *realm;
	int rc = 0;

	for (size_t i = 0; i < resp->n_headers; i++) {
		const char *v = resp->headers[i].value;

		if (strcasecmp(resp->headers[i].name, "WWW-Authenticate") != 0)
			continue;
		if (copa_www_authenticate_parse(v, strlen(v), &ch, err) < 0) {
			copa_auth_challenges_release(&ch);
			return copa_err_wrap(err, "registry '%s'", r->host);
		}
	}
	bearer = copa_auth_challenge_find(&ch, "bearer");
	basic = copa_auth_challenge_find(&ch, "basic");
	realm = bearer ? copa_auth_challenge_param(bearer, "realm") : NULL;
	pthread_mutex_lock(&r->lock);
	if (bearer && realm && *realm) {
		const char *service = copa_auth_challenge_param(bearer, "service");

		if (!r->realm || strcmp(r->realm, realm) != 0 ||
		    (service && (!r->service || strcmp(r->service, service) != 0))) {
			tokens_clear(r);
			free(r->realm);
			free(r->service);
			r->realm = copa_xstrdup(realm);
			r->service = service ? copa_xstrdup(service) : NULL;
		}
		r->kind = AUTH_BEARER;
		drop_token(r, sent);
	} else if (basic) {
		if (load_cred(r, err) < 0) {
			rc = -1;
		} else if (!r->have_cred || !r->cred.username) {
			rc =
			    copa_err_set(err, COPA_E_AUTH,
			                 "registry '%s' requires a login (Basic auth) and no "
			                 "credentials were found: log in with 'docker login %s' or "
			                 "'podman login %s', or set REGISTRY_AUTH_FILE",
			                 r->host, r->host, r->host);
		}
		r->kind = AUTH_BASIC;
	} else {
		rc = copa_err_set(err, COPA_E_AUTH,
		                  "registry '%s' answered HTTP 401 without an authentication "
		                  "challenge copa understands (Basic or Bearer)",
		                  r->host);
	}
	pthread_mutex_unlock(&r->lock);
	copa_auth_challenges_release(&ch);
	return rc;
}

struct rreq {
	const char *method;
	const char *url;
	const char *const *headers;
	const char *scopes;
	const void *body;
	size_t body_len;
	int body_fd;
	bool has_body_fd;
	uint64_t body_off;
	uint64_t body_fd_len;
	struct copa_buf *resp_body; /* required: bodies (errors included) land here */
	bool no_retry;              /* not idempotent: the caller restarts */
	const char *what;
};

/*
 * One registry request with authentication (a 401 is answered once) and,
 * unless no_retry, retries of transient failures. Returns 0 with any final
 * status in resp; -1 when no answer arrived.
 */
static int reg_do(struct copa_registry *r, const struct rreq *q, struct copa_http_resp *resp,
                  struct copa_err *err)
{
	unsigned attempt = 0;
	bool reauthed = false;
	bool ours = copa_url_same_origin(q->url, r->base);
	size_t mark = q->resp_body->len;

	for (;;) {
		_cleanup_free_ char *auth = NULL;
		struct copa_http_req req = {.method = q->method,
		                            .url = q->url,
		                            .headers = q->headers,
		                            .body = q->body,
		                            .body_len = q->body_len,
		                            .body_fd = q->body_fd,
		                            .has_body_fd = q->has_body_fd,
		                            .body_off = q->body_off,
		                            .body_fd_len = q->body_fd_len,
		                            .resp_body = q->resp_body,
		                            .max_redirects = MAX_REDIRECTS,
		                            .ca_pem = ours ? r->ca_pem : NULL,
		                            .client_cert = ours ? r->client_cert : NULL,
		                            .client_key = ours ? r->client_key : NULL};

		/* Credentials go to the registry only, never to an upload URL elsewhere. */
		if (ours && current_auth(r, q->scopes, &auth, err) < 0)
			return copa_err_wrap(err, "%s", q->what);
		req.auth = auth;
		copa_buf_truncate(q->resp_body, mark);
		if (copa_http_do(r->http, &req, resp, err) < 0) {
			if (!q->no_retry && resp->transient && err->code == COPA_E_NET &&
			    copa_http_retry_wait(r->http, attempt++, resp, q->what)) {
				copa_err_clear(err);
				continue;
			}
			if (err->code == COPA_E_LIMIT)
				return copa_err_set(
				    err, COPA_E_LIMIT,
				    "%s: the answer is larger than the %zu bytes allowed", q->what,
				    q->resp_body->max);
			if (resp->plain_http && ours)
				return copa_err_set(
				    err, COPA_E_NET,
				    "%s: '%s' answers in plain HTTP, not HTTPS ('%s'): if "
				    "it is a plain-HTTP registry, pass --insecure-registry "
				    "%s",
				    q->what, r->host, q->url, r->host);
			return copa_err_wrap(err, "%s", q->what);
		}
		if (resp->status == 401 && ours && !reauthed) {
			if (authorize(r, resp, auth, err) < 0)
				return copa_err_wrap(err, "%s", q->what);
			reauthed = true;
			continue;
		}
		if (!q->no_retry && copa_http_retry_wait(r->http, attempt++, resp, q->what))
			continue;
		return 0;
	}
}

/* Turns a non-success answer into an error naming what failed and why. */
static int status_err(struct copa_registry *r, const struct copa_http_resp *resp, const char *body,
                      size_t n, const char *what, struct copa_err *err)
{
	char detail[300];
	const char *sep;

	copa_registry_error_text(body, n, detail, sizeof(detail));
	sep = *detail ? ": " : "";
	switch (resp->status) {
	case 401:
	case 403:
		pthread_mutex_lock(&r->lock);
		if (r->have_cred)
			copa_err_set(
			    err, COPA_E_AUTH,
			    "%s: access denied by '%s' (HTTP %ld)%s%s (credentials from %s; "
			    "check them and the repository permissions)",
			    what, r->host, resp->status, sep, detail, r->cred.source);
		else
			copa_err_set(
			    err, COPA_E_AUTH,
			    "%s: access denied by '%s' (HTTP %ld)%s%s (no credentials found: "
			    "log in with 'docker login %s' or set REGISTRY_AUTH_FILE)",
			    what, r->host, resp->status, sep, detail, r->host);
		pthread_mutex_unlock(&r->lock);
		return -1;
	case 404:
		return copa_err_set(err, COPA_E_NOTFOUND, "%s: not found on '%s' (HTTP 404)%s%s",
		                    what, r->host, sep, detail);
	case 413:
		return copa_err_set(err, COPA_E_LIMIT,
		                    "%s: '%s' refused it as too large (HTTP 413)%s%s", what,
		                    r->host, sep, detail);
	case 429:
		return copa_err_set(err, COPA_E_HTTP,
		                    "%s: '%s' is rate-limiting requests (HTTP 429)%s%s: try again "
		                    "later or log in for a higher limit",
		                    what, r->host, sep, detail);
	default:
		return copa_err_set(err, COPA_E_HTTP, "%s: '%s' answered HTTP %ld%s%s", what,
		                    r->host, resp->status, sep, detail);
	}
}

static char *repo_url(struct copa_registry *r, const char *kind, const char *ref)
{
	return copa_xasprintf("%s/v2/%s/%s/%s", r->base, r->repo, kind, ref ? ref : "");
}

static bool ref_valid(const char *ref)
{
	return copa_registry_tag_valid(ref) || copa_digest_valid(ref);
}

/* Copies the media type without parameters ("; charset=…"). */
static char *media_type_of(const char *ct)
{
	size_t n;

	if (!ct)
		return NULL;
	n = strcspn(ct, "; \t");
	return n ? copa_xstrndup(ct, n) : NULL;
}

static bool media_type_valid(const char *mt)
{
	size_t n = strlen(mt);

	if (n == 0 || n > 255)
		return false;
	for (const char *p = mt; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return false;
	return true;
}

/* ---------- manifests ---------- */

int copa_registry_get_manifest(struct copa_registry *r, const char *ref, struct copa_buf *body,
                               char **media_type, char digest[COPA_DIGEST_MAX],
                               struct copa_err *err)
{
	_cleanup_free_ char *url = NULL, *scope = NULL, *what = NULL, *ct = NULL;
	const char *hdrs[] = {manifest_accept, NULL};
	struct copa_http_resp resp = {0};
	struct copa_buf buf = COPA_BUF_INIT;
	enum copa_hash_alg alg = COPA_HASH_SHA256;
	const char *want_hex = NULL, *dcd;
	char hex[COPA_HASH_HEX_MAX];
	json_t *j = NULL;
	int rc = -1;

	*media_type = NULL;
	what = copa_xasprintf("cannot fetch manifest '%.140s' of '%s/%s'", ref, r->host, r->repo);
	if (!ref_valid(ref))
		return copa_err_set(err, COPA_E_INPUT, "%s: not a valid tag or digest", what);
	if (copa_digest_valid(ref))
		copa_digest_parse(ref, &alg, &want_hex);
	if (ensure_endpoint(r, err) < 0)
		return copa_err_wrap(err, "%s", what);
	url = repo_url(r, "manifests", ref);
	scope = copa_scope_repo(r->repo, "pull");
	copa_buf_init(&buf, r->max_manifest);
	{
		struct rreq q = {.method = "GET",
		                 .url = url,
		                 .headers = hdrs,
		                 .scopes = scope,
		                 .resp_body = &buf,
		                 .what = what};

		if (reg_do(r, &q, &resp, err) < 0)
			goto out;
	}
	if (resp.status != 200) {
		status_err(r, &resp, buf.p, buf.len, what, err);
		goto out;
	}
	copa_hash_hex(alg, buf.p ? buf.p : "", buf.len, hex);
	if (want_hex && strcmp(hex, want_hex) != 0) {
		copa_err_set(err, COPA_E_VERIFY,
		             "%s: content does not match the digest (got %s:%s)", what,
		             copa_hash_name(alg), hex);
		goto out;
	}
	dcd = copa_http_resp_header(&resp, "Docker-Content-Digest");
	if (dcd && !want_hex) {
		enum copa_hash_alg dalg;
		const char *dhex;
		char dcalc[COPA_HASH_HEX_MAX];

		if (!copa_digest_parse(dcd, &dalg, &dhex)) {
			copa_err_set(err, COPA_E_VERIFY,
			             "%s: invalid Docker-Content-Digest '%.140s'", what, dcd);
			goto out;
		}
		copa_hash_hex(dalg, buf.p ? buf.p : "", buf.len, dcalc);
		if (strcmp(dcalc, dhex) != 0) {
			copa_err_set(err, COPA_E_VERIFY,
			             "%s: content does not match the registry's digest '%.140s'",
			             what, dcd);
			goto out;
		}
	}
	snprintf(digest, COPA_DIGEST_MAX, "%s:%s", copa_hash_name(alg), hex);
	/* The body's mediaType, and the Content-Type where the body has none. */
	ct = media_type_of(copa_http_resp_header(&resp, "Content-Type"));
	j = copa_json_parse(buf.p, buf.len, r->max_manifest, "manifest", err);
	if (!j || !json_is_object(j)) {
		if (j)
			copa_err_set(err, COPA_E_INPUT, "manifest is not a JSON object");
		copa_err_wrap(err, "%s", what);
		goto out;
	}
	{
		const char *bmt = copa_json_str(j, "mediaType");

		if (bmt && ct && strncmp(ct, "application/vnd.", 16) == 0 && strcmp(ct, bmt) != 0 &&
		    strcmp(ct, "application/vnd.docker.distribution.manifest.v1+prettyjws") != 0) {
			copa_err_set(err, COPA_E_INPUT,
			             "%s: Content-Type '%.100s' does not match the manifest's "
			             "mediaType '%.100s'",
			             what, ct, bmt);
			goto out;
		}
		if (bmt)
			*media_type = copa_xstrdup(bmt);
		else if (ct)
			*media_type = steal_ptr(&ct);
		else
			*media_type = copa_xstrdup("");
	}
	copa_buf_reset(body);
	if (copa_buf_add(body, buf.p ? buf.p : "", buf.len) < 0) {
		free(*media_type);
		*media_type = NULL;
		copa_err_set(err, COPA_E_LIMIT, "%s: manifest of %zu bytes exceeds the buffer",
		             what, buf.len);
		goto out;
	}
	rc = 0;
out:
	if (j)
		json_decref(j);
	copa_buf_release(&buf);
	copa_http_resp_release(&resp);
	return rc;
}

int copa_registry_head_manifest(struct copa_registry *r, const char *ref, bool *exists,
                                char **media_type, char digest[COPA_DIGEST_MAX], int64_t *size,
                                struct copa_err *err)
{
	_cleanup_free_ char *url = NULL, *scope = NULL, *what = NULL;
	const char *hdrs[] = {manifest_accept, NULL};
	struct copa_http_resp resp = {0};
	struct copa_buf buf = COPA_BUF_INIT;
	const char *dcd, *cl;
	uint64_t len = 0;
	int rc = -1;

	*exists = false;
	if (media_type)
		*media_type = NULL;
	if (size)
		*size = -1;
	what = copa_xasprintf("cannot look up manifest '%.140s' of '%s/%s'", ref, r->host, r->repo);
	if (!ref_valid(ref))
		return copa_err_set(err, COPA_E_INPUT, "%s: not a valid tag or digest", what);
	if (ensure_endpoint(r, err) < 0)
		return copa_err_wrap(err, "%s", what);
	url = repo_url(r, "manifests", ref);
	scope = copa_scope_repo(r->repo, "pull");
	copa_buf_init(&buf, ERROR_BODY_MAX);
	{
		struct rreq q = {.method = "HEAD",
		                 .url = url,
		                 .headers = hdrs,
		                 .scopes = scope,
		                 .resp_body = &buf,
		                 .what = what};

		if (reg_do(r, &q, &resp, err) < 0)
			goto out;
	}
	if (resp.status == 404) {
		rc = 0;
		goto out;
	}
	if (resp.status != 200) {
		status_err(r, &resp, buf.p, buf.len, what, err);
		goto out;
	}
	dcd = copa_http_resp_header(&resp, "Docker-Content-Digest");
	if (dcd && !copa_digest_valid(dcd)) {
		copa_err_set(err, COPA_E_VERIFY, "%s: invalid Docker-Content-Digest '%.140s'", what,
		             dcd);
		goto out;
	}
	if (copa_digest_valid(ref) && dcd && strcmp(dcd, ref) != 0) {
		copa_err_set(err, COPA_E_VERIFY, "%s: the registry names it '%.140s'", what, dcd);
		goto out;
	}
	if (!dcd && !copa_digest_valid(ref)) {
		/* No digest header: fetch the bytes and compute it. */
		struct copa_buf body = COPA_BUF_INIT;
		char *mt = NULL;

		copa_buf_init(&body, r->max_manifest);
		rc = copa_registry_get_manifest(r, ref, &body, &mt, digest, err);
		if (rc == 0) {
			*exists = true;
			if (size)
				*size = (int64_t)body.len;
			if (media_type)
				*media_type = mt;
			else
				free(mt);
		} else if (err->code == COPA_E_NOTFOUND) {
			copa_err_clear(err);
			rc = 0;
		}
		copa_buf_release(&body);
		goto out;
	}
	snprintf(digest, COPA_DIGEST_MAX, "%s", dcd ? dcd : ref);
	cl = copa_http_resp_header(&resp, "Content-Length");
	if (size && cl && copa_blob_to_u64(copa_blob_str(cl), INT64_MAX, &len) == 0)
		*size = (int64_t)len;
	if (media_type)
		*media_type = media_type_of(copa_http_resp_header(&resp, "Content-Type"));
	*exists = true;
	rc = 0;
out:
	copa_buf_release(&buf);
	copa_http_resp_release(&resp);
	return rc;
}

/* The target of a `Link: <url>; rel="next"` header, or NULL. */
static char *next_link(const char *link)
{
	const char *p = link;

	while (p && *p) {
		const char *lt = strchr(p, '<'), *gt, *end;

		if (!lt || !(gt = strchr(lt, '>')))
			return NULL;
		end = strchr(gt, ',');
		{
			size_t plen = end ? (size_t)(end - gt) : strlen(gt);
			char *params = copa_xstrndup(gt + 1, plen - 1);
			bool next = strstr(params, "rel=\"next\"") || strstr(params, "rel=next");

			free(params);
			if (next)
				return copa_xstrndup(lt + 1, (size_t)(gt - lt - 1));
		}
		p = end ? end + 1 : NULL;
	}
	return NULL;
}

char **copa_registry_list_tags(struct copa_registry *r, unsigned page_size, size_t *n,
                               struct copa_err *err)
{
	_cleanup_free_ char *scope = NULL, *what = NULL, *url = NULL;
	char **tags = NULL;
	size_t cap = 0, count = 0;

	*n = 0;
	what = copa_xasprintf("cannot list the tags of '%s/%s'", r->host, r->repo);
	if (ensure_endpoint(r, err) < 0) {
		copa_err_wrap(err, "%s", what);
		return NULL;
	}
	scope = copa_scope_repo(r->repo, "pull");
	url = copa_xasprintf("%s/v2/%s/tags/list?n=%u", r->base, r->repo,
	                     page_size ? page_size : 1000);
	for (unsigned page = 0; url; page++) {
		struct copa_http_resp resp = {0};
		struct copa_buf buf = COPA_BUF_INIT;
		struct rreq q = {
		    .method = "GET", .url = url, .scopes = scope, .resp_body = &buf, .what = what};
		json_t *j = NULL, *list;
		char *next = NULL;
		int rc = -1;

		if (page >= COPA_REGISTRY_MAX_PAGES) {
			copa_err_set(err, COPA_E_LIMIT, "%s: more than %d pages", what,
			             COPA_REGISTRY_MAX_PAGES);
			goto page_out;
		}
		copa_buf_init(&buf, r->max_manifest);
		if (reg_do(r, &q, &resp, err) < 0)
			goto page_out;
		if (resp.status != 200) {
			status_err(r, &resp, buf.p, buf.len, what, err);
			goto page_out;
		}
		j = copa_json_parse(buf.p, buf.len, r->max_manifest, "tag list", err);
		if (!j || !json_is_object(j)) {
			if (j)
				copa_err_set(err, COPA_E_INPUT,
				             "the tag list is not a JSON object");
			copa_err_wrap(err, "%s", what);
			goto page_out;
		}
		list = json_object_get(j, "tags");
		if (list && !json_is_null(list) && !json_is_array(list)) {
			copa_err_set(err, COPA_E_INPUT, "%s: 'tags' is not a list", what);
			goto page_out;
		}
		for (size_t i = 0; list && json_is_array(list) && i < json_array_size(list); i++) {
			const char *t = json_string_value(json_array_get(list, i));

			if (!t || !copa_registry_tag_valid(t))
				continue;
			if (count >= COPA_REGISTRY_MAX_TAGS) {
				copa_err_set(err, COPA_E_LIMIT, "%s: more than %d tags", what,
				             COPA_REGISTRY_MAX_TAGS);
				goto page_out;
			}
			tags = copa_xgrow(tags, &cap, count + 2, sizeof(*tags));
			tags[count++] = copa_xstrdup(t);
			tags[count] = NULL;
		}
		{
			const char *link = copa_http_resp_header(&resp, "Link");
			char *target = link ? next_link(link) : NULL;

			if (target) {
				next = copa_url_resolve(resp.url ? resp.url : url, target);
				free(target);
				/* Pages come from the same registry, never from somewhere else. */
				if (!next || !copa_url_same_origin(next, r->base)) {
					copa_err_set(
					    err, COPA_E_INPUT,
					    "%s: the next page is on another server ('%.200s')",
					    what, link);
					free(next);
					next = NULL;
					goto page_out;
				}
			}
		}
		rc = 0;
	page_out:
		if (j)
			json_decref(j);
		copa_buf_release(&buf);
		copa_http_resp_release(&resp);
		free(url);
		url = next;
		if (rc < 0) {
			copa_strv_free(tags);
			free(url);
			url = NULL;
			return NULL;
		}
	}
	if (!tags)
		tags = copa_xcalloc(1, sizeof(*tags));
	*n = count;
	return tags;
}

int copa_registry_put_manifest(struct copa_registry *r, const char *ref, const char *media_type,
                               const void *body, size_t n, char digest[COPA_DIGEST_MAX],
                               struct copa_err *err)
{
	_cleanup_free_ char *url = NULL, *scope = NULL, *what = NULL, *ct = NULL;
	struct copa_http_resp resp = {0};
	struct copa_buf buf = COPA_BUF_INIT;
	enum copa_hash_alg alg = COPA_HASH_SHA256;
	const char *want_hex = NULL, *dcd;
	char hex[COPA_HASH_HEX_MAX], ours[COPA_DIGEST_MAX];
	const char *hdrs[2];
	int rc = -1;

	what = copa_xasprintf("cannot push manifest '%.140s' to '%s/%s'", ref, r->host, r->repo);
	if (!ref_valid(ref))
		return copa_err_set(err, COPA_E_INPUT, "%s: not a valid tag or digest", what);
	if (!media_type || !media_type_valid(media_type))
		return copa_err_set(err, COPA_E_INPUT, "%s: invalid media type '%.100s'", what,
		                    media_type ? media_type : "");
	if (n > r->max_manifest)
		return copa_err_set(err, COPA_E_LIMIT,
		                    "%s: %zu bytes is more than the %zu allowed for a manifest",
		                    what, n, r->max_manifest);
	if (copa_digest_valid(ref))
		copa_digest_parse(ref, &alg, &want_hex);
	copa_hash_hex(alg, body, n, hex);
	if (want_hex && strcmp(hex, want_hex) != 0)
		return copa_err_set(
		    err, COPA_E_INPUT,
		    "%s: the manifest's content has digest %s:%s, not the one named", what,
		    copa_hash_name(alg), hex);
	snprintf(ours, sizeof(ours), "%s:%s", copa_hash_name(alg), hex);
	if (ensure_endpoint(r, err) < 0)
		return copa_err_wrap(err, "%s", what);
	url = repo_url(r, "manifests", ref);
	scope = copa_scope_repo(r->repo, "pull,push");
	ct = copa_xasprintf("Content-Type: %s", media_type);
	hdrs[0] = ct;
	hdrs[1] = NULL;
	copa_buf_init(&buf, ERROR_BODY_MAX);
	for (unsigned attempt = 0;; attempt++) {
		struct rreq q = {.method = "PUT",
		                 .url = url,
		                 .headers = hdrs,
		                 .scopes = scope,
		                 .body = n ? body : "",
		                 .body_len = n,
		                 .resp_body = &buf,
		                 .what = what};

		if (reg_do(r, &q, &resp, err) < 0)
			goto out;
		/* A blob that another client is linking into the repository at this moment can
		 * read as unknown (the distribution registry rewrites the link file in place):
		 * the manifest is sent again a few times before that is believed. */
		if (resp.status != 400 || attempt >= MANIFEST_BLOB_RETRIES ||
		    !memmem(buf.p, buf.len, "MANIFEST_BLOB_UNKNOWN", 21) || copa_runctl_stopped())
			break;
		copa_debug(r->out, "%s: the registry does not know a blob yet; trying again", what);
		copa_http_resp_release(&resp);
		copa_buf_reset(&buf);
		{
			struct timespec ts = {0, 200000000L * (long)(attempt + 1)};

			nanosleep(&ts, NULL);
		}
	}
	if (resp.status != 201 && resp.status != 200 && resp.status != 202) {
		status_err(r, &resp, buf.p, buf.len, what, err);
		goto out;
	}
	dcd = copa_http_resp_header(&resp, "Docker-Content-Digest");
	if (dcd && strncmp(dcd, ours, strlen(copa_hash_name(alg))) == 0 && strcmp(dcd, ours) != 0) {
		copa_err_set(
		    err, COPA_E_VERIFY,
		    "%s: the registry stored it as '%.140s', not '%s' (it changed the bytes)", what,
		    dcd, ours);
		goto out;
	}
	snprintf(digest, COPA_DIGEST_MAX, "%s", ours);
	rc = 0;
out:
	copa_buf_release(&buf);
	copa_http_resp_release(&resp);
	return rc;
}

/* ---------- blobs ---------- */

struct fetch_auth {
	struct copa_registry *r;
	const char *scopes;
	char *sent; /* the Authorization value of the last attempt (owned) */
};

static char *fetch_authorize(void *ctx, const struct copa_http_resp *challenge,
                             struct copa_err *err)
{
	struct fetch_auth *fa = ctx;
	char *auth = NULL;

	if (authorize(fa->r, challenge, fa->sent, err) < 0)
		return NULL;
	if (current_auth(fa->r, fa->scopes, &auth, err) < 0)
		return NULL;
	if (!auth) {
		copa_err_set(err, COPA_E_AUTH,
		             "registry '%s' asks for credentials copa cannot send", fa->r->host);
		return NULL;
	}
	free(fa->sent);
	fa->sent = copa_xstrdup(auth);
	return auth;
}

int copa_registry_get_blob(struct copa_registry *r, const char *digest, int64_t size, int fd,
                           struct copa_err *err)
{
	_cleanup_free_ char *url = NULL, *scope = NULL, *what = NULL;
	struct fetch_auth fa = {.r = r};
	struct copa_http_resp resp = {0};
	struct copa_http_fetch f = {0};
	int rc;

	if (!copa_digest_valid(digest))
		return copa_err_set(err, COPA_E_INPUT, "cannot fetch blob '%.140s': invalid digest",
		                    digest);
	what = copa_xasprintf("blob %.19s… of '%s/%s'", digest, r->host, r->repo);
	if (ensure_endpoint(r, err) < 0)
		return copa_err_wrap(err, "cannot fetch %s", what);
	url = repo_url(r, "blobs", digest);
	scope = copa_scope_repo(r->repo, "pull");
	fa.scopes = scope;
	if (current_auth(r, scope, &fa.sent, err) < 0)
		return copa_err_wrap(err, "cannot fetch %s", what);
	f.url = url;
	f.auth = fa.sent;
	f.authorize = fetch_authorize;
	f.authorize_ctx = &fa;
	f.expect_digest = digest;
	f.expect_size = size;
	f.max_size = r->max_blob;
	f.fd = fd;
	f.what = what;
	f.ca_pem = r->ca_pem;
	f.client_cert = r->client_cert;
	f.client_key = r->client_key;
	rc = copa_http_fetch(r->http, &f, &resp, err);
	if (rc < 0 && resp.status >= 400 &&
	    (err->code == COPA_E_NOTFOUND || err->code == COPA_E_AUTH ||
	     err->code == COPA_E_HTTP)) {
		_cleanup_free_ char *w = copa_xasprintf("cannot fetch %s", what);

		status_err(r, &resp, resp.error_body, resp.error_body ? strlen(resp.error_body) : 0,
		           w, err);
	}
	free(fa.sent);
	copa_http_resp_release(&resp);
	return rc;
}

static int blob_head(struct copa_registry *r, const char *digest, const char *actions, bool *exists,
                     struct copa_err *err)
{
	_cleanup_free_ char *url = NULL, *scope = NULL, *what = NULL;
	struct copa_http_resp resp = {0};
	struct copa_buf buf = COPA_BUF_INIT;
	int rc = -1;

	*exists = false;
	what = copa_xasprintf("cannot look up blob %.19s… in '%s/%s'", digest, r->host, r->repo);
	if (!copa_digest_valid(digest))
		return copa_err_set(err, COPA_E_INPUT, "%s: invalid digest", what);
	if (ensure_endpoint(r, err) < 0)
		return copa_err_wrap(err, "%s", what);
	url = repo_url(r, "blobs", digest);
	scope = copa_scope_repo(r->repo, actions);
	copa_buf_init(&buf, ERROR_BODY_MAX);
	{
		struct rreq q = {
		    .method = "HEAD", .url = url, .scopes = scope, .resp_body = &buf, .what = what};

		if (reg_do(r, &q, &resp, err) < 0)
			goto out;
	}
	if (resp.status == 200)
		*exists = true;
	else if (resp.status != 404) {
		status_err(r, &resp, buf.p, buf.len, what, err);
		goto out;
	}
	rc = 0;
out:
	copa_buf_release(&buf);
	copa_http_resp_release(&resp);
	return rc;
}

int copa_registry_blob_exists(struct copa_registry *r, const char *digest, bool *exists,
                              struct copa_err *err)
{
	return blob_head(r, digest, "pull", exists, err);
}

/* Cancels an upload session we will not use (best effort). */
static void cancel_upload(struct copa_registry *r, const char *url, const char *scope)
{
	struct copa_http_resp resp = {0};
	struct copa_buf buf = COPA_BUF_INIT;
	struct copa_err e = COPA_ERR_INIT;
	struct rreq q = {.method = "DELETE",
	                 .url = url,
	                 .scopes = scope,
	                 .resp_body = &buf,
	                 .no_retry = true,
	                 .what = "cancel upload"};

	copa_buf_init(&buf, ERROR_BODY_MAX);
	(void)reg_do(r, &q, &resp, &e);
	copa_buf_release(&buf);
	copa_http_resp_release(&resp);
}

int copa_registry_mount_blob(struct copa_registry *r, const char *digest, const char *from_repo,
                             bool *mounted, struct copa_err *err)
{
	_cleanup_free_ char *url = NULL, *scope = NULL, *what = NULL, *from_scope = NULL,
	                    *push_scope = NULL, *d = NULL, *f = NULL;
	struct copa_http_resp resp = {0};
	struct copa_buf buf = COPA_BUF_INIT;
	int rc = -1;

	*mounted = false;
	what = copa_xasprintf("cannot mount blob %.19s… from '%.255s' into '%s/%s'", digest,
	                      from_repo, r->host, r->repo);
	if (!copa_digest_valid(digest))
		return copa_err_set(err, COPA_E_INPUT, "%s: invalid digest", what);
	if (!copa_registry_repo_valid(from_repo))
		return copa_err_set(err, COPA_E_INPUT, "%s: invalid repository name", what);
	if (ensure_endpoint(r, err) < 0)
		return copa_err_wrap(err, "%s", what);
	d = copa_url_escape(digest);
	f = copa_url_escape(from_repo);
	url = copa_xasprintf("%s/v2/%s/blobs/uploads/?mount=%s&from=%s", r->base, r->repo, d, f);
	/* The token needs pull on the source and push on the destination. */
	from_scope = copa_scope_repo(from_repo, "pull");
	push_scope = copa_scope_repo(r->repo, "pull,push");
	scope = copa_xasprintf("%s %s", push_scope, from_scope);
	copa_buf_init(&buf, ERROR_BODY_MAX);
	{
		struct rreq q = {
		    .method = "POST", .url = url, .scopes = scope, .resp_body = &buf, .what = what};

		if (reg_do(r, &q, &resp, err) < 0)
			goto out;
	}
	if (resp.status == 201) {
		*mounted = true;
	} else if (resp.status == 202) {
		/* Not mounted; an upload session was opened instead: close it. */
		const char *loc = copa_http_resp_header(&resp, "Location");
		_cleanup_free_ char *lurl =
		    loc ? copa_registry_upload_url(resp.url, loc, NULL) : NULL;

		if (lurl)
			cancel_upload(r, lurl, push_scope);
	} else {
		status_err(r, &resp, buf.p, buf.len, what, err);
		goto out;
	}
	rc = 0;
out:
	copa_buf_release(&buf);
	copa_http_resp_release(&resp);
	return rc;
}

/*
 * The URL of the next upload step from a 202's Location, resolved against
 * the URL that answered; digest appended for the final PUT.
 */
static char *next_location(struct copa_registry *r, const struct copa_http_resp *resp,
                           const char *digest, const char *what, struct copa_err *err)
{
	const char *loc = copa_http_resp_header(resp, "Location");
	char *u;

	if (!loc || !*loc) {
		copa_err_set(err, COPA_E_HTTP, "%s: '%s' answered HTTP %ld without a Location",
		             what, r->host, resp->status);
		return NULL;
	}
	u = copa_registry_upload_url(resp->url, loc, digest);
	if (!u || (strncasecmp(u, "http://", 7) && strncasecmp(u, "https://", 8))) {
		free(u);
		copa_err_set(err, COPA_E_HTTP, "%s: '%s' sent an unusable upload Location '%.200s'",
		             what, r->host, loc);
		return NULL;
	}
	return u;
}

/*
 * One request of an upload session, which must answer HTTP `want`. On failure
 * *transient tells whether starting the session over may help (not after a
 * request reg_do already retried itself).
 */
static int upload_step(struct copa_registry *r, const struct rreq *q, long want,
                       struct copa_http_resp *resp, bool *transient, struct copa_err *err)
{
	copa_buf_reset(q->resp_body);
	if (reg_do(r, q, resp, err) < 0) {
		*transient = q->no_retry && resp->transient;
		return -1;
	}
	if (resp->status != want) {
		*transient = resp->transient;
		return status_err(r, resp, q->resp_body->p, q->resp_body->len, q->what, err);
	}
	return 0;
}

/* One upload session. *transient tells whether starting over may help. */
static int upload_once(struct copa_registry *r, const char *digest, uint64_t size, int fd,
                       const char *scope, const char *what, bool *transient, struct copa_err *err)
{
	_cleanup_free_ char *start = NULL, *loc = NULL, *final = NULL;
	struct copa_http_resp resp = {0};
	struct copa_buf buf = COPA_BUF_INIT;
	static const char *const octet[] = {"Content-Type: application/octet-stream", NULL};
	bool chunked = r->chunk_size && size > r->chunk_size;
	int rc = -1;

	*transient = false;
	copa_buf_init(&buf, ERROR_BODY_MAX);
	start = copa_xasprintf("%s/v2/%s/blobs/uploads/", r->base, r->repo);
	{
		struct rreq q = {.method = "POST",
		                 .url = start,
		                 .scopes = scope,
		                 .resp_body = &buf,
		                 .body = "",
		                 .body_len = 0,
		                 .what = what};

		if (upload_step(r, &q, 202, &resp, transient, err) < 0)
			goto out;
	}
	loc = next_location(r, &resp, NULL, what, err);
	if (!loc)
		goto out;
	for (uint64_t off = 0; chunked && off < size;) {
		uint64_t n = size - off < r->chunk_size ? size - off : r->chunk_size;
		char range[80];
		const char *hdrs[] = {octet[0], range, NULL};
		struct rreq q = {.method = "PATCH",
		                 .url = loc,
		                 .headers = hdrs,
		                 .scopes = scope,
		                 .body_fd = fd,
		                 .has_body_fd = true,
		                 .body_off = off,
		                 .body_fd_len = n,
		                 .resp_body = &buf,
		                 .no_retry = true,
		                 .what = what};
		char *next;

		snprintf(range, sizeof(range), "Content-Range: %llu-%llu", (unsigned long long)off,
		         (unsigned long long)(off + n - 1));
		if (upload_step(r, &q, 202, &resp, transient, err) < 0)
			goto out;
		next = next_location(r, &resp, NULL, what, err);
		if (!next)
			goto out;
		free(loc);
		loc = next;
		off += n;
	}
	/* The final PUT carries the whole blob, or nothing after the chunks. */
	final = copa_registry_upload_url(loc, loc, digest);
	{
		struct rreq q = {.method = "PUT",
		                 .url = final,
		                 .headers = octet,
		                 .scopes = scope,
		                 .resp_body = &buf,
		                 .no_retry = true,
		                 .what = what};

		if (chunked) {
			q.body = "";
			q.body_len = 0;
		} else {
			q.body_fd = fd;
			q.has_body_fd = true;
			q.body_off = 0;
			q.body_fd_len = size;
		}
		if (upload_step(r, &q, 201, &resp, transient, err) < 0)
			goto out;
	}
	{
		const char *dcd = copa_http_resp_header(&resp, "Docker-Content-Digest");

		if (dcd && strcmp(dcd, digest) != 0) {
			copa_err_set(err, COPA_E_VERIFY, "%s: the registry stored it as '%.140s'",
			             what, dcd);
			goto out;
		}
	}
	rc = 0;
out:
	copa_buf_release(&buf);
	copa_http_resp_release(&resp);
	return rc;
}

int copa_registry_put_blob(struct copa_registry *r, const char *digest, uint64_t size, int fd,
                           struct copa_err *err)
{
	_cleanup_free_ char *scope = NULL, *what = NULL;
	bool exists = false;

	what = copa_xasprintf("cannot push blob %.19s… to '%s/%s'", digest, r->host, r->repo);
	if (!copa_digest_valid(digest))
		return copa_err_set(err, COPA_E_INPUT, "%s: invalid digest", what);
	scope = copa_scope_repo(r->repo, "pull,push");
	if (blob_head(r, digest, "pull,push", &exists, err) < 0)
		return -1;
	if (exists) {
		copa_debug(r->out, "blob %s already in '%s/%s'", digest, r->host, r->repo);
		return 0;
	}
	copa_progress(r->out, COPA_PROGRESS_START, "upload", digest, 0, size);
	for (unsigned attempt = 0;; attempt++) {
		bool transient = false;
		struct copa_http_resp fake = {0};

		if (upload_once(r, digest, size, fd, scope, what, &transient, err) == 0)
			break;
		fake.transient = transient;
		fake.status = 0;
		if (!transient || !copa_http_retry_wait(r->http, attempt, &fake, what)) {
			copa_progress_done(r->out, "upload", digest, 0);
			return -1;
		}
		copa_err_clear(err);
	}
	copa_progress(r->out, COPA_PROGRESS_UPDATE, "upload", digest, size, size);
	copa_progress_done(r->out, "upload", digest, 1);
	return 0;
}
