#include "pkg/deb/release.h"

#include "pkg/deb/control.h"
#include "util/buf.h"
#include "util/mem.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void copa_release_release(struct copa_release *r)
{
	free(r->origin);
	free(r->label);
	free(r->suite);
	free(r->codename);
	copa_strv_free(r->architectures);
	for (size_t i = 0; i < r->n_files; i++)
		free(r->files[i].path);
	free(r->files);
	memset(r, 0, sizeof(*r));
}

static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Takes an unsigned number of 1..max_digits digits off the front of *s. */
static int take_num(struct copa_blob *s, size_t max_digits, int *out)
{
	size_t i = 0;
	int v = 0;

	while (i < s->n && i < max_digits && isdigit((unsigned char)s->p[i]))
		v = v * 10 + (s->p[i++] - '0');
	if (i == 0)
		return -1;
	s->p += i;
	s->n -= i;
	*out = v;
	return 0;
}

static int take_char(struct copa_blob *s, char c)
{
	if (!s->n || s->p[0] != c)
		return -1;
	s->p++;
	s->n--;
	return 0;
}

static void skip_blanks(struct copa_blob *s)
{
	while (s->n && (s->p[0] == ' ' || s->p[0] == '\t')) {
		s->p++;
		s->n--;
	}
}

int copa_release_parse_date(struct copa_blob s, int64_t *t)
{
	struct tm tm = {0};
	int mday, year, hh, mm, ss, mon = -1;
	time_t v;

	s = copa_blob_trim(s);
	/* Optional "Sat," */
	if (s.n >= 4 && isalpha((unsigned char)s.p[0]) && s.p[3] == ',') {
		s.p += 4;
		s.n -= 4;
	}
	skip_blanks(&s);
	if (take_num(&s, 2, &mday) < 0)
		return -1;
	skip_blanks(&s);
	for (int i = 0; i < 12; i++)
		if (s.n >= 3 && strncmp(s.p, months[i], 3) == 0)
			mon = i;
	if (mon < 0)
		return -1;
	s.p += 3;
	s.n -= 3;
	skip_blanks(&s);
	if (take_num(&s, 4, &year) < 0 || year < 1970)
		return -1;
	skip_blanks(&s);
	if (take_num(&s, 2, &hh) < 0 || take_char(&s, ':') < 0 || take_num(&s, 2, &mm) < 0 ||
	    take_char(&s, ':') < 0 || take_num(&s, 2, &ss) < 0)
		return -1;
	skip_blanks(&s);
	if (!copa_blob_eqs(s, "UTC") && !copa_blob_eqs(s, "GMT") && !copa_blob_eqs(s, "Z") &&
	    !copa_blob_eqs(s, "+0000") && !copa_blob_eqs(s, "-0000") && !copa_blob_eqs(s, "UT"))
		return -1;
	if (mday < 1 || mday > 31 || hh > 23 || mm > 59 || ss > 60)
		return -1;
	tm.tm_mday = mday;
	tm.tm_mon = mon;
	tm.tm_year = year - 1900;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	v = timegm(&tm);
	if (v == (time_t)-1)
		return -1;
	*t = (int64_t)v;
	return 0;
}

static bool hex64(struct copa_blob b)
{
	if (b.n != 64)
		return false;
	for (size_t i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)b.p[i]))
			return false;
	return true;
}

static bool valid_path(struct copa_blob p)
{
	if (p.n == 0 || p.n > 512 || p.p[0] == '/')
		return false;
	for (size_t i = 0; i < p.n; i++)
		if ((unsigned char)p.p[i] <= 0x20 || (unsigned char)p.p[i] >= 0x7f)
			return false;
	return true;
}

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct copa_release_file *)a)->path,
	              ((const struct copa_release_file *)b)->path);
}

static int parse_sha256(struct copa_release *r, struct copa_blob v, const char *what,
                        struct copa_err *err)
{
	struct copa_blob rest = v, line;
	size_t cap = 0;

	while (copa_deb822_lines(&rest, &line)) {
		struct copa_blob hash, size, path;
		struct copa_release_file *f;
		uint64_t sz;

		if (line.n == 0)
			continue;
		if (!copa_blob_word(&line, &hash) || !copa_blob_word(&line, &size) ||
		    !copa_blob_word(&line, &path) || copa_blob_word(&line, &(struct copa_blob){0}))
			return copa_err_set(err, COPA_E_INPUT,
			                    "%s: malformed SHA256 line (want 'hash size path')",
			                    what);
		if (!hex64(hash) || copa_blob_to_u64(size, UINT64_MAX / 2, &sz) < 0 ||
		    !valid_path(path))
			return copa_err_set(err, COPA_E_INPUT, "%s: malformed SHA256 entry '%.*s'",
			                    what, (int)(path.n > 80 ? 80 : path.n), path.p);
		if (r->n_files >= COPA_RELEASE_FILES_MAX)
			return copa_err_set(err, COPA_E_LIMIT, "%s: more than %d SHA256 entries",
			                    what, COPA_RELEASE_FILES_MAX);
		r->files = copa_xgrow(r->files, &cap, r->n_files + 1, sizeof(*r->files));
		f = &r->files[r->n_files++];
		f->path = copa_blob_dup(path);
		f->size = sz;
		for (size_t i = 0; i < 64; i++)
			f->sha256[i] = (char)tolower((unsigned char)hash.p[i]);
		f->sha256[64] = 0;
	}
	if (r->n_files > 1)
		qsort(r->files, r->n_files, sizeof(*r->files), cmp_file);
	/* Duplicate paths with different checksums are ambiguous: refuse them. */
	for (size_t i = 1; i < r->n_files; i++)
		if (strcmp(r->files[i - 1].path, r->files[i].path) == 0 &&
		    (r->files[i - 1].size != r->files[i].size ||
		     strcmp(r->files[i - 1].sha256, r->files[i].sha256) != 0))
			return copa_err_set(err, COPA_E_INPUT,
			                    "%s: conflicting SHA256 entries for '%s'", what,
			                    r->files[i].path);
	return 0;
}

static char *dup_field(const struct copa_deb822_para *p, const char *name)
{
	struct copa_blob v = copa_deb822_get_trim(p, name);

	if (!v.p)
		return NULL;
	char *s = copa_blob_dup(v);
	for (char *q = s; *q; q++)
		if ((unsigned char)*q < 0x20)
			*q = ' ';
	return s;
}

static bool field_yes(const struct copa_deb822_para *p, const char *name)
{
	struct copa_blob v = copa_deb822_get_trim(p, name);

	return v.p && copa_blob_eqs_ci(v, "yes");
}

static int date_field(const struct copa_deb822_para *p, const char *name, int64_t *slot,
                      const char *what, struct copa_err *err)
{
	struct copa_blob v = copa_deb822_get_trim(p, name);

	*slot = -1;
	if (!v.p)
		return 0;
	if (copa_release_parse_date(v, slot) < 0)
		return copa_err_set(err, COPA_E_INPUT, "%s: cannot parse %s '%.*s'", what, name,
		                    (int)(v.n > 64 ? 64 : v.n), v.p);
	return 0;
}

int copa_release_parse(const char *text, size_t n, const char *what, struct copa_release *out,
                       struct copa_err *err)
{
	struct copa_deb822_parser p;
	struct copa_deb822_para para = {0};
	struct copa_blob v, rest, w;
	size_t na = 0, cap = 0;
	int r = -1;

	memset(out, 0, sizeof(*out));
	out->date = out->valid_until = -1;
	if (n > COPA_RELEASE_MAX)
		return copa_err_set(err, COPA_E_LIMIT, "%s is larger than %u bytes", what,
		                    COPA_RELEASE_MAX);
	copa_deb822_init(&p, text, n, what, false);
	r = copa_deb822_next(&p, &para, err);
	if (r == 0)
		copa_err_set(err, COPA_E_INPUT, "%s is empty", what);
	if (r <= 0)
		goto fail;
	out->origin = dup_field(&para, "Origin");
	out->label = dup_field(&para, "Label");
	out->suite = dup_field(&para, "Suite");
	out->codename = dup_field(&para, "Codename");
	out->acquire_by_hash = field_yes(&para, "Acquire-By-Hash");
	out->not_automatic = field_yes(&para, "NotAutomatic");
	out->but_automatic_upgrades = field_yes(&para, "ButAutomaticUpgrades");
	v = copa_deb822_get_trim(&para, "No-Support-for-Architecture-all");
	out->no_arch_all = v.p && copa_blob_eqs(v, "Packages");
	if (date_field(&para, "Date", &out->date, what, err) < 0 ||
	    date_field(&para, "Valid-Until", &out->valid_until, what, err) < 0)
		goto fail;
	rest = copa_deb822_get_trim(&para, "Architectures");
	while (rest.p && copa_blob_word(&rest, &w) && na < 256) {
		out->architectures = copa_xgrow(out->architectures, &cap, na + 2, sizeof(char *));
		out->architectures[na++] = copa_blob_dup(w);
		out->architectures[na] = NULL;
	}
	if (!out->architectures)
		out->architectures = copa_xcalloc(1, sizeof(char *));
	v = copa_deb822_get(&para, "SHA256");
	if (!v.p) {
		copa_err_set(err, COPA_E_INPUT,
		             "%s has no SHA256 checksums (only weaker hashes, which copa does not "
		             "trust)",
		             what);
		goto fail;
	}
	if (parse_sha256(out, v, what, err) < 0)
		goto fail;
	copa_deb822_para_release(&para);
	return 0;
fail:
	copa_deb822_para_release(&para);
	copa_release_release(out);
	return -1;
}

const struct copa_release_file *copa_release_find(const struct copa_release *r, const char *path)
{
	size_t lo = 0, hi = r->n_files;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(path, r->files[mid].path);

		if (c == 0)
			return &r->files[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static struct copa_blob strip_eol(struct copa_blob l)
{
	while (l.n && (l.p[l.n - 1] == '\r' || l.p[l.n - 1] == ' ' || l.p[l.n - 1] == '\t'))
		l.n--;
	return l;
}

int copa_clearsign_split(const char *text, size_t n, const char *what, char **body,
                         size_t *body_len, struct copa_err *err)
{
	struct copa_blob rest = copa_blob(text, n), line;
	struct copa_buf b = COPA_BUF_INIT;
	enum { HEAD, HASHES, BODY, SIG, AFTER } st = HEAD;
	bool first_body = true;
	size_t lineno = 0;

	if (n > COPA_RELEASE_MAX)
		return copa_err_set(err, COPA_E_LIMIT, "%s is larger than %u bytes", what,
		                    COPA_RELEASE_MAX);
	while (copa_blob_split(&rest, '\n', &line)) {
		struct copa_blob l = strip_eol(line);

		lineno++;
		switch (st) {
		case HEAD:
			if (!copa_blob_eqs(l, "-----BEGIN PGP SIGNED MESSAGE-----"))
				goto bad;
			st = HASHES;
			break;
		case HASHES:
			if (l.n == 0) {
				st = BODY;
				break;
			}
			if (!copa_blob_starts(l, "Hash:"))
				goto bad;
			break;
		case BODY:
			if (copa_blob_eqs(l, "-----BEGIN PGP SIGNATURE-----")) {
				st = SIG;
				break;
			}
			if (l.n && l.p[0] == '-') {
				/* Only dash-escaped lines may start with a dash. */
				if (l.n < 2 || l.p[1] != ' ')
					goto bad;
				line.p += 2;
				line.n -= 2;
			}
			if (!first_body)
				copa_buf_addc(&b, '\n');
			first_body = false;
			/* Trailing blanks are not signed (RFC 4880 7.1); CR ends the line. */
			copa_buf_add(&b, line.p, strip_eol(line).n);
			break;
		case SIG:
			if (copa_blob_eqs(l, "-----END PGP SIGNATURE-----"))
				st = AFTER;
			else if (copa_blob_starts(l, "-----"))
				goto bad;
			break;
		case AFTER:
			if (l.n != 0)
				goto bad;
			break;
		}
	}
	if (st != AFTER) {
		copa_buf_release(&b);
		return copa_err_set(err, COPA_E_INPUT, "%s is not a complete clearsigned message",
		                    what);
	}
	if (body) {
		/* The line break before the signature is not part of the text; keep one for
		 * parsers. */
		copa_buf_addc(&b, '\n');
		*body = copa_buf_detach(&b, body_len);
	}
	copa_buf_release(&b);
	return 0;
bad:
	copa_buf_release(&b);
	return copa_err_set(err, COPA_E_INPUT,
	                    "%s line %zu: not a single clearsigned message (unexpected '%.*s')",
	                    what, lineno, (int)(line.n > 40 ? 40 : strip_eol(line).n), line.p);
}
