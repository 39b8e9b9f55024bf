/* apkpkg.c: apk package fields and dependency strings (see apkpkg.h). */
#include "pkg/apk/apkpkg.h"

#include "pkg/apk/apkver.h"
#include "util/mem.h"

#include <openssl/evp.h>
#include <string.h>

static bool is_op_char(char c)
{
	return c == '<' || c == '>' || c == '=' || c == '~';
}

static int dep_parse(struct copa_arena *a, struct copa_blob s, struct copa_apk_dep *d,
                     struct copa_err *err)
{
	struct copa_blob name = s, op = COPA_BLOB_NULL, ver = COPA_BLOB_NULL;
	const char *at;

	memset(d, 0, sizeof(*d));
	d->op = 0;
	if (s.n && s.p[0] == '!') {
		d->op |= COPA_APKV_CONFLICT;
		s.p++, s.n--;
		name = s;
	}
	for (size_t i = 0; i < s.n; i++) {
		if (!is_op_char(s.p[i]))
			continue;
		size_t j = i;

		while (j < s.n && is_op_char(s.p[j]))
			j++;
		name = copa_blob(s.p, i);
		op = copa_blob(s.p + i, j - i);
		ver = copa_blob(s.p + j, s.n - j);
		break;
	}
	if (op.p) {
		int mask = copa_apkver_op_parse(op);

		/* only operators apk can write back ("<=", "~", "><", ...; not "<>~" or "<>=") */
		const char *canon = copa_apkver_op_str(mask);

		if (!mask || strcmp(canon, "?") == 0 || !*canon || ver.n == 0)
			return copa_err_set(err, COPA_E_INPUT, "bad dependency '%.*s'", (int)s.n,
			                    s.p);
		d->op |= mask;
		d->version = copa_arena_strndup(a, ver.p, ver.n);
		d->broken =
		    (mask & COPA_APKV_CHECKSUM) != COPA_APKV_CHECKSUM && !copa_apkver_valid(ver);
	} else {
		d->op |= COPA_APKV_ANY;
	}
	at = copa_blob_chr(name, '@');
	if (at) {
		size_t tl = name.n - (size_t)(at - name.p) - 1;

		d->tag = copa_arena_strndup(a, at + 1, tl);
		name.n = (size_t)(at - name.p);
	}
	if (name.n == 0 || memchr(name.p, '\0', name.n))
		return copa_err_set(err, COPA_E_INPUT, "bad dependency '%.*s': no name", (int)s.n,
		                    s.p);
	d->name = copa_arena_strndup(a, name.p, name.n);
	return 0;
}

int copa_apk_deps_parse(struct copa_arena *a, struct copa_blob text, struct copa_apk_deps *out,
                        struct copa_err *err)
{
	size_t n = 0, i = 0;

	out->v = NULL;
	out->n = 0;
	/* count first, so the array lives in the arena in one piece */
	for (i = 0; i < text.n;) {
		while (i < text.n && (text.p[i] == ' ' || text.p[i] == '\n'))
			i++;
		if (i == text.n)
			break;
		n++;
		while (i < text.n && text.p[i] != ' ' && text.p[i] != '\n')
			i++;
	}
	if (n > COPA_APK_DEPS_MAX)
		return copa_err_set(err, COPA_E_LIMIT, "more than %d dependencies in one list",
		                    COPA_APK_DEPS_MAX);
	if (n == 0)
		return 0;
	out->v = copa_arena_alloc(a, n * sizeof(*out->v));
	for (i = 0; i < text.n;) {
		size_t start;

		while (i < text.n && (text.p[i] == ' ' || text.p[i] == '\n'))
			i++;
		if (i == text.n)
			break;
		start = i;
		while (i < text.n && text.p[i] != ' ' && text.p[i] != '\n')
			i++;
		if (dep_parse(a, copa_blob(text.p + start, i - start), &out->v[out->n], err) < 0)
			return -1;
		out->n++;
	}
	return 0;
}

void copa_apk_dep_write(const struct copa_apk_dep *d, struct copa_buf *out)
{
	if (d->op & COPA_APKV_CONFLICT)
		copa_buf_addc(out, '!');
	copa_buf_adds(out, d->name);
	if (d->tag) {
		copa_buf_addc(out, '@');
		copa_buf_adds(out, d->tag);
	}
	if ((d->op & COPA_APKV_ANY) != COPA_APKV_ANY || d->version) {
		copa_buf_adds(out, copa_apkver_op_str(d->op));
		copa_buf_adds(out, d->version ? d->version : "");
	}
}

void copa_apk_deps_write(const struct copa_apk_deps *d, struct copa_buf *out)
{
	for (size_t i = 0; i < d->n; i++) {
		if (i)
			copa_buf_addc(out, ' ');
		copa_apk_dep_write(&d->v[i], out);
	}
}

static int set_num(uint64_t *dst, struct copa_blob v, char letter, struct copa_err *err)
{
	if (copa_blob_to_u64(v, UINT64_MAX, dst) < 0)
		return copa_err_set(err, COPA_E_INPUT, "field '%c:' is not a number: '%.*s'",
		                    letter, (int)(v.n > 40 ? 40 : v.n), v.p);
	return 1;
}

static int set_str(struct copa_arena *a, const char **dst, struct copa_blob v)
{
	*dst = copa_arena_strndup(a, v.p, v.n);
	return 1;
}

static int set_deps(struct copa_arena *a, struct copa_apk_deps *dst, struct copa_blob v,
                    char letter, struct copa_err *err)
{
	if (copa_apk_deps_parse(a, v, dst, err) < 0)
		return copa_err_wrap(err, "field '%c:'", letter);
	return 1;
}

int copa_apk_pkg_set(struct copa_arena *a, struct copa_apk_pkg *p, char letter,
                     struct copa_blob value, struct copa_err *err)
{
	switch (letter) {
	case 'C':
		return set_str(a, &p->csum, value);
	case 'P':
		if (value.n == 0)
			return copa_err_set(err, COPA_E_INPUT, "empty package name");
		return set_str(a, &p->name, value);
	case 'V':
		if (value.n == 0)
			return copa_err_set(err, COPA_E_INPUT, "empty package version");
		return set_str(a, &p->version, value);
	case 'A':
		return set_str(a, &p->arch, value);
	case 'T':
		return set_str(a, &p->desc, value);
	case 'U':
		return set_str(a, &p->url, value);
	case 'L':
		return set_str(a, &p->license, value);
	case 'o':
		return set_str(a, &p->origin, value);
	case 'm':
		return set_str(a, &p->maintainer, value);
	case 'c':
		return set_str(a, &p->commit, value);
	case 'S':
		return set_num(&p->size, value, letter, err);
	case 'I':
		return set_num(&p->installed_size, value, letter, err);
	case 't':
		return set_num(&p->build_time, value, letter, err);
	case 'k':
		return set_num(&p->provider_priority, value, letter, err);
	case 'q':
		return set_num(&p->replaces_priority, value, letter, err);
	case 'D':
		return set_deps(a, &p->depends, value, letter, err);
	case 'p':
		return set_deps(a, &p->provides, value, letter, err);
	case 'i':
		return set_deps(a, &p->install_if, value, letter, err);
	case 'r':
		return set_deps(a, &p->replaces, value, letter, err);
	case 's':
		return set_str(a, &p->repo_tag, value);
	case 'f':
		return set_str(a, &p->broken, value);
	case 'g':
		return set_str(a, &p->tags, value);
	default:
		return 0;
	}
}

static void line_s(struct copa_buf *out, const char *field, const char *v, bool always)
{
	if (!always && (!v || !*v))
		return;
	copa_buf_adds(out, field);
	copa_buf_adds(out, v ? v : "");
	copa_buf_addc(out, '\n');
}

static void line_n(struct copa_buf *out, const char *field, uint64_t v, bool always)
{
	if (always || v)
		copa_buf_addf(out, "%s%llu\n", field, (unsigned long long)v);
}

static void line_d(struct copa_buf *out, const char *field, const struct copa_apk_deps *d)
{
	if (!d->n)
		return;
	copa_buf_adds(out, field);
	copa_apk_deps_write(d, out);
	copa_buf_addc(out, '\n');
}

void copa_apk_pkg_write(const struct copa_apk_pkg *p, bool installed, struct copa_buf *out)
{
	line_s(out, "C:", p->csum, true);
	line_s(out, "P:", p->name, true);
	line_s(out, "V:", p->version, true);
	line_s(out, "A:", p->arch, false);
	line_n(out, "S:", p->size, true);
	line_n(out, "I:", p->installed_size, true);
	line_s(out, "T:", p->desc, true);
	line_s(out, "U:", p->url, true);
	line_s(out, "L:", p->license, true);
	line_s(out, "o:", p->origin, false);
	line_s(out, "m:", p->maintainer, false);
	line_n(out, "t:", p->build_time, false);
	line_s(out, "c:", p->commit, false);
	line_n(out, "k:", p->provider_priority, false);
	line_d(out, "D:", &p->depends);
	line_d(out, "p:", &p->provides);
	line_d(out, "i:", &p->install_if);
	if (!installed)
		return;
	line_s(out, "g:", p->tags, false);
	line_d(out, "r:", &p->replaces);
	line_n(out, "q:", p->replaces_priority, false);
	line_s(out, "s:", p->repo_tag, false);
	line_s(out, "f:", p->broken, false);
}

bool copa_apk_csum_valid(const char *s)
{
	size_t n = strlen(s);

	if (n != 30 || s[0] != 'Q' || s[1] != '1')
		return false;
	for (size_t i = 2; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '/' || (c == '=' && i == n - 1)))
			return false;
	}
	return true;
}

void copa_apk_csum_format(const unsigned char sha1[20], char out[32])
{
	out[0] = 'Q';
	out[1] = '1';
	EVP_EncodeBlock((unsigned char *)out + 2, sha1, 20);
}
