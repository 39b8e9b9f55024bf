/* Unit tests of src/registry/auth.c: WWW-Authenticate parsing, credential
 * files and lookup order, scopes, token answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "registry/auth.h"
#include "testutil.h"
#include "util/fs.h"
#include "util/mem.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---------- WWW-Authenticate: one row per header ---------- */

struct wa_case {
	const char *header;
	int ok;           /* 1 parses, 0 fails */
	size_t n;         /* challenges */
	const char *dump; /* "scheme{k=v,k=v}|scheme[token68]" */
};

static const struct wa_case wa_cases[] = {
    {"Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
     "scope=\"repository:samalba/my-app:pull,push\"",
     1, 1,
     "bearer{realm=https://auth.docker.io/token,service=registry.docker.io,"
     "scope=repository:samalba/my-app:pull,push}"},
    {"Basic realm=\"Registry Realm\"", 1, 1, "basic{realm=Registry Realm}"},
    {"BASIC REALM=\"x\"", 1, 1, "basic{realm=x}"},
    {"Basic realm=\"a\", Bearer realm=\"https://t/x\", service=\"s\"", 1, 2,
     "basic{realm=a}|bearer{realm=https://t/x,service=s}"},
    {"Bearer realm=\"a\\\"b\\\\c\"", 1, 1, "bearer{realm=a\"b\\c}"},
    {"Bearer realm=https://t/token,service=reg", 1, 1, "bearer{realm=https://t/token,service=reg}"},
    {"Bearer  realm = \"x\" ,  service=\"y\"", 1, 1, "bearer{realm=x,service=y}"},
    {"Negotiate abc123==", 1, 1, "negotiate[abc123==]"},
    {"Negotiate abc=, Basic realm=\"r\"", 1, 2, "negotiate[abc=]|basic{realm=r}"},
    {"Newauth", 1, 1, "newauth{}"},
    {"Newauth, Basic realm=\"x\"", 1, 2, "newauth{}|basic{realm=x}"},
    {",, Basic realm=\"x\",,", 1, 1, "basic{realm=x}"},
    {"Bearer realm=\"\",error=\"insufficient_scope\"", 1, 1,
     "bearer{realm=,error=insufficient_scope}"},
    {"", 1, 0, ""},
    {"Bearer realm=\"unterminated", 0, 0, NULL},
    {"Bearer realm=\"x\" junk", 0, 0, NULL},
    {"=realm", 0, 0, NULL},
    {"Bearer realm=\"x\" service=\"y\"", 0, 0, NULL},
    {"Basic=x", 0, 0, NULL},
    {"Basic abc=, realm=\"x\"", 0, 0, NULL},
    {"Bearer \"quoted\"", 0, 0, NULL},
};

static void dump(const struct copa_auth_challenges *c, struct copa_buf *b)
{
	for (size_t i = 0; i < c->n; i++) {
		if (i)
			copa_buf_addc(b, '|');
		copa_buf_adds(b, c->v[i].scheme);
		if (c->v[i].token68) {
			copa_buf_addf(b, "[%s]", c->v[i].token68);
			continue;
		}
		copa_buf_addc(b, '{');
		for (size_t j = 0; j < c->v[i].n_params; j++)
			copa_buf_addf(b, "%s%s=%s", j ? "," : "", c->v[i].params[j].name,
			              c->v[i].params[j].value);
		copa_buf_addc(b, '}');
	}
}

static void www_authenticate_table(void **state)
{
	for (size_t i = 0; i < COPA_ARRAY_SIZE(wa_cases); i++) {
		const struct wa_case *t = &wa_cases[i];
		struct copa_auth_challenges c = {0};
		struct copa_err err = COPA_ERR_INIT;
		struct copa_buf b = COPA_BUF_INIT;
		int r = copa_www_authenticate_parse(t->header, strlen(t->header), &c, &err);

		if (t->ok && r < 0)
			fail_msg("'%s' failed: %s", t->header, err.msg);
		if (!t->ok) {
			if (r == 0)
				fail_msg("'%s' parsed but should not", t->header);
			assert_int_equal(err.code, COPA_E_INPUT);
			assert_int_equal(c.n, 0);
			continue;
		}
		assert_int_equal(c.n, t->n);
		dump(&c, &b);
		if (strcmp(copa_buf_str(&b), t->dump) != 0)
			fail_msg("'%s': got %s, want %s", t->header, copa_buf_str(&b), t->dump);
		copa_buf_release(&b);
		copa_auth_challenges_release(&c);
	}
}

static void www_authenticate_lookup_and_caps(void **state)
{
	struct copa_auth_challenges c = {0};
	struct copa_err err = COPA_ERR_INIT;
	const char *h = "Basic realm=\"a\", Bearer Realm=\"https://t\",SERVICE=\"s\"";
	const struct copa_auth_challenge *b;
	struct copa_buf many = COPA_BUF_INIT;

	assert_ok(copa_www_authenticate_parse(h, strlen(h), &c, &err));
	/* A second header appends. */
	assert_ok(copa_www_authenticate_parse("Digest realm=\"d\"", 16, &c, &err));
	assert_int_equal(c.n, 3);
	b = copa_auth_challenge_find(&c, "BEARER");
	assert_non_null(b);
	assert_string_equal(copa_auth_challenge_param(b, "realm"), "https://t");
	assert_string_equal(copa_auth_challenge_param(b, "Service"), "s");
	assert_null(copa_auth_challenge_param(b, "scope"));
	assert_null(copa_auth_challenge_find(&c, "negotiate"));
	copa_auth_challenges_release(&c);

	for (int i = 0; i < COPA_AUTH_CHALLENGES_MAX + 1; i++)
		copa_buf_addf(&many, "%sS%d", i ? ", " : "", i);
	assert_int_equal(copa_www_authenticate_parse(many.p, many.len, &c, &err), -1);
	assert_int_equal(err.code, COPA_E_LIMIT);
	assert_int_equal(c.n, 0);
	copa_buf_reset(&many);
	copa_buf_adds(&many, "Bearer ");
	for (int i = 0; i < COPA_AUTH_PARAMS_MAX + 1; i++)
		copa_buf_addf(&many, "%sp%d=v", i ? "," : "", i);
	assert_int_equal(copa_www_authenticate_parse(many.p, many.len, &c, &err), -1);
	assert_int_equal(err.code, COPA_E_LIMIT);
	copa_buf_reset(&many);
	for (int i = 0; i < COPA_AUTH_HEADER_MAX; i++)
		copa_buf_addc(&many, 'a');
	copa_buf_addc(&many, 'a');
	assert_int_equal(copa_www_authenticate_parse(many.p, many.len, &c, &err), -1);
	assert_int_equal(err.code, COPA_E_LIMIT);
	assert_int_equal(copa_www_authenticate_parse("Basic\0x", 7, &c, &err), -1);
	copa_buf_release(&many);
}

/* ---------- scopes and tokens ---------- */

static void scopes_cover(void **state)
{
	static const struct {
		const char *have, *want;
		bool ok;
	} t[] = {
	    {"repository:a/b:pull", "repository:a/b:pull", true},
	    {"repository:a/b:pull,push", "repository:a/b:pull", true},
	    {"repository:a/b:pull", "repository:a/b:pull,push", false},
	    {"repository:a/b:*", "repository:a/b:pull,push", true},
	    {"repository:a/b:pull", "repository:a/c:pull", false},
	    {"repository:a/c:pull repository:a/b:pull,push",
	     "repository:a/b:pull,push repository:a/c:pull", true},
	    {"repository:a/b:pull,push", "repository:a/b:pull,push repository:a/c:pull", false},
	    {"repository:host:5000/x:pull", "repository:host:5000/x:pull", true},
	    {"", "repository:a/b:pull", false},
	    {"repository:a/b:pull", "", true},
	    {"garbage", "repository:a/b:pull", false},
	};
	char *s = copa_scope_repo("team/app", "pull,push");

	assert_string_equal(s, "repository:team/app:pull,push");
	free(s);
	for (size_t i = 0; i < COPA_ARRAY_SIZE(t); i++)
		if (copa_scopes_cover(t[i].have, t[i].want) != t[i].ok)
			fail_msg("cover('%s', '%s') != %d", t[i].have, t[i].want, t[i].ok);
}

static void token_answers(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	char *tok = NULL;
	long exp = 0;
	const char *a = "{\"token\":\"abc\",\"expires_in\":300}";
	const char *b = "{\"access_token\":\"xyz\"}";
	const char *c = "{\"token\":\"\",\"access_token\":\"late\",\"expires_in\":5}";
	const char *d = "{\"expires_in\":300}";
	const char *e = "{\"token\":\"a b\"}";
	const char *f = "{\"token\":\"t\",\"expires_in\":99999999}";

	assert_ok(copa_token_parse(a, strlen(a), &tok, &exp, &err));
	assert_string_equal(tok, "abc");
	assert_int_equal(exp, 300);
	free(tok);
	assert_ok(copa_token_parse(b, strlen(b), &tok, &exp, &err));
	assert_string_equal(tok, "xyz");
	assert_int_equal(exp, 60);
	free(tok);
	assert_ok(copa_token_parse(c, strlen(c), &tok, &exp, &err));
	assert_string_equal(tok, "late");
	assert_int_equal(exp, 60);
	free(tok);
	assert_ok(copa_token_parse(f, strlen(f), &tok, &exp, &err));
	assert_int_equal(exp, 86400);
	free(tok);
	assert_int_equal(copa_token_parse(d, strlen(d), &tok, &exp, &err), -1);
	assert_int_equal(err.code, COPA_E_AUTH);
	assert_int_equal(copa_token_parse(e, strlen(e), &tok, &exp, &err), -1);
	assert_int_equal(copa_token_parse("nope", 4, &tok, &exp, &err), -1);
	assert_int_equal(err.code, COPA_E_INPUT);
}

/* ---------- credentials ---------- */

static void key_normalize(void **state)
{
	static const char *const t[][2] = {
	    {"https://index.docker.io/v1/", "index.docker.io"},
	    {"docker.io", "index.docker.io"},
	    {"registry-1.docker.io", "index.docker.io"},
	    {"http://reg.example:5000/v2/", "reg.example:5000"},
	    {"reg.example:5000", "reg.example:5000"},
	    {"quay.io/org/repo", "quay.io"},
	    {"localhost:5000", "localhost:5000"},
	};

	for (size_t i = 0; i < COPA_ARRAY_SIZE(t); i++) {
		char *n = copa_cred_key_normalize(t[i][0]);

		assert_string_equal(n, t[i][1]);
		free(n);
	}
	{
		char *s = copa_cred_helper_server("docker.io");

		assert_string_equal(s, "https://index.docker.io/v1/");
		free(s);
		s = copa_cred_helper_server("ghcr.io");
		assert_string_equal(s, "ghcr.io");
		free(s);
	}
}

static void decode_auth(void **state)
{
	struct copa_cred c = {0};
	struct copa_err err = COPA_ERR_INIT;
	char *b;

	assert_ok(copa_cred_decode_auth("dXNlcjpwYXNz", &c, &err)); /* user:pass */
	assert_string_equal(c.username, "user");
	assert_string_equal(c.password, "pass");
	/* A password with colons keeps them; padding is handled. */
	b = copa_base64_encode("u:p:w:", 6);
	assert_ok(copa_cred_decode_auth(b, &c, &err));
	assert_string_equal(c.username, "u");
	assert_string_equal(c.password, "p:w:");
	free(b);
	b = copa_base64_encode("a:b", 3);
	assert_string_equal(b, "YTpi");
	assert_ok(copa_cred_decode_auth(b, &c, &err));
	assert_string_equal(c.password, "b");
	free(b);
	assert_int_equal(copa_cred_decode_auth("bm9jb2xvbg==", &c, &err), -1); /* nocolon */
	assert_int_equal(copa_cred_decode_auth("!!!!", &c, &err), -1);
	assert_int_equal(copa_cred_decode_auth("abc", &c, &err), -1);
	assert_int_equal(copa_cred_decode_auth("", &c, &err), -1);
	copa_cred_release(&c);
}

struct credenv {
	char *dir;
};

static char *write_tmp(const char *dir, const char *name, const char *text)
{
	struct copa_err err = COPA_ERR_INIT;
	char *p = copa_xasprintf("%s/%s", dir, name);

	if (copa_fs_write_atomic(AT_FDCWD, p, text, strlen(text), 0755, &err) < 0)
		fail_msg("%s", err.msg);
	return p;
}

static int cred_setup(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct credenv *e = copa_xcalloc(1, sizeof(*e));
	char *bin, *path;

	e->dir = copa_fs_mkdtemp(NULL, "copa-test-auth-", &err);
	assert_non_null(e->dir);
	bin = copa_xasprintf("%s/bin", e->dir);
	assert_ok(copa_fs_mkdir_p(AT_FDCWD, bin, 0755, &err));
	/* A credential helper: knows "helped.example" only; logs its stdin. */
	free(
	    write_tmp(bin, "docker-credential-unit",
	              "#!/bin/sh\n"
	              "read -r server || true\n"
	              "echo \"$1 $server\" >> \"$(dirname \"$0\")/calls\"\n"
	              "case \"$server\" in\n"
	              "helped.example) echo '{\"ServerURL\":\"helped.example\",\"Username\":\"hu\","
	              "\"Secret\":\"hs\"}' ;;\n"
	              "tok.example) echo '{\"Username\":\"<token>\",\"Secret\":\"idt\"}' ;;\n"
	              "broken.example) echo 'boom' >&2; exit 3 ;;\n"
	              "*) echo 'credentials not found in native keychain'; exit 1 ;;\n"
	              "esac\n"));
	path = copa_xasprintf("%s:%s", bin, getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	setenv("PATH", path, 1);
	free(path);
	free(bin);
	unsetenv("REGISTRY_AUTH_FILE");
	unsetenv("DOCKER_CONFIG");
	unsetenv("XDG_RUNTIME_DIR");
	setenv("HOME", e->dir, 1);
	*state = e;
	return 0;
}

static int cred_teardown(void **state)
{
	struct credenv *e = *state;
	struct copa_err err = COPA_ERR_INIT;

	copa_fs_rm_rf(AT_FDCWD, e->dir, &err);
	free(e->dir);
	free(e);
	return 0;
}

static void lookup(const char *auth_file, const char *host, const char *repo, bool want_found,
                   const char *user, const char *pass, const char *idt)
{
	struct copa_cred c = {0};
	struct copa_err err = COPA_ERR_INIT;
	bool found = false;

	if (copa_cred_lookup(auth_file, host, repo, NULL, &c, &found, &err) < 0)
		fail_msg("lookup '%s': %s", host, err.msg);
	if (found != want_found)
		fail_msg("lookup '%s': found=%d", host, found);
	if (user)
		assert_string_equal(c.username, user);
	if (pass)
		assert_string_equal(c.password, pass);
	if (idt)
		assert_string_equal(c.identity_token, idt);
	copa_cred_release(&c);
}

static void cred_file_order(void **state)
{
	struct credenv *e = *state;
	char *dc = copa_xasprintf("%s/dc", e->dir);
	struct copa_err err = COPA_ERR_INIT;
	char *f;

	assert_ok(copa_fs_mkdir_p(AT_FDCWD, dc, 0755, &err));
	f = write_tmp(dc, "config.json",
	              "{\"auths\":{"
	              "\"https://index.docker.io/v1/\":{\"auth\":\"aHViOmh1YnB3\"}," /* hub:hubpw */
	              "\"helped.example\":{\"username\":\"fileu\",\"password\":\"filep\"},"
	              "\"store.example\":{\"username\":\"su\",\"password\":\"sp\"},"
	              "\"http://plain.example:5000/v2/\":{\"username\":\"pu\",\"password\":\"pp\"},"
	              "\"idt.example\":{\"identitytoken\":\"it-1\"},"
	              "\"quay.example\":{\"username\":\"q\",\"password\":\"top\"},"
	              "\"quay.example/org\":{\"username\":\"q\",\"password\":\"org\"},"
	              "\"quay.example/org/team\":{\"username\":\"q\",\"password\":\"team\"}},"
	              "\"credHelpers\":{\"helped.example\":\"unit\"},"
	              "\"credsStore\":\"unit\"}");
	setenv("DOCKER_CONFIG", dc, 1);
	/* credHelpers beats auths. */
	lookup(NULL, "helped.example", "x", true, "hu", "hs", NULL);
	/* credsStore misses: fall through to auths. */
	lookup(NULL, "store.example", "x", true, "su", "sp", NULL);
	/* Docker Hub aliases find the v1 URL key. */
	lookup(NULL, "docker.io", "library/nginx", true, "hub", "hubpw", NULL);
	lookup(NULL, "registry-1.docker.io", "x", true, "hub", NULL, NULL);
	lookup(NULL, "plain.example:5000", "x", true, "pu", "pp", NULL);
	lookup(NULL, "plain.example", "x", false, NULL, NULL, NULL);
	lookup(NULL, "idt.example", "x", true, NULL, NULL, "it-1");
	/* Namespace keys: the longest match wins, the host key is the fallback. */
	lookup(NULL, "quay.example", "org/team/app", true, "q", "team", NULL);
	lookup(NULL, "quay.example", "org/other", true, "q", "org", NULL);
	lookup(NULL, "quay.example", "organ/x", true, "q", "top", NULL);
	lookup(NULL, "nothing.example", "x", false, NULL, NULL, NULL);
	/* A helper returning "<token>" gives an identity token. */
	lookup(NULL, "tok.example", "x", true, NULL, NULL, "idt");
	free(f);

	/* REGISTRY_AUTH_FILE comes before DOCKER_CONFIG. */
	f = write_tmp(e->dir, "auth.json",
	              "{\"auths\":{\"store.example\":{\"auth\":\"cmE6cmFw\"}}}"); /* ra:rap */
	setenv("REGISTRY_AUTH_FILE", f, 1);
	lookup(NULL, "store.example", "x", true, "ra", "rap", NULL);
	/* ...but not for hosts it does not know. */
	lookup(NULL, "plain.example:5000", "x", true, "pu", NULL, NULL);
	/* An explicit auth file is the only one read. */
	lookup(f, "plain.example:5000", "x", false, NULL, NULL, NULL);
	unsetenv("REGISTRY_AUTH_FILE");
	free(f);
	unsetenv("DOCKER_CONFIG");
	free(dc);
}

static void cred_file_errors(void **state)
{
	struct credenv *e = *state;
	struct copa_cred c = {0};
	struct copa_err err = COPA_ERR_INIT;
	bool found = true;
	char *f;

	/* Missing files are fine in the search, not when named explicitly. */
	assert_ok(
	    copa_cred_from_file("/nonexistent/config.json", "a", "b", NULL, &c, &found, &err));
	assert_false(found);
	assert_int_equal(
	    copa_cred_lookup("/nonexistent/auth.json", "a", "b", NULL, &c, &found, &err), -1);
	assert_non_null(strstr(err.msg, "/nonexistent/auth.json"));

	f = write_tmp(e->dir, "bad.json", "{\"auths\":");
	assert_int_equal(copa_cred_from_file(f, "a", "b", NULL, &c, &found, &err), -1);
	assert_int_equal(err.code, COPA_E_INPUT);
	assert_non_null(strstr(err.msg, f));
	free(f);
	f = write_tmp(e->dir, "badauth.json", "{\"auths\":{\"a\":{\"auth\":\"%%%%\"}}}");
	assert_int_equal(copa_cred_from_file(f, "a", "b", NULL, &c, &found, &err), -1);
	assert_non_null(strstr(err.msg, "base64"));
	free(f);
	/* A failing helper is an error naming it; an invalid helper name is refused. */
	f = write_tmp(e->dir, "broken.json", "{\"credHelpers\":{\"broken.example\":\"unit\"}}");
	assert_int_equal(copa_cred_from_file(f, "broken.example", "b", NULL, &c, &found, &err), -1);
	assert_int_equal(err.code, COPA_E_EXEC);
	assert_non_null(strstr(err.msg, "docker-credential-unit"));
	assert_non_null(strstr(err.msg, "boom"));
	free(f);
	f = write_tmp(e->dir, "evil.json", "{\"credsStore\":\"../../bin/sh\"}");
	assert_int_equal(copa_cred_from_file(f, "x.example", "b", NULL, &c, &found, &err), -1);
	assert_int_equal(err.code, COPA_E_INPUT);
	free(f);
	/* A helper that is not installed is a warning and a miss. */
	f = write_tmp(
	    e->dir, "missing.json",
	    "{\"credsStore\":\"not-there\",\"auths\":{\"x.example\":{\"auth\":\"YTpi\"}}}");
	assert_ok(copa_cred_from_file(f, "x.example", "b", NULL, &c, &found, &err));
	assert_true(found);
	assert_string_equal(c.username, "a");
	free(f);
	copa_cred_release(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(www_authenticate_table),
	    cmocka_unit_test(www_authenticate_lookup_and_caps),
	    cmocka_unit_test(scopes_cover),
	    cmocka_unit_test(token_answers),
	    cmocka_unit_test(key_normalize),
	    cmocka_unit_test(decode_auth),
	    cmocka_unit_test_setup_teardown(cred_file_order, cred_setup, cred_teardown),
	    cmocka_unit_test_setup_teardown(cred_file_errors, cred_setup, cred_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
