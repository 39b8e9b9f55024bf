#include "pgp/armor.h"

#include "util/blob.h"
#include "util/mem.h"

#include <string.h>

#define CRC24_INIT 0xB704CEu
#define CRC24_POLY 0x1864CFBu

uint32_t copa_pgp_crc24(const void *data, size_t n)
{
	const unsigned char *p = data;
	uint32_t crc = CRC24_INIT;

	for (size_t i = 0; i < n; i++) {
		crc ^= (uint32_t)p[i] << 16;
		for (int b = 0; b < 8; b++) {
			crc <<= 1;
			if (crc & 0x1000000u)
				crc ^= CRC24_POLY;
		}
	}
	return crc & 0xFFFFFFu;
}

/* Value of a base64 character, -1 for anything else ('=' included). */
static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static struct copa_blob strip_cr(struct copa_blob l)
{
	while (l.n && (l.p[l.n - 1] == '\r' || l.p[l.n - 1] == ' ' || l.p[l.n - 1] == '\t'))
		l.n--;
	return l;
}

static bool is_begin(struct copa_blob l)
{
	return copa_blob_starts(l, "-----BEGIN PGP ") && copa_blob_ends(l, "-----");
}

bool copa_pgp_is_armored(const void *data, size_t n)
{
	struct copa_blob rest = copa_blob(data, n), line;

	while (copa_blob_split(&rest, '\n', &line)) {
		line = copa_blob_trim(line);
		if (line.n == 0)
			continue;
		return is_begin(line);
	}
	return false;
}

/* Base64 decoder state across lines: groups of four characters. */
struct b64 {
	uint32_t acc;
	int nacc;
	int pad; /* '=' seen: no more data may follow */
};

static int b64_line(struct b64 *s, struct copa_blob l, struct copa_buf *out)
{
	for (size_t i = 0; i < l.n; i++) {
		unsigned char c = (unsigned char)l.p[i];
		int v;

		if (c == '=') {
			/* Padding completes the current group of four. */
			if (s->nacc < 2)
				return -1;
			s->pad++;
			s->nacc++;
			if (s->nacc == 4) {
				if (s->pad == 1) {
					copa_buf_addc(out, (char)(s->acc >> 10));
					copa_buf_addc(out, (char)(s->acc >> 2));
				} else {
					copa_buf_addc(out, (char)(s->acc >> 4));
				}
				s->nacc = 0;
				s->acc = 0;
			}
			continue;
		}
		v = b64val(c);
		if (v < 0 || s->pad)
			return -1;
		s->acc = (s->acc << 6) | (uint32_t)v;
		if (++s->nacc == 4) {
			copa_buf_addc(out, (char)(s->acc >> 16));
			copa_buf_addc(out, (char)(s->acc >> 8));
			copa_buf_addc(out, (char)s->acc);
			s->nacc = 0;
			s->acc = 0;
		}
	}
	return 0;
}

/* Decodes the 4-character checksum line "=XXXX" into a CRC24. */
static int crc_line(struct copa_blob l, uint32_t *crc)
{
	uint32_t v = 0;

	if (l.n != 5)
		return -1;
	for (size_t i = 1; i < 5; i++) {
		int d = b64val((unsigned char)l.p[i]);

		if (d < 0)
			return -1;
		v = (v << 6) | (uint32_t)d;
	}
	*crc = v;
	return 0;
}

/*
 * Decodes one block whose BEGIN line was just consumed from *rest. Leaves
 * *rest after the END line. `line` counts lines for messages.
 */
static int one_block(struct copa_blob *rest, struct copa_blob begin, const char *what,
                     size_t *lineno, struct copa_buf *out, struct copa_err *err)
{
	struct copa_blob line;
	struct b64 st = {0};
	size_t start = out->len;
	uint32_t want_crc = 0;
	bool have_crc = false, in_headers = true;
	/* "-----BEGIN PGP X-----" pairs with "-----END PGP X-----". */
	struct copa_blob kind = copa_blob(begin.p + 15, begin.n - 20);

	while (copa_blob_split(rest, '\n', &line)) {
		(*lineno)++;
		line = strip_cr(line);
		if (in_headers) {
			/* Armour headers ("Version: x") end at a blank line; data may start at
			 * once. */
			if (line.n == 0) {
				in_headers = false;
				continue;
			}
			if (copa_blob_chr(line, ':') && !copa_blob_starts(line, "-----"))
				continue;
			in_headers = false;
		}
		if (copa_blob_starts(line, "-----END PGP ")) {
			if (!copa_blob_ends(line, "-----") || line.n != kind.n + 18 ||
			    memcmp(line.p + 13, kind.p, kind.n) != 0)
				return copa_err_set(err, COPA_E_INPUT,
				                    "%s line %zu: END line does not match '%.*s'",
				                    what, *lineno, (int)begin.n, begin.p);
			if (st.nacc != 0)
				return copa_err_set(err, COPA_E_INPUT,
				                    "%s line %zu: truncated base64 data", what,
				                    *lineno);
			if (out->overflow)
				return copa_err_set(err, COPA_E_LIMIT,
				                    "%s: decoded key data is larger than %u bytes",
				                    what, COPA_ARMOR_MAX);
			/* Before the checksum: an empty block may have no buffer at all. */
			if (out->len == start)
				return copa_err_set(err, COPA_E_INPUT,
				                    "%s line %zu: empty armour block", what,
				                    *lineno);
			if (have_crc) {
				uint32_t got = copa_pgp_crc24(out->p + start, out->len - start);

				if (got != want_crc)
					return copa_err_set(
					    err, COPA_E_INPUT,
					    "%s: armour checksum mismatch (the key text "
					    "is damaged)",
					    what);
			}
			return 0;
		}
		if (line.n == 0)
			continue;
		if (line.p[0] == '=' && line.n == 5 && st.nacc == 0) {
			if (have_crc || crc_line(line, &want_crc) < 0)
				return copa_err_set(err, COPA_E_INPUT,
				                    "%s line %zu: malformed armour checksum line",
				                    what, *lineno);
			have_crc = true;
			continue;
		}
		if (have_crc || b64_line(&st, line, out) < 0)
			return copa_err_set(err, COPA_E_INPUT, "%s line %zu: invalid base64 data",
			                    what, *lineno);
	}
	return copa_err_set(err, COPA_E_INPUT, "%s: armour block has no END line", what);
}

int copa_pgp_dearmor(const char *text, size_t n, const char *what, struct copa_buf *out,
                     struct copa_err *err)
{
	struct copa_blob rest = copa_blob(text, n), line;
	size_t lineno = 0, saved_max = out->max;
	int blocks = 0, r = 0;

	if (n > COPA_ARMOR_MAX)
		return copa_err_set(err, COPA_E_LIMIT,
		                    "%s: armoured key text is larger than %u bytes", what,
		                    COPA_ARMOR_MAX);
	/* Decoded data is smaller than its text; cap the output at the same bound. */
	if (!out->max || out->max > out->len + COPA_ARMOR_MAX)
		out->max = out->len + COPA_ARMOR_MAX;
	while (copa_blob_split(&rest, '\n', &line)) {
		lineno++;
		line = copa_blob_trim(line);
		if (!is_begin(line))
			continue;
		if (one_block(&rest, line, what, &lineno, out, err) < 0) {
			r = -1;
			break;
		}
		blocks++;
	}
	out->max = saved_max;
	if (r < 0)
		return -1;
	if (blocks == 0)
		return copa_err_set(err, COPA_E_INPUT, "%s: no armoured OpenPGP block found", what);
	return blocks;
}
