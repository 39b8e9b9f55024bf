/*
 * metalink.c: a repository's metalink XML with expat (see metalink.h).
 */
#include "pkg/rpm/metalink.h"

#include "util/buf.h"
#include "util/hash.h"
#include "util/mem.h"

#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TEXT_MAX  8192 /* one element's text */
#define DEPTH_MAX 64

struct url {
	char *base;
	long pref;
	size_t order;
};

struct mctx {
	XML_Parser p;
	int depth;
	int file_depth; /* depth of <file name="repomd.xml">, 0 when outside */
	int alt_depth;  /* depth of <mm0:alternate> inside it, 0 when outside */
	bool in_hash, in_size, in_url;
	int hash_alg; /* 1 sha256, 2 sha512, 0 other */
	long url_pref;
	struct copa_buf text;
	struct copa_metalink_hash cur; /* the hash being read (current or an alternate) */
	struct copa_metalink_hash main;
	bool have_main;
	struct copa_metalink_hash *alts;
	size_t n_alts;
	struct url *urls;
	size_t n_urls;
	const char *fail; /* first problem, a static string */
	int fail_code;
	bool seen_metalink;
};

static const char *local(const char *name)
{
	const char *c = strrchr(name, ':');

	return c ? c + 1 : name;
}

static void stop(struct mctx *m, int code, const char *why)
{
	if (!m->fail) {
		m->fail = why;
		m->fail_code = code;
	}
	XML_StopParser(m->p, XML_FALSE);
}

static const char *attr(const char **atts, const char *name)
{
	for (size_t i = 0; atts[i]; i += 2)
		if (strcmp(local(atts[i]), name) == 0)
			return atts[i + 1];
	return NULL;
}

static void XMLCALL on_start(void *ud, const char *name, const char **atts)
{
	struct mctx *m = ud;
	const char *l = local(name);

	if (++m->depth > DEPTH_MAX) {
		stop(m, COPA_E_LIMIT, "elements nest deeper than 64");
		return;
	}
	if (m->depth == 1) {
		if (strcmp(l, "metalink") != 0)
			stop(m, COPA_E_INPUT, "the document is not a metalink");
		m->seen_metalink = true;
		return;
	}
	if (!m->file_depth) {
		const char *fn = attr(atts, "name");

		if (strcmp(l, "file") == 0 && fn && strcmp(fn, "repomd.xml") == 0)
			m->file_depth = m->depth;
		return;
	}
	copa_buf_reset(&m->text);
	if (strcmp(l, "alternate") == 0 && !m->alt_depth) {
		m->alt_depth = m->depth;
		memset(&m->cur, 0, sizeof(m->cur));
	} else if (strcmp(l, "size") == 0) {
		m->in_size = true;
	} else if (strcmp(l, "hash") == 0) {
		const char *t = attr(atts, "type");

		m->in_hash = true;
		m->hash_alg = t && strcasecmp(t, "sha256") == 0   ? 1
		              : t && strcasecmp(t, "sha512") == 0 ? 2
		                                                  : 0;
	} else if (strcmp(l, "url") == 0 && !m->alt_depth) {
		const char *pref = attr(atts, "preference");
		char *end = NULL;

		m->in_url = true;
		m->url_pref = pref ? strtol(pref, &end, 10) : 0;
		if (pref && (end == pref || *end))
			m->url_pref = 0;
	}
}

static void XMLCALL on_text(void *ud, const char *s, int len)
{
	struct mctx *m = ud;

	if (!(m->in_size || m->in_hash || m->in_url))
		return;
	if (m->text.len + (size_t)len > TEXT_MAX) {
		stop(m, COPA_E_LIMIT, "an element's text is longer than 8192 bytes");
		return;
	}
	copa_buf_add(&m->text, s, (size_t)len);
}

/* The text of the element just closed, blanks trimmed (m->text stays NUL-terminated). */
static const char *trimmed(struct mctx *m)
{
	char *s, *e;

	copa_buf_addc(&m->text, 0);
	s = m->text.p;
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = 0;
	return s;
}

static bool is_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		      (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return true;
}

static void lower_copy(char *dst, const char *src)
{
	for (; *src; src++)
		*dst++ = (*src >= 'A' && *src <= 'F') ? (char)(*src - 'A' + 'a') : *src;
	*dst = 0;
}

static void end_url(struct mctx *m, const char *u)
{
	static const char tail[] = "repodata/repomd.xml";
	size_t n = strlen(u), t = sizeof(tail) - 1;
	bool ok =
	    n > t && (strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0);

	for (size_t i = 0; ok && i < n; i++)
		ok = (unsigned char)u[i] > 0x20 && u[i] != 0x7f;
	if (!ok || strcmp(u + n - t, tail) != 0 || u[n - t - 1] != '/')
		return; /* rsync, ftp or something else: not ours */
	if (m->n_urls >= COPA_METALINK_URLS_MAX) {
		stop(m, COPA_E_LIMIT, "more than 1000 mirrors");
		return;
	}
	m->urls = copa_xrealloc(m->urls, (m->n_urls + 1) * sizeof(*m->urls));
	m->urls[m->n_urls] = (struct url){copa_xstrndup(u, n - t), m->url_pref, m->n_urls};
	m->n_urls++;
}

static void XMLCALL on_end(void *ud, const char *name)
{
	struct mctx *m = ud;
	const char *l = local(name);

	if (m->file_depth && m->depth == m->file_depth) {
		m->file_depth = 0;
	} else if (m->alt_depth && m->depth == m->alt_depth) {
		m->alt_depth = 0;
		if (m->n_alts + 1 >= COPA_METALINK_HASHES_MAX) {
			stop(m, COPA_E_LIMIT, "more than 31 alternates");
		} else if (m->cur.sha256[0] || m->cur.sha512[0]) {
			m->alts = copa_xrealloc(m->alts, (m->n_alts + 1) * sizeof(*m->alts));
			m->alts[m->n_alts++] = m->cur;
		}
		memset(&m->cur, 0, sizeof(m->cur));
	} else if (m->in_size && strcmp(l, "size") == 0) {
		const char *s = trimmed(m);
		char *end = NULL;
		unsigned long long v = strtoull(s, &end, 10);
		struct copa_metalink_hash *h = m->alt_depth ? &m->cur : &m->main;

		m->in_size = false;
		if (!*s || *end || *s == '-')
			stop(m, COPA_E_INPUT, "a <size> is not a number");
		else
			h->size = v;
	} else if (m->in_hash && strcmp(l, "hash") == 0) {
		const char *s = trimmed(m);
		struct copa_metalink_hash *h = m->alt_depth ? &m->cur : &m->main;

		m->in_hash = false;
		if (m->hash_alg == 1) {
			if (!is_hex(s, 64))
				stop(m, COPA_E_INPUT, "a sha256 <hash> is not 64 hex digits");
			else
				lower_copy(h->sha256, s);
		} else if (m->hash_alg == 2) {
			if (!is_hex(s, 128))
				stop(m, COPA_E_INPUT, "a sha512 <hash> is not 128 hex digits");
			else
				lower_copy(h->sha512, s);
		}
		if (!m->alt_depth && (h->sha256[0] || h->sha512[0]))
			m->have_main = true;
	} else if (m->in_url && strcmp(l, "url") == 0) {
		m->in_url = false;
		end_url(m, trimmed(m));
	}
	m->depth--;
}

static void XMLCALL on_doctype(void *ud, const char *name, const char *sysid, const char *pubid,
                               int has_internal)
{
	(void)name, (void)sysid, (void)pubid, (void)has_internal;
	stop(ud, COPA_E_INPUT, "it has a DOCTYPE (entity declarations are not read)");
}

void copa_metalink_release(struct copa_metalink *ml)
{
	for (size_t i = 0; i < ml->n_bases; i++)
		free(ml->bases[i]);
	free(ml->bases);
	free(ml->hashes);
	memset(ml, 0, sizeof(*ml));
}

static int by_pref(const void *a, const void *b)
{
	const struct url *x = a, *y = b;

	if (x->pref != y->pref)
		return x->pref > y->pref ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

int copa_metalink_parse(const char *xml, size_t n, const char *name, struct copa_metalink *ml,
                        struct copa_err *err)
{
	struct mctx m = {.text = COPA_BUF_INIT};
	int rc = -1;

	memset(ml, 0, sizeof(*ml));
	if (n > COPA_METALINK_MAX)
		return copa_err_set(err, COPA_E_LIMIT, "metalink '%s' is larger than %u bytes",
		                    name, COPA_METALINK_MAX);
	m.p = XML_ParserCreate(NULL);
	if (!m.p)
		return copa_err_set(err, COPA_E_IO, "metalink '%s': out of memory", name);
	XML_SetUserData(m.p, &m);
	XML_SetElementHandler(m.p, on_start, on_end);
	XML_SetCharacterDataHandler(m.p, on_text);
	XML_SetStartDoctypeDeclHandler(m.p, on_doctype);
	if (XML_Parse(m.p, xml, (int)n, XML_TRUE) != XML_STATUS_OK) {
		if (m.fail)
			copa_err_set(err, m.fail_code, "metalink '%s': %s", name, m.fail);
		else
			copa_err_set(err, COPA_E_INPUT, "metalink '%s' is not XML: %s (line %lu)",
			             name, XML_ErrorString(XML_GetErrorCode(m.p)),
			             (unsigned long)XML_GetCurrentLineNumber(m.p));
		goto out;
	}
	if (!m.seen_metalink || !m.have_main) {
		copa_err_set(err, COPA_E_INPUT,
		             "metalink '%s' gives no sha256 or sha512 hash of repomd.xml", name);
		goto out;
	}
	if (m.n_urls == 0) {
		copa_err_set(err, COPA_E_INPUT,
		             "metalink '%s' names no http(s) mirror of repodata/repomd.xml", name);
		goto out;
	}
	qsort(m.urls, m.n_urls, sizeof(*m.urls), by_pref);
	ml->bases = copa_xcalloc(m.n_urls + 1, sizeof(*ml->bases));
	for (size_t i = 0; i < m.n_urls; i++)
		ml->bases[i] = steal_ptr(&m.urls[i].base);
	ml->n_bases = m.n_urls;
	ml->hashes = copa_xcalloc(m.n_alts + 1, sizeof(*ml->hashes));
	ml->hashes[0] = m.main;
	if (m.n_alts)
		memcpy(ml->hashes + 1, m.alts, m.n_alts * sizeof(*m.alts));
	ml->n_hashes = m.n_alts + 1;
	rc = 0;
out:
	for (size_t i = 0; i < m.n_urls; i++)
		free(m.urls[i].base);
	free(m.urls);
	free(m.alts);
	copa_buf_release(&m.text);
	XML_ParserFree(m.p);
	return rc;
}

bool copa_metalink_match(const struct copa_metalink *ml, const void *data, size_t n, char *why,
                         size_t why_len)
{
	char h256[COPA_HASH_HEX_MAX], h512[COPA_HASH_HEX_MAX];

	copa_hash_hex(COPA_HASH_SHA256, data, n, h256);
	copa_hash_hex(COPA_HASH_SHA512, data, n, h512);
	for (size_t i = 0; i < ml->n_hashes; i++) {
		const struct copa_metalink_hash *h = &ml->hashes[i];

		if ((h->size && h->size != n) || (h->sha256[0] && strcmp(h->sha256, h256) != 0) ||
		    (h->sha512[0] && strcmp(h->sha512, h512) != 0))
			continue;
		return true;
	}
	if (ml->n_hashes && ml->hashes[0].size && ml->hashes[0].size != n)
		snprintf(why, why_len, "%zu bytes, the metalink says %llu", n,
		         (unsigned long long)ml->hashes[0].size);
	else
		snprintf(why, why_len, "sha256 %.16s…, the metalink says %.16s…", h256,
		         ml->n_hashes && ml->hashes[0].sha256[0] ? ml->hashes[0].sha256 : "(none)");
	return false;
}
