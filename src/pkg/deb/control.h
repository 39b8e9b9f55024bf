/*
 * control.h: the deb822 format (RFC 822-style paragraphs) that dpkg and apt
 * use everywhere: the dpkg status file and status.d entries, DEBIAN/control,
 * Packages, Release/InRelease bodies, deb822 .sources files.
 *
 * The parser works on borrowed memory (copa_blob views into the caller's
 * buffer) and never copies: a paragraph's fields point into the text, which
 * must outlive them. Field names compare case-insensitively. A value is kept
 * raw: everything after the colon (leading blanks of the first line
 * stripped) through the last continuation line, newlines and the continuation
 * lines' leading blank included, so a field can be written back byte for byte
 * as "Name:" + " " + value. copa_deb822_lines() iterates a multi-line value.
 */
#ifndef COPA_PKG_DEB_CONTROL_H
#define COPA_PKG_DEB_CONTROL_H

#include "util/blob.h"
#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>

/* Most fields copa accepts in one paragraph (a real Packages stanza has ~25). */
#define COPA_DEB822_MAX_FIELDS 256

struct copa_deb822_field {
	struct copa_blob name;
	struct copa_blob value; /* raw; see above */
};

struct copa_deb822_para {
	struct copa_deb822_field *f;
	size_t n, cap;
	struct copa_blob
	    text;    /* the whole paragraph, from its first field line through its last line */
	size_t line; /* 1-based line number of its first line */
};

struct copa_deb822_parser {
	struct copa_blob rest;
	size_t line;         /* lines consumed so far */
	bool allow_comments; /* '#' lines are comments (deb822 .sources), not in Packages/status */
	const char *what;    /* names the document in errors */
};

/* Starts parsing n bytes of text; `what` names it in errors ("'status'"). */
void copa_deb822_init(struct copa_deb822_parser *p, const char *data, size_t n, const char *what,
                      bool allow_comments);

/*
 * Parses the next paragraph into para (reusing its memory). Returns 1 when a
 * paragraph was read, 0 at the end of the text, -1 with err (COPA_E_INPUT,
 * naming the document and line) on a malformed line or too many fields.
 */
int copa_deb822_next(struct copa_deb822_parser *p, struct copa_deb822_para *para,
                     struct copa_err *err);

void copa_deb822_para_release(struct copa_deb822_para *para);

/* The raw value of field `name` (case-insensitive), or COPA_BLOB_NULL (p == NULL). */
struct copa_blob copa_deb822_get(const struct copa_deb822_para *para, const char *name);

/* The value with surrounding whitespace trimmed: what single-line fields want. */
struct copa_blob copa_deb822_get_trim(const struct copa_deb822_para *para, const char *name);

static inline bool copa_deb822_has(const struct copa_deb822_para *para, const char *name)
{
	return copa_deb822_get(para, name).p != NULL;
}

/*
 * Iterates the lines of a raw value with their leading blank removed and
 * trailing whitespace trimmed; the first line is the part on the field's own
 * line (often empty for multi-line fields such as Conffiles or SHA256).
 * A line holding only "." (an empty line in descriptions) is returned as ".".
 */
bool copa_deb822_lines(struct copa_blob *rest, struct copa_blob *line);

#endif
