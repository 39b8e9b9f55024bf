#include "pkg/deb/control.h"

#include "util/mem.h"

#include <strings.h>

void copa_deb822_init(struct copa_deb822_parser *p, const char *data, size_t n, const char *what,
                      bool allow_comments)
{
	p->rest = copa_blob(data ? data : "", data ? n : 0);
	p->line = 0;
	p->allow_comments = allow_comments;
	p->what = what ? what : "control data";
}

void copa_deb822_para_release(struct copa_deb822_para *para)
{
	free(para->f);
	memset(para, 0, sizeof(*para));
}

static bool blank_line(struct copa_blob l)
{
	for (size_t i = 0; i < l.n; i++)
		if (l.p[i] != ' ' && l.p[i] != '\t' && l.p[i] != '\r')
			return false;
	return true;
}

/* Takes one line (without its newline) off the front of p->rest. */
static bool take_line(struct copa_deb822_parser *p, struct copa_blob *line, const char **next)
{
	const char *nl;

	if (p->rest.n == 0)
		return false;
	nl = memchr(p->rest.p, '\n', p->rest.n);
	line->p = p->rest.p;
	line->n = nl ? (size_t)(nl - p->rest.p) : p->rest.n;
	*next = nl ? nl + 1 : p->rest.p + p->rest.n;
	return true;
}

static void advance(struct copa_deb822_parser *p, const char *next)
{
	p->rest.n -= (size_t)(next - p->rest.p);
	p->rest.p = next;
	p->line++;
}

static bool valid_name(struct copa_blob n)
{
	if (n.n == 0 || n.p[0] == '-' || n.p[0] == '#')
		return false;
	for (size_t i = 0; i < n.n; i++)
		if ((unsigned char)n.p[i] <= 0x20 || (unsigned char)n.p[i] >= 0x7f)
			return false;
	return true;
}

int copa_deb822_next(struct copa_deb822_parser *p, struct copa_deb822_para *para,
                     struct copa_err *err)
{
	struct copa_blob line;
	const char *next;
	struct copa_deb822_field *cur = NULL;

	para->n = 0;
	para->text = COPA_BLOB_NULL;
	/* Skip blank lines (and comments) before the paragraph. */
	while (take_line(p, &line, &next)) {
		if (blank_line(line) || (p->allow_comments && line.n && line.p[0] == '#')) {
			advance(p, next);
			continue;
		}
		break;
	}
	if (p->rest.n == 0)
		return 0;
	para->text.p = p->rest.p;
	para->line = p->line + 1;
	while (take_line(p, &line, &next)) {
		if (blank_line(line))
			break;
		if (p->allow_comments && line.p[0] == '#') {
			advance(p, next);
			continue;
		}
		if (line.p[0] == ' ' || line.p[0] == '\t') {
			if (!cur)
				return copa_err_set(
				    err, COPA_E_INPUT,
				    "%s line %zu: continuation line outside a field", p->what,
				    p->line + 1);
			/* Extend the raw value through this line. */
			cur->value.n = (size_t)(line.p + line.n - cur->value.p);
		} else {
			const char *colon = copa_blob_chr(line, ':');
			struct copa_blob name, value;

			if (!colon)
				return copa_err_set(err, COPA_E_INPUT,
				                    "%s line %zu: expected 'Field: value'", p->what,
				                    p->line + 1);
			name = copa_blob(line.p, (size_t)(colon - line.p));
			if (!valid_name(name))
				return copa_err_set(err, COPA_E_INPUT,
				                    "%s line %zu: invalid field name", p->what,
				                    p->line + 1);
			if (para->n >= COPA_DEB822_MAX_FIELDS)
				return copa_err_set(
				    err, COPA_E_LIMIT,
				    "%s line %zu: more than %d fields in one paragraph", p->what,
				    p->line + 1, COPA_DEB822_MAX_FIELDS);
			value = copa_blob(colon + 1, line.n - (size_t)(colon + 1 - line.p));
			while (value.n && (value.p[0] == ' ' || value.p[0] == '\t')) {
				value.p++;
				value.n--;
			}
			para->f = copa_xgrow(para->f, &para->cap, para->n + 1, sizeof(*para->f));
			cur = &para->f[para->n++];
			cur->name = name;
			cur->value = value;
		}
		para->text.n = (size_t)(line.p + line.n - para->text.p);
		advance(p, next);
	}
	/* Drop trailing CR/whitespace of each raw value's last line. */
	for (size_t i = 0; i < para->n; i++)
		while (para->f[i].value.n && (para->f[i].value.p[para->f[i].value.n - 1] == '\r' ||
		                              para->f[i].value.p[para->f[i].value.n - 1] == ' ' ||
		                              para->f[i].value.p[para->f[i].value.n - 1] == '\t'))
			para->f[i].value.n--;
	return para->n ? 1 : 0;
}

struct copa_blob copa_deb822_get(const struct copa_deb822_para *para, const char *name)
{
	for (size_t i = 0; i < para->n; i++)
		if (copa_blob_eqs_ci(para->f[i].name, name)) {
			struct copa_blob v = para->f[i].value;

			/* An empty value still reports presence. */
			if (!v.p)
				v.p = "";
			return v;
		}
	return COPA_BLOB_NULL;
}

struct copa_blob copa_deb822_get_trim(const struct copa_deb822_para *para, const char *name)
{
	struct copa_blob v = copa_deb822_get(para, name);

	if (!v.p)
		return v;
	v = copa_blob_trim(v);
	if (!v.p || v.n == 0)
		v = copa_blob("", 0);
	return v;
}

bool copa_deb822_lines(struct copa_blob *rest, struct copa_blob *line)
{
	struct copa_blob l;

	if (!copa_blob_split(rest, '\n', &l))
		return false;
	if (l.n && (l.p[0] == ' ' || l.p[0] == '\t')) {
		l.p++;
		l.n--;
	}
	while (l.n && (l.p[l.n - 1] == ' ' || l.p[l.n - 1] == '\t' || l.p[l.n - 1] == '\r'))
		l.n--;
	*line = l;
	return true;
}
