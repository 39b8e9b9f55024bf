#include "registry/auth.h"

#include "util/blob.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/proc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* ---------- WWW-Authenticate (RFC 7235 section 4.1, 2.1) ---------- */

static bool is_tchar(unsigned char c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_t68char(unsigned char c)
{
	return isalnum(c) || (c && strchr("-._~+/", c));
}

struct cursor {
	const char *p;
	const char *end;
};

static void skip_ows(struct cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

static struct copa_blob take_token(struct cursor *c)
{
	const char *s = c->p;

	while (c->p < c->end && is_tchar((unsigned char)*c->p))
		c->p++;
	return copa_blob(s, (size_t)(c->p - s));
}

static char *lower_dup(struct copa_blob b)
{
	char *s = copa_blob_dup(b);

	for (char *q = s; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	return s;
}

/* At end of input or at a ',' after optional whitespace. */
static bool at_item_end(struct cursor c)
{
	skip_ows(&c);
	return c.p == c.end || *c.p == ',';
}

/*
 * Tries a token68 at c: 1*t68char *"=" followed by the end of the item.
 * Advances c and returns true on success.
 */
static bool try_token68(struct cursor *c, struct copa_blob *out)
{
	struct cursor t = *c;
	const char *s = t.p;

	while (t.p < t.end && is_t68char((unsigned char)*t.p))
		t.p++;
	if (t.p == s)
		return false;
	while (t.p < t.end && *t.p == '=')
		t.p++;
	if (!at_item_end(t))
		return false;
	*out = copa_blob(s, (size_t)(t.p - s));
	*c = t;
	return true;
}

/*
 * Tries an auth-param at c: token BWS "=" BWS (token / quoted-string),
 * followed by the end of the item. Unquoted values are read leniently (any
 * visible character but ',' and '"'), since registries send realm URLs
 * unquoted now and then. Returns 1 with name/value (value malloc'd), 0 when
 * the text is not a parameter, -1 on a malformed quoted string.
 */
static int try_param(struct cursor *c, struct copa_blob *name, char **value, struct copa_err *err)
{
	struct cursor t = *c;
	struct copa_blob n = take_token(&t);

	if (n.n == 0)
		return 0;
	skip_ows(&t);
	if (t.p == t.end || *t.p != '=')
		return 0;
	t.p++;
	skip_ows(&t);
	if (t.p < t.end && *t.p == '"') {
		struct copa_buf v = COPA_BUF_INIT;

		t.p++;
		for (;;) {
			if (t.p == t.end) {
				copa_buf_release(&v);
				return copa_err_set(
				    err, COPA_E_INPUT,
				    "unterminated quoted string in parameter '%.*s'",
				    (int)(n.n > 64 ? 64 : n.n), n.p);
			}
			if (*t.p == '"') {
				t.p++;
				break;
			}
			if (*t.p == '\\' && t.p + 1 < t.end)
				t.p++;
			copa_buf_addc(&v, *t.p++);
		}
		if (!at_item_end(t)) {
			copa_buf_release(&v);
			return copa_err_set(err, COPA_E_INPUT,
			                    "unexpected text after the quoted value of '%.*s'",
			                    (int)(n.n > 64 ? 64 : n.n), n.p);
		}
		*value = copa_buf_detach(&v, NULL);
	} else {
		const char *s = t.p;

		while (t.p < t.end && *t.p != ',' && *t.p != '"' && *t.p != ' ' && *t.p != '\t' &&
		       (unsigned char)*t.p > 0x20 && (unsigned char)*t.p < 0x7f)
			t.p++;
		if (!at_item_end(t))
			return 0;
		*value = copa_xstrndup(s, (size_t)(t.p - s));
	}
	*name = n;
	*c = t;
	return 1;
}

static void challenge_release(struct copa_auth_challenge *ch)
{
	for (size_t i = 0; i < ch->n_params; i++) {
		free(ch->params[i].name);
		free(ch->params[i].value);
	}
	free(ch->params);
	free(ch->scheme);
	free(ch->token68);
	memset(ch, 0, sizeof(*ch));
}

static int parse_challenges(struct cursor *c, struct copa_auth_challenges *out,
                            struct copa_err *err)
{
	for (;;) {
		struct copa_auth_challenge *ch;
		struct copa_blob scheme;
		size_t params_cap = 0;
		bool first = true;

		while (c->p < c->end && (*c->p == ',' || *c->p == ' ' || *c->p == '\t'))
			c->p++;
		if (c->p == c->end)
			return 0;
		scheme = take_token(c);
		if (scheme.n == 0)
			return copa_err_set(err, COPA_E_INPUT,
			                    "expected an authentication scheme at '%.*s'",
			                    (int)(c->end - c->p > 32 ? 32 : c->end - c->p), c->p);
		if (c->p < c->end && *c->p != ' ' && *c->p != '\t' && *c->p != ',')
			return copa_err_set(err, COPA_E_INPUT,
			                    "invalid character after scheme '%.*s'",
			                    (int)(scheme.n > 64 ? 64 : scheme.n), scheme.p);
		if (out->n >= COPA_AUTH_CHALLENGES_MAX)
			return copa_err_set(err, COPA_E_LIMIT, "more than %d challenges",
			                    COPA_AUTH_CHALLENGES_MAX);
		out->v = copa_xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
		ch = &out->v[out->n++];
		memset(ch, 0, sizeof(*ch));
		ch->scheme = lower_dup(scheme);
		/* Items of this challenge: a token68 first, or auth-params. */
		for (;;) {
			struct cursor save = *c;
			struct copa_blob name, t68;
			char *value = NULL;
			int r;

			skip_ows(c);
			if (!first) {
				if (c->p == c->end)
					return 0;
				if (*c->p != ',')
					return copa_err_set(
					    err, COPA_E_INPUT, "expected ',' at '%.*s'",
					    (int)(c->end - c->p > 32 ? 32 : c->end - c->p), c->p);
				while (c->p < c->end &&
				       (*c->p == ',' || *c->p == ' ' || *c->p == '\t'))
					c->p++;
				if (c->p == c->end)
					return 0;
			} else if (c->p == c->end || *c->p == ',') {
				break; /* a scheme without parameters */
			}
			if (first && ch->n_params == 0 && try_token68(c, &t68)) {
				ch->token68 = copa_blob_dup(t68);
				first = false;
				continue;
			}
			r = try_param(c, &name, &value, err);
			if (r < 0)
				return -1;
			if (r == 0) {
				if (first)
					return copa_err_set(err, COPA_E_INPUT,
					                    "malformed parameters of scheme '%s'",
					                    ch->scheme);
				/* Not a parameter: the next challenge starts here. */
				*c = save;
				break;
			}
			if (ch->token68) {
				free(value);
				return copa_err_set(err, COPA_E_INPUT,
				                    "scheme '%s' mixes a token68 and parameters",
				                    ch->scheme);
			}
			if (ch->n_params >= COPA_AUTH_PARAMS_MAX) {
				free(value);
				return copa_err_set(err, COPA_E_LIMIT,
				                    "more than %d parameters in a challenge",
				                    COPA_AUTH_PARAMS_MAX);
			}
			ch->params = copa_xgrow(ch->params, &params_cap, ch->n_params + 1,
			                        sizeof(*ch->params));
			ch->params[ch->n_params].name = lower_dup(name);
			ch->params[ch->n_params].value = value;
			ch->n_params++;
			first = false;
		}
		/* Rewind to the separator so the outer loop skips it. */
	}
}

int copa_www_authenticate_parse(const char *s, size_t n, struct copa_auth_challenges *out,
                                struct copa_err *err)
{
	struct cursor c = {s, s + n};
	size_t before = out->n;

	if (n > COPA_AUTH_HEADER_MAX)
		return copa_err_set(
		    err, COPA_E_LIMIT,
		    "WWW-Authenticate header is %zu bytes, more than the %d allowed", n,
		    COPA_AUTH_HEADER_MAX);
	if (memchr(s, '\0', n))
		return copa_err_set(err, COPA_E_INPUT,
		                    "WWW-Authenticate header contains a NUL byte");
	if (parse_challenges(&c, out, err) < 0) {
		while (out->n > before)
			challenge_release(&out->v[--out->n]);
		if (out->n == 0) {
			free(out->v);
			out->v = NULL;
		}
		return copa_err_wrap(err, "invalid WWW-Authenticate header");
	}
	return 0;
}

void copa_auth_challenges_release(struct copa_auth_challenges *c)
{
	for (size_t i = 0; i < c->n; i++)
		challenge_release(&c->v[i]);
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

const struct copa_auth_challenge *copa_auth_challenge_find(const struct copa_auth_challenges *c,
                                                           const char *scheme)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcasecmp(c->v[i].scheme, scheme) == 0)
			return &c->v[i];
	return NULL;
}

const char *copa_auth_challenge_param(const struct copa_auth_challenge *c, const char *name)
{
	for (size_t i = 0; i < c->n_params; i++)
		if (strcasecmp(c->params[i].name, name) == 0)
			return c->params[i].value;
	return NULL;
}

/* ---------- credentials ---------- */

#define CRED_FILE_MAX  (1u << 20)
#define HELPER_OUT_MAX (64u << 10)
#define HELPER_TIMEOUT 60000
#define DOCKER_HUB_KEY "index.docker.io"
#define DOCKER_HUB_URL "https://index.docker.io/v1/"

void copa_cred_release(struct copa_cred *c)
{
	/* Secrets are wiped before they are freed. */
	char **secrets[] = {&c->password, &c->identity_token, &c->registry_token};

	for (size_t i = 0; i < COPA_ARRAY_SIZE(secrets); i++)
		if (*secrets[i]) {
			explicit_bzero(*secrets[i], strlen(*secrets[i]));
			free(*secrets[i]);
		}
	free(c->username);
	free(c->source);
	memset(c, 0, sizeof(*c));
}

static bool is_docker_hub(const char *host)
{
	return strcasecmp(host, "docker.io") == 0 || strcasecmp(host, "index.docker.io") == 0 ||
	       strcasecmp(host, "registry-1.docker.io") == 0;
}

char *copa_cred_key_normalize(const char *key)
{
	const char *p = key;
	const char *slash;
	char *host;

	if (strncasecmp(p, "https://", 8) == 0)
		p += 8;
	else if (strncasecmp(p, "http://", 7) == 0)
		p += 7;
	slash = strchr(p, '/');
	host = slash ? copa_xstrndup(p, (size_t)(slash - p)) : copa_xstrdup(p);
	if (is_docker_hub(host)) {
		free(host);
		return copa_xstrdup(DOCKER_HUB_KEY);
	}
	return host;
}

char *copa_cred_helper_server(const char *host)
{
	if (is_docker_hub(host))
		return copa_xstrdup(DOCKER_HUB_URL);
	return copa_xstrdup(host);
}

char *copa_base64_encode(const void *data, size_t n)
{
	char *out = copa_xmalloc(4 * ((n + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, data, (int)n);
	return out;
}

int copa_cred_decode_auth(const char *b64, struct copa_cred *cred, struct copa_err *err)
{
	size_t n = strlen(b64), pad = 0;
	_cleanup_free_ unsigned char *raw = NULL;
	int got;
	char *colon;

	if (n == 0 || n % 4 != 0 || n > 65536)
		return copa_err_set(err, COPA_E_INPUT, "the 'auth' value is not valid base64");
	raw = copa_xmalloc(n / 4 * 3 + 1);
	got = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n);
	if (got < 0)
		return copa_err_set(err, COPA_E_INPUT, "the 'auth' value is not valid base64");
	while (pad < 2 && b64[n - 1 - pad] == '=')
		pad++;
	got -= (int)pad;
	raw[got] = '\0';
	if (memchr(raw, '\0', (size_t)got) || !(colon = strchr((char *)raw, ':'))) {
		explicit_bzero(raw, (size_t)got);
		return copa_err_set(err, COPA_E_INPUT,
		                    "the 'auth' value does not decode to 'user:password'");
	}
	free(cred->username);
	free(cred->password);
	cred->username = copa_xstrndup((char *)raw, (size_t)(colon - (char *)raw));
	cred->password = copa_xstrdup(colon + 1);
	explicit_bzero(raw, (size_t)got);
	return 0;
}

static bool helper_name_valid(const char *s)
{
	if (!s || !isalnum((unsigned char)s[0]) || strlen(s) > 100)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
			return false;
	return true;
}

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = v && *v ? copa_xstrdup(v) : NULL;
}

int copa_cred_helper_get(const char *helper, const char *server, struct copa_cred *cred,
                         bool *found, struct copa_err *err)
{
	_cleanup_free_ char *prog = NULL;
	const char *argv[3];
	struct copa_buf out = COPA_BUF_INIT, errout = COPA_BUF_INIT;
	json_t *j = NULL;
	int status = 0, r = -1;
	const char *user, *secret;

	*found = false;
	if (!helper_name_valid(helper))
		return copa_err_set(err, COPA_E_INPUT, "invalid credential helper name '%.100s'",
		                    helper);
	prog = copa_xasprintf("docker-credential-%s", helper);
	argv[0] = prog;
	argv[1] = "get";
	argv[2] = NULL;
	copa_buf_init(&out, HELPER_OUT_MAX);
	copa_buf_init(&errout, 4096);
	{
		struct copa_proc p = {.argv = argv,
		                      .stdin_data = server,
		                      .stdin_len = strlen(server),
		                      .out = &out,
		                      .errout = &errout,
		                      .timeout_ms = HELPER_TIMEOUT};

		if (copa_proc_run(&p, &status, err) < 0) {
			copa_err_wrap(err, "credential helper '%s'", prog);
			goto out;
		}
	}
	if (status != 0) {
		if (strstr(copa_buf_str(&out), "credentials not found") ||
		    strstr(copa_buf_str(&errout), "credentials not found")) {
			r = 0;
			goto out;
		}
		copa_err_set(err, COPA_E_EXEC, "credential helper '%s' failed (exit %d): %.200s",
		             prog, status, out.len ? copa_buf_str(&out) : copa_buf_str(&errout));
		goto out;
	}
	j = copa_json_parse(out.p, out.len, HELPER_OUT_MAX, "credential helper output", err);
	if (!j) {
		copa_err_wrap(err, "credential helper '%s'", prog);
		goto out;
	}
	user = copa_json_str(j, "Username");
	secret = copa_json_str(j, "Secret");
	if (!secret || !*secret) {
		r = 0; /* nothing usable: a miss */
		goto out;
	}
	if (user && strcmp(user, "<token>") == 0) {
		set_str(&cred->identity_token, secret);
	} else {
		set_str(&cred->username, user);
		set_str(&cred->password, secret);
	}
	free(cred->source);
	cred->source = copa_xasprintf("credential helper '%s'", prog);
	*found = true;
	r = 0;
out:
	if (j)
		json_decref(j);
	if (out.p)
		explicit_bzero(out.p, out.len);
	copa_buf_release(&out);
	copa_buf_release(&errout);
	return r;
}

/* An auths entry into cred; *found when it holds anything usable. */
static int cred_from_entry(json_t *e, const char *path, struct copa_cred *cred, bool *found,
                           struct copa_err *err)
{
	const char *auth = copa_json_str(e, "auth");
	const char *user = copa_json_str(e, "username");
	const char *pass = copa_json_str(e, "password");
	const char *idt = copa_json_str(e, "identitytoken");
	const char *rt = copa_json_str(e, "registrytoken");

	*found = false;
	if (!json_is_object(e))
		return 0;
	if (auth && *auth) {
		if (copa_cred_decode_auth(auth, cred, err) < 0)
			return copa_err_wrap(err, "'%s'", path);
	} else if (user && *user) {
		set_str(&cred->username, user);
		set_str(&cred->password, pass);
	}
	set_str(&cred->identity_token, idt);
	set_str(&cred->registry_token, rt);
	*found = cred->username || cred->identity_token || cred->registry_token;
	if (*found) {
		free(cred->source);
		cred->source = copa_xasprintf("'%s'", path);
	}
	return 0;
}

/*
 * How well an auths key matches host/repo: -1 not at all, 0 the host, more
 * for a namespace key ("host/org") covering the repository (its length).
 */
static long key_match(const char *key, const char *host, const char *repo)
{
	bool url = strncasecmp(key, "https://", 8) == 0 || strncasecmp(key, "http://", 7) == 0;
	_cleanup_free_ char *norm = copa_cred_key_normalize(key);
	_cleanup_free_ char *nhost = copa_cred_key_normalize(host);
	const char *slash = strchr(key, '/');
	const char *ns;
	size_t nl;

	if (strcasecmp(norm, nhost) != 0)
		return -1;
	if (url || !slash)
		return 0;
	/* containers auth.json namespace key: "host/ns[/...]". */
	ns = slash + 1;
	nl = strlen(ns);
	while (nl && ns[nl - 1] == '/')
		nl--;
	if (!repo || nl == 0)
		return nl == 0 ? 0 : -1;
	if (strncmp(repo, ns, nl) != 0 || (repo[nl] != '\0' && repo[nl] != '/'))
		return -1;
	return (long)nl;
}

static int from_helper(copa_cred_helper_fn run, const char *helper, const char *host,
                       const char *path, struct copa_out *out, struct copa_cred *cred, bool *found,
                       struct copa_err *err)
{
	_cleanup_free_ char *server = copa_cred_helper_server(host);

	if (run(helper, server, cred, found, err) == 0)
		return 0;
	if (err->code == COPA_E_NOTFOUND) {
		copa_warn(out,
		          "credential helper 'docker-credential-%s' named in '%s' is not "
		          "installed; trying other credentials",
		          helper, path);
		copa_err_clear(err);
		*found = false;
		return 0;
	}
	return copa_err_wrap(err, "credentials for '%s' from '%s'", host, path);
}

int copa_cred_from_file(const char *path, const char *host, const char *repo, struct copa_out *out,
                        struct copa_cred *cred, bool *found, struct copa_err *err)
{
	struct copa_buf b = COPA_BUF_INIT;
	int r = -1;

	*found = false;
	if (copa_fs_read_file(AT_FDCWD, path, CRED_FILE_MAX, &b, err) < 0) {
		if (err->sys_errno == ENOENT || err->sys_errno == ENOTDIR) {
			copa_err_clear(err);
			r = 0;
		} else if (err->code != COPA_E_LIMIT && !strstr(err->msg, path)) {
			copa_err_wrap(err, "'%s'", path);
		}
	} else {
		r = copa_cred_from_json(b.p, b.len, path, host, repo, copa_cred_helper_get, out,
		                        cred, found, err);
	}
	if (b.p)
		explicit_bzero(b.p, b.len);
	copa_buf_release(&b);
	return r;
}

int copa_cred_from_json(const char *data, size_t n, const char *path, const char *host,
                        const char *repo, copa_cred_helper_fn run_helper, struct copa_out *out,
                        struct copa_cred *cred, bool *found, struct copa_err *err)
{
	json_t *j = NULL, *helpers, *auths;
	_cleanup_free_ char *nhost = copa_cred_key_normalize(host);
	_cleanup_free_ char *what = copa_xasprintf("credentials file '%s'", path);
	const char *helper;
	int r = -1;

	*found = false;
	if (n == 0) {
		r = 0;
		goto out;
	}
	j = copa_json_parse(data, n, CRED_FILE_MAX, what, err);
	if (!j)
		goto out;
	if (!json_is_object(j)) {
		copa_err_set(err, COPA_E_INPUT, "%s is not a JSON object", what);
		goto out;
	}
	/* credHelpers[host] (keys normalised like auths keys). */
	helpers = copa_json_obj(j, "credHelpers");
	if (helpers) {
		const char *k;
		json_t *v;

		json_object_foreach(helpers, k, v)
		{
			_cleanup_free_ char *nk = copa_cred_key_normalize(k);

			if (json_is_string(v) && strcasecmp(nk, nhost) == 0) {
				if (from_helper(run_helper, json_string_value(v), host, path, out,
				                cred, found, err) < 0)
					goto out;
				if (*found) {
					r = 0;
					goto out;
				}
				break;
			}
		}
	}
	helper = copa_json_str(j, "credsStore");
	if (helper && *helper) {
		if (from_helper(run_helper, helper, host, path, out, cred, found, err) < 0)
			goto out;
		if (*found) {
			r = 0;
			goto out;
		}
	}
	auths = copa_json_obj(j, "auths");
	if (auths) {
		const char *k, *best = NULL;
		json_t *v, *best_v = NULL;
		long best_score = -1;

		json_object_foreach(auths, k, v)
		{
			long s = key_match(k, host, repo);

			if (s > best_score) {
				best_score = s;
				best = k;
				best_v = v;
			}
		}
		if (best && cred_from_entry(best_v, path, cred, found, err) < 0)
			goto out;
	}
	r = 0;
out:
	if (r < 0 && err->code != COPA_E_LIMIT && !strstr(err->msg, path))
		copa_err_wrap(err, "'%s'", path);
	if (j)
		json_decref(j);
	return r;
}

int copa_cred_lookup(const char *auth_file, const char *host, const char *repo,
                     struct copa_out *out, struct copa_cred *cred, bool *found,
                     struct copa_err *err)
{
	const char *home = getenv("HOME");
	const char *env;
	char *paths[5] = {0};
	size_t n = 0;
	int r = 0;

	*found = false;
	if (auth_file) {
		struct stat st;

		if (stat(auth_file, &st) < 0)
			return copa_err_sys(err, COPA_E_IO, errno,
			                    "cannot read credentials file '%s'", auth_file);
		return copa_cred_from_file(auth_file, host, repo, out, cred, found, err);
	}
	if ((env = getenv("REGISTRY_AUTH_FILE")) && *env)
		paths[n++] = copa_xstrdup(env);
	if ((env = getenv("DOCKER_CONFIG")) && *env)
		paths[n++] = copa_xasprintf("%s/config.json", env);
	else if (home && *home)
		paths[n++] = copa_xasprintf("%s/.docker/config.json", home);
	if ((env = getenv("XDG_RUNTIME_DIR")) && *env)
		paths[n++] = copa_xasprintf("%s/containers/auth.json", env);
	if (home && *home)
		paths[n++] = copa_xasprintf("%s/.config/containers/auth.json", home);
	for (size_t i = 0; i < n && !*found && r == 0; i++)
		r = copa_cred_from_file(paths[i], host, repo, out, cred, found, err);
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	return r;
}

/* ---------- scopes ---------- */

char *copa_scope_repo(const char *repo, const char *actions)
{
	return copa_xasprintf("repository:%s:%s", repo, actions);
}

/* True when the comma-separated action list `have` includes action `a`. */
static bool actions_include(struct copa_blob have, struct copa_blob a)
{
	struct copa_blob tok;

	while (copa_blob_split(&have, ',', &tok))
		if (copa_blob_eqs(tok, "*") || copa_blob_eq(tok, a))
			return true;
	return false;
}

/* Splits "type:name:actions" at its first and last ':'. */
static bool scope_parts(struct copa_blob s, struct copa_blob *resource, struct copa_blob *actions)
{
	const char *last = NULL;

	for (size_t i = 0; i < s.n; i++)
		if (s.p[i] == ':')
			last = s.p + i;
	if (!last || !copa_blob_chr(s, ':') || copa_blob_chr(s, ':') == last)
		return false;
	*resource = copa_blob(s.p, (size_t)(last - s.p));
	*actions = copa_blob(last + 1, s.n - (size_t)(last + 1 - s.p));
	return true;
}

static bool one_covered(struct copa_blob have, struct copa_blob want)
{
	struct copa_blob wres, wact, tok;

	if (!scope_parts(want, &wres, &wact))
		return false;
	while (copa_blob_split(&have, ' ', &tok)) {
		struct copa_blob hres, hact, rest = wact, a;
		bool all = true;

		if (!scope_parts(tok, &hres, &hact) || !copa_blob_eq(hres, wres))
			continue;
		while (copa_blob_split(&rest, ',', &a))
			if (a.n && !actions_include(hact, a))
				all = false;
		if (all)
			return true;
	}
	return false;
}

bool copa_scopes_cover(const char *have, const char *want)
{
	struct copa_blob w = copa_blob_str(want), tok;

	while (copa_blob_split(&w, ' ', &tok))
		if (tok.n && !one_covered(copa_blob_str(have), tok))
			return false;
	return true;
}

/* ---------- token answers ---------- */

int copa_token_parse(const char *body, size_t n, char **token, long *expires_in,
                     struct copa_err *err)
{
	json_t *j = copa_json_parse(body, n, n + 1, "token service answer", err);
	const char *t;
	json_int_t exp = 60;

	*token = NULL;
	if (!j)
		return -1;
	t = copa_json_str(j, "token");
	if (!t || !*t)
		t = copa_json_str(j, "access_token");
	if (!t || !*t) {
		json_decref(j);
		return copa_err_set(err, COPA_E_AUTH,
		                    "token service answer has neither 'token' nor 'access_token'");
	}
	for (const char *q = t; *q; q++)
		if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f) {
			json_decref(j);
			return copa_err_set(err, COPA_E_AUTH,
			                    "token service answer holds a token with invalid "
			                    "characters");
		}
	if (!copa_json_int(j, "expires_in", &exp) || exp < 60)
		exp = 60;
	if (exp > 86400)
		exp = 86400;
	*token = copa_xstrdup(t);
	*expires_in = (long)exp;
	json_decref(j);
	return 0;
}
