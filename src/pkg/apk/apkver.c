/*
 * apkver.c: apk version ordering (see apkver.h).
 *
 * A version is read as a sequence of tokens whose kinds are ordered: the
 * initial number, later numbers, a letter, a suffix, a suffix number, a
 * commit hash, a revision, then the end (or "invalid"). Each kind may only
 * follow kinds before it, which is the whole grammar. Two versions are
 * walked in step while their token kinds agree; the first differing value
 * decides. When the kinds part, a pre-release suffix (_alpha.._rc) is
 * smaller, and otherwise the side that is further along the kind order
 * (nearer the end) is the smaller one: `1.0 < 1.0.1`, `1.0 < 1.0-r1`.
 */
#include "pkg/apk/apkver.h"

#include <stdint.h>

enum tok_kind {
	TK_INITIAL,
	TK_DIGIT,
	TK_LETTER,
	TK_SUFFIX,
	TK_SUFFIX_NO,
	TK_HASH,
	TK_REVISION,
	TK_END,
	TK_INVALID,
};

/* Suffix ranks: pre-releases below "none", post-releases above it. */
enum {
	SUF_INVALID,
	SUF_ALPHA,
	SUF_BETA,
	SUF_PRE,
	SUF_RC,
	SUF_NONE,
	SUF_CVS,
	SUF_SVN,
	SUF_GIT,
	SUF_HG,
	SUF_P,
};

struct tok {
	enum tok_kind kind;
	int suffix;
	uint64_t number;
	struct copa_blob text; /* the token's characters, for string comparisons */
};

static int suffix_rank(struct copa_blob s)
{
	static const struct {
		const char *name;
		int rank;
	} table[] = {
	    {"alpha", SUF_ALPHA}, {"beta", SUF_BETA}, {"pre", SUF_PRE},
	    {"rc", SUF_RC},       {"cvs", SUF_CVS},   {"svn", SUF_SVN},
	    {"git", SUF_GIT},     {"hg", SUF_HG},     {"p", SUF_P},
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (copa_blob_eqs(s, table[i].name))
			return table[i].rank;
	return SUF_INVALID;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f');
}

static void eat(struct copa_blob *b, size_t n)
{
	b->p += n;
	b->n -= n;
}

/* A run of decimal digits; an empty run makes the token invalid. Wraps like apk on overflow. */
static void take_digits(struct tok *t, struct copa_blob *b)
{
	size_t i = 0;

	t->number = 0;
	while (i < b->n && is_digit(b->p[i]))
		t->number = t->number * 10 + (uint64_t)(b->p[i++] - '0');
	t->text = copa_blob(b->p, i);
	eat(b, i);
	if (i == 0)
		t->kind = TK_INVALID;
}

static void tok_first(struct tok *t, struct copa_blob *b)
{
	t->kind = TK_INITIAL;
	t->suffix = SUF_NONE;
	take_digits(t, b);
}

static void tok_next(struct tok *t, struct copa_blob *b)
{
	size_t i;

	if (b->n == 0) {
		t->kind = TK_END;
		return;
	}
	char c = b->p[0];

	if (is_lower(c)) {
		if (t->kind > TK_DIGIT)
			goto invalid;
		t->text = copa_blob(b->p, 1);
		t->kind = TK_LETTER;
		eat(b, 1);
	} else if (c == '.' || is_digit(c)) {
		if (c == '.') {
			if (t->kind > TK_DIGIT)
				goto invalid;
			eat(b, 1);
		}
		if (t->kind == TK_INITIAL || t->kind == TK_DIGIT)
			t->kind = TK_DIGIT;
		else if (t->kind == TK_SUFFIX)
			t->kind = TK_SUFFIX_NO;
		else
			goto invalid;
		take_digits(t, b);
	} else if (c == '_') {
		if (t->kind > TK_SUFFIX_NO)
			goto invalid;
		eat(b, 1);
		for (i = 0; i < b->n && is_lower(b->p[i]); i++)
			;
		t->text = copa_blob(b->p, i);
		eat(b, i);
		t->suffix = suffix_rank(t->text);
		if (t->suffix == SUF_INVALID)
			goto invalid;
		t->kind = TK_SUFFIX;
	} else if (c == '~') {
		if (t->kind >= TK_HASH)
			goto invalid;
		eat(b, 1);
		for (i = 0; i < b->n && is_hex(b->p[i]); i++)
			;
		t->text = copa_blob(b->p, i);
		eat(b, i);
		if (i == 0)
			goto invalid;
		t->kind = TK_HASH;
	} else if (c == '-') {
		if (t->kind >= TK_REVISION || b->n < 2 || b->p[1] != 'r')
			goto invalid;
		eat(b, 2);
		t->kind = TK_REVISION;
		take_digits(t, b);
	} else {
		goto invalid;
	}
	return;
invalid:
	t->kind = TK_INVALID;
}

static int bytes_order(struct copa_blob a, struct copa_blob b)
{
	size_t n = a.n < b.n ? a.n : b.n;
	int r = n ? memcmp(a.p, b.p, n) : 0;

	if (r == 0)
		r = (a.n > b.n) - (a.n < b.n);
	return r < 0 ? COPA_APKV_LESS : r > 0 ? COPA_APKV_GREATER : COPA_APKV_EQUAL;
}

static int order(uint64_t a, uint64_t b)
{
	return a < b ? COPA_APKV_LESS : a > b ? COPA_APKV_GREATER : COPA_APKV_EQUAL;
}

/* Compares two tokens of the same kind. */
static int tok_cmp(const struct tok *a, const struct tok *b)
{
	switch (a->kind) {
	case TK_DIGIT:
		/* A component with a leading zero sorts as a string (Gentoo): 1.001 < 1.01 < 1.1.
		 */
		if (a->text.p[0] == '0' || b->text.p[0] == '0')
			return bytes_order(a->text, b->text);
		return order(a->number, b->number);
	case TK_INITIAL:
	case TK_SUFFIX_NO:
	case TK_REVISION:
		return order(a->number, b->number);
	case TK_LETTER:
		return order((unsigned char)a->text.p[0], (unsigned char)b->text.p[0]);
	case TK_SUFFIX:
		return order((uint64_t)a->suffix, (uint64_t)b->suffix);
	case TK_HASH:
	case TK_END:
	case TK_INVALID:
		return bytes_order(a->text, b->text);
	}
	return COPA_APKV_EQUAL;
}

bool copa_apkver_valid(struct copa_blob v)
{
	struct tok t;

	for (tok_first(&t, &v); t.kind < TK_END; tok_next(&t, &v))
		;
	return t.kind == TK_END;
}

int copa_apkver_cmp_fuzzy(struct copa_blob a, struct copa_blob b, bool fuzzy)
{
	struct tok ta, tb;

	for (tok_first(&ta, &a), tok_first(&tb, &b); ta.kind == tb.kind && ta.kind < TK_END;
	     tok_next(&ta, &a), tok_next(&tb, &b)) {
		int r = tok_cmp(&ta, &tb);

		if (r != COPA_APKV_EQUAL)
			return r;
	}
	if (ta.kind == tb.kind)
		return COPA_APKV_EQUAL;
	if (tb.kind == TK_END && fuzzy)
		return COPA_APKV_EQUAL;
	if (ta.kind == TK_SUFFIX && ta.suffix < SUF_NONE)
		return COPA_APKV_LESS;
	if (tb.kind == TK_SUFFIX && tb.suffix < SUF_NONE)
		return COPA_APKV_GREATER;
	return ta.kind > tb.kind ? COPA_APKV_LESS : COPA_APKV_GREATER;
}

int copa_apkver_cmp(struct copa_blob a, struct copa_blob b)
{
	return copa_apkver_cmp_fuzzy(a, b, false);
}

int copa_apkver_sign(int result)
{
	return result == COPA_APKV_LESS ? -1 : result == COPA_APKV_GREATER ? 1 : 0;
}

int copa_apkver_op_parse(struct copa_blob op)
{
	int r = 0;

	for (size_t i = 0; i < op.n; i++) {
		switch (op.p[i]) {
		case '<':
			r |= COPA_APKV_LESS;
			break;
		case '>':
			r |= COPA_APKV_GREATER;
			break;
		case '=':
			r |= COPA_APKV_EQUAL;
			break;
		case '~':
			r |= COPA_APKV_FUZZY | COPA_APKV_EQUAL;
			break;
		default:
			return 0;
		}
	}
	return r;
}

const char *copa_apkver_op_str(int op)
{
	switch (op & ~COPA_APKV_CONFLICT) {
	case COPA_APKV_LESS:
		return "<";
	case COPA_APKV_LESS | COPA_APKV_EQUAL:
		return "<=";
	case COPA_APKV_LESS | COPA_APKV_EQUAL | COPA_APKV_FUZZY:
		return "<~";
	case COPA_APKV_EQUAL | COPA_APKV_FUZZY:
	case COPA_APKV_FUZZY:
		return "~";
	case COPA_APKV_EQUAL:
		return "=";
	case COPA_APKV_GREATER | COPA_APKV_EQUAL:
		return ">=";
	case COPA_APKV_GREATER | COPA_APKV_EQUAL | COPA_APKV_FUZZY:
		return ">~";
	case COPA_APKV_GREATER:
		return ">";
	case COPA_APKV_CHECKSUM:
		return "><";
	case COPA_APKV_ANY:
		return "";
	default:
		return "?";
	}
}

bool copa_apkver_match(struct copa_blob a, int op, struct copa_blob b)
{
	bool ok = (op & COPA_APKV_ANY) == COPA_APKV_ANY ||
	          (copa_apkver_cmp_fuzzy(a, b, (op & COPA_APKV_FUZZY) != 0) & op) != 0;

	return (op & COPA_APKV_CONFLICT) ? !ok : ok;
}
