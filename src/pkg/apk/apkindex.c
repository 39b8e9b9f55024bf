/* apkindex.c: signed APKINDEX verification and parsing (see apkindex.h). */
#include "pkg/apk/apkindex.h"

#include "pkg/apk/apkgz.h"
#include "pkg/apk/apktar.h"
#include "util/mem.h"

#include <string.h>

int copa_apk_lines(const char *text, size_t n, copa_apk_line_fn fn, void *ctx, struct copa_err *err)
{
	size_t off = 0, line = 0;

	while (off < n) {
		const char *nl = memchr(text + off, '\n', n - off);
		size_t len = nl ? (size_t)(nl - (text + off)) : n - off;
		struct copa_blob raw = copa_blob(text + off, nl ? len + 1 : len);
		const char *p = text + off;

		line++;
		off += raw.n;
		if (len > COPA_APK_LINE_MAX)
			return copa_err_set(err, COPA_E_LIMIT, "line %zu: longer than %u bytes",
			                    line, COPA_APK_LINE_MAX);
		if (len == 0) {
			if (fn(ctx, line, 0, COPA_BLOB_NULL, raw, err) < 0)
				return -1;
			continue;
		}
		if (len < 2 || p[1] != ':' || p[0] == '\0' || p[0] == ' ')
			return copa_err_set(err, COPA_E_INPUT, "line %zu: not a 'X:value' line",
			                    line);
		if (memchr(p, '\0', len))
			return copa_err_set(err, COPA_E_INPUT, "line %zu: NUL byte", line);
		if (fn(ctx, line, p[0], copa_blob(p + 2, len - 2), raw, err) < 0)
			return -1;
	}
	return 0;
}

struct parse_ctx {
	struct copa_apk_index *idx;
	struct copa_apk_pkg *cur;
	size_t cur_line;
};

static int finish(struct parse_ctx *c, struct copa_err *err)
{
	struct copa_apk_pkg *p = c->cur;

	if (!p)
		return 0;
	c->cur = NULL;
	if (!p->name || !p->version || !p->csum)
		return copa_err_set(err, COPA_E_INPUT, "package at line %zu: missing %s",
		                    c->cur_line,
		                    !p->name      ? "'P:' (name)"
		                    : !p->version ? "'V:' (version)"
		                                  : "'C:' (checksum)");
	if (!copa_apk_csum_valid(p->csum))
		return copa_err_set(err, COPA_E_INPUT, "package '%s': bad checksum 'C:%.40s'",
		                    p->name, p->csum);
	if (c->idx->n >= COPA_APK_INDEX_MAX_PKGS)
		return copa_err_set(err, COPA_E_LIMIT, "more than %d packages",
		                    COPA_APK_INDEX_MAX_PKGS);
	c->idx->pkgs = copa_xgrow(c->idx->pkgs, &c->idx->cap, c->idx->n + 1, sizeof(*c->idx->pkgs));
	c->idx->pkgs[c->idx->n++] = p;
	return 0;
}

static int on_line(void *ctx, size_t line, char letter, struct copa_blob value,
                   struct copa_blob raw, struct copa_err *err)
{
	struct parse_ctx *c = ctx;
	int r;

	if (letter == 0)
		return finish(c, err);
	if (!c->cur) {
		c->cur = copa_arena_alloc(&c->idx->arena, sizeof(*c->cur));
		memset(c->cur, 0, sizeof(*c->cur));
		c->cur_line = line;
	}
	r = copa_apk_pkg_set(&c->idx->arena, c->cur, letter, value, err);
	if (r < 0)
		return copa_err_wrap(err, "line %zu", line);
	/* unknown letters are newer apk's fields: ignored, as apk does */
	return 0;
}

static int parse_text(struct copa_apk_index *idx, const char *text, size_t n, struct copa_err *err)
{
	struct parse_ctx c = {idx, NULL, 0};

	if (copa_apk_lines(text, n, on_line, &c, err) < 0 || finish(&c, err) < 0)
		return copa_err_wrap(err, "APKINDEX");
	return 0;
}

int copa_apk_index_parse_text(struct copa_apk_index *idx, const char *text, size_t n,
                              const char *what, struct copa_err *err)
{
	if (parse_text(idx, text, n, err) < 0)
		return copa_err_wrap(err, "%s", what);
	return 0;
}

void copa_apk_index_release(struct copa_apk_index *idx)
{
	copa_arena_release(&idx->arena);
	free(idx->pkgs);
	*idx = (struct copa_apk_index)COPA_APK_INDEX_INIT;
}

static int load(struct copa_apk_index *idx, const unsigned char *data, size_t n,
                const struct copa_apk_keys *keys, const char *what, struct copa_buf *sig,
                struct copa_buf *body, struct copa_err *err)
{
	size_t used1, used2;
	const char *key;
	struct copa_apk_tar t;
	struct copa_apk_tar_entry e;
	bool have_index = false;
	int r;

	if (copa_apk_gunzip(data, n, 1u << 20, sig, &used1, "signature segment", err) < 0) {
		if (err->code == COPA_E_LIMIT)
			return copa_err_set(
			    err, COPA_E_VERIFY,
			    "not signed (its first gzip stream is not a signature)");
		return -1;
	}
	if (!copa_apk_is_signature_segment(copa_blob(sig->p, sig->len)))
		return copa_apk_verify_segment(NULL, copa_blob(sig->p, sig->len), COPA_BLOB_NULL,
		                               NULL, err);
	if (used1 == n)
		return copa_err_set(err, COPA_E_VERIFY, "not signed (one gzip stream only)");
	if (copa_apk_verify_segment(keys, copa_blob(sig->p, sig->len),
	                            copa_blob(data + used1, n - used1), &key, err) < 0)
		return -1;
	idx->signed_by = copa_arena_strdup(&idx->arena, key);
	/* only now is the signed part read */
	if (copa_apk_gunzip(data + used1, n - used1, COPA_APK_INDEX_MAX_BYTES, body, &used2,
	                    "index segment", err) < 0)
		return -1;
	if (used1 + used2 != n)
		return copa_err_set(err, COPA_E_INPUT, "data after the index segment");
	copa_apk_tar_init(&t, body->p, body->len, "index segment");
	while ((r = copa_apk_tar_next(&t, &e, err)) == 1) {
		if (strcmp(e.name, "DESCRIPTION") == 0) {
			idx->description = copa_arena_strndup(&idx->arena, e.data.p, e.data.n);
		} else if (strcmp(e.name, "APKINDEX") == 0) {
			if (have_index) {
				r = copa_err_set(err, COPA_E_INPUT, "two APKINDEX members");
				break;
			}
			have_index = true;
			if (parse_text(idx, e.data.p, e.data.n, err) < 0) {
				r = -1;
				break;
			}
		}
	}
	copa_apk_tar_release(&t);
	if (r < 0)
		return -1;
	if (!have_index)
		return copa_err_set(err, COPA_E_INPUT, "no APKINDEX member");
	if (!idx->description)
		idx->description = "";
	return 0;
}

int copa_apk_index_load(struct copa_apk_index *idx, const void *data, size_t n,
                        const struct copa_apk_keys *keys, const char *what, struct copa_err *err)
{
	struct copa_buf sig = COPA_BUF_INIT, body = COPA_BUF_INIT;
	int r = load(idx, data, n, keys, what, &sig, &body, err);

	copa_buf_release(&sig);
	copa_buf_release(&body);
	if (r < 0) {
		copa_apk_index_release(idx);
		return copa_err_wrap(err, "%s", what);
	}
	return 0;
}
