/*
 * version.c: dpkg, apk and rpm version ordering.
 *
 * Written from the documented algorithms (deb-version(7) and dpkg's
 * verrevcmp, rpm's rpmvercmp; apk's is the apk family's apkver.h) and
 * checked against the vectors of each project's own test suite
 * (tests/unit/data/version_*.data). ASCII classification is done by hand so
 * the locale never changes an ordering.
 */
#include "pkg/version.h"

#include "pkg/pm.h"

#include "util/mem.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

static bool is_alpha(char c)
{
	return is_lower(c) || (c >= 'A' && c <= 'Z');
}

static bool is_alnum(char c)
{
	return is_digit(c) || is_alpha(c);
}

static int sign(long long v)
{
	return (v > 0) - (v < 0);
}

const char *copa_pkgfam_name(enum copa_pkgfam fam)
{
	switch (fam) {
	case COPA_FAM_DEB:
		return "deb";
	case COPA_FAM_APK:
		return "apk";
	case COPA_FAM_RPM:
		return "rpm";
	case COPA_FAM_NONE:
		return "none";
	}
	return "none";
}

const char *copa_pkgfam_tool(enum copa_pkgfam fam)
{
	switch (fam) {
	case COPA_FAM_DEB:
		return "dpkg";
	case COPA_FAM_APK:
		return "apk";
	case COPA_FAM_RPM:
		return "rpm";
	case COPA_FAM_NONE:
		return "no package manager";
	}
	return "no package manager";
}

/* Checks shared by every family: non-empty, bounded, no control bytes (dpkg allows tabs around it).
 */
static const char *common_reason_tab(const char *v, bool tab_ok)
{
	size_t n;

	if (!v || !*v)
		return "it is empty";
	n = strnlen(v, COPA_VERSION_MAX + 1);
	if (n > COPA_VERSION_MAX)
		return "it is longer than 256 bytes";
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)v[i] < 0x20 && !(tab_ok && v[i] == '\t')) || v[i] == 0x7f)
			return "it contains a control character";
	return NULL;
}

static const char *common_reason(const char *v)
{
	return common_reason_tab(v, false);
}

/* ---------------------------------------------------------------- dpkg */

struct dpkg_ver {
	unsigned long epoch;
	char upstream[COPA_VERSION_MAX + 1];
	char revision[COPA_VERSION_MAX + 1];
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Parses like dpkg's parseversion(); treats its warnings as errors. */
static const char *dpkg_parse(const char *v, struct dpkg_ver *out)
{
	const char *r = common_reason_tab(v, true), *start, *end, *colon, *hyphen, *up;
	size_t uplen;

	if (r)
		return r;
	start = v;
	while (is_blank(*start))
		start++;
	end = start + strlen(start);
	while (end > start && is_blank(end[-1]))
		end--;
	if (end == start)
		return "it is empty";
	for (const char *p = start; p < end; p++)
		if (is_blank(*p))
			return "it contains embedded blanks";

	out->epoch = 0;
	colon = memchr(start, ':', (size_t)(end - start));
	up = start;
	if (colon) {
		unsigned long e = 0;

		if (colon == start)
			return "the epoch is empty";
		for (const char *p = start; p < colon; p++) {
			if (!is_digit(*p))
				return *p == '-' ? "the epoch is negative"
				                 : "the epoch is not a number";
			e = e * 10 + (unsigned long)(*p - '0');
			if (e > INT_MAX)
				return "the epoch is too big";
		}
		out->epoch = e;
		up = colon + 1;
		if (up == end)
			return "nothing follows the epoch's colon";
	}
	hyphen = NULL;
	for (const char *p = end; p > up; p--)
		if (p[-1] == '-') {
			hyphen = p - 1;
			break;
		}
	uplen = (size_t)((hyphen ? hyphen : end) - up);
	if (uplen == 0)
		return "the upstream version is empty";
	memcpy(out->upstream, up, uplen);
	out->upstream[uplen] = '\0';
	out->revision[0] = '\0';
	if (hyphen) {
		size_t rlen = (size_t)(end - hyphen - 1);

		memcpy(out->revision, hyphen + 1, rlen);
		out->revision[rlen] = '\0';
	}
	if (!is_digit(out->upstream[0]))
		return "the upstream version does not start with a digit";
	for (const char *p = out->upstream; *p; p++)
		if (!is_alnum(*p) && !strchr(".-+~:", *p))
			return "the upstream version contains a character other than "
			       "[A-Za-z0-9.+~-:]";
	for (const char *p = out->revision; *p; p++)
		if (!is_alnum(*p) && !strchr(".+~", *p))
			return "the revision contains a character other than [A-Za-z0-9.+~]";
	return NULL;
}

/* Weight of one character in a non-digit run (deb-version(7)). */
static int dpkg_order(char c)
{
	if (is_digit(c))
		return 0;
	if (is_alpha(c))
		return c;
	if (c == '~')
		return -1;
	if (c)
		return (unsigned char)c + 256;
	return 0;
}

int copa_dpkg_verrevcmp(const char *a, const char *b)
{
	if (!a)
		a = "";
	if (!b)
		b = "";
	while (*a || *b) {
		int first_diff = 0;

		while ((*a && !is_digit(*a)) || (*b && !is_digit(*b))) {
			int ac = dpkg_order(*a), bc = dpkg_order(*b);

			if (ac != bc)
				return sign(ac - bc);
			if (*a)
				a++;
			if (*b)
				b++;
		}
		while (*a == '0')
			a++;
		while (*b == '0')
			b++;
		while (is_digit(*a) && is_digit(*b)) {
			if (!first_diff)
				first_diff = *a - *b;
			a++;
			b++;
		}
		if (is_digit(*a))
			return 1;
		if (is_digit(*b))
			return -1;
		if (first_diff)
			return sign(first_diff);
	}
	return 0;
}

static int dpkg_cmp(const struct dpkg_ver *a, const struct dpkg_ver *b)
{
	int r;

	if (a->epoch != b->epoch)
		return a->epoch < b->epoch ? -1 : 1;
	r = copa_dpkg_verrevcmp(a->upstream, b->upstream);
	if (r)
		return r;
	return copa_dpkg_verrevcmp(a->revision, b->revision);
}

/* ----------------------------------------------------------------- apk */

/*
 * apk's ordering is the apk family's own (pkg/apk/apkver.h, apk-tools 3
 * semantics, the one the planner and the applier use), reached through its
 * ops table: pkg/ may not include a family's headers (docs/ARCHITECTURE.md).
 */
static const char *apk_reason(const char *v)
{
	const char *r = common_reason(v);

	if (r)
		return r;
	if (!is_digit(v[0]))
		return "it does not start with a digit";
	if (!copa_pm_apk_ops.ver_valid(v))
		return "it does not follow number{.number}{letter}{_suffix{number}}{~hash}{-rN}";
	return NULL;
}

static int apk_cmp(const char *a, const char *b)
{
	return copa_pm_apk_ops.vercmp(a, b);
}

/* ----------------------------------------------------------------- rpm */

int copa_rpmvercmp(const char *a, const char *b)
{
	const char *one, *two;

	if (!a)
		a = "";
	if (!b)
		b = "";
	if (strcmp(a, b) == 0)
		return 0;
	one = a;
	two = b;
	while (*one || *two) {
		const char *s1, *s2;
		bool isnum;
		size_t l1, l2;
		int r;

		while (*one && !is_alnum(*one) && *one != '~' && *one != '^')
			one++;
		while (*two && !is_alnum(*two) && *two != '~' && *two != '^')
			two++;
		/* '~' sorts before everything, even the end of the string. */
		if (*one == '~' || *two == '~') {
			if (*one != '~')
				return 1;
			if (*two != '~')
				return -1;
			one++;
			two++;
			continue;
		}
		/* '^' sorts after the end of the string but before anything else. */
		if (*one == '^' || *two == '^') {
			if (!*one)
				return -1;
			if (!*two)
				return 1;
			if (*one != '^')
				return 1;
			if (*two != '^')
				return -1;
			one++;
			two++;
			continue;
		}
		if (!(*one && *two))
			break;
		s1 = one;
		s2 = two;
		isnum = is_digit(*s1);
		if (isnum) {
			while (is_digit(*s1))
				s1++;
			while (is_digit(*s2))
				s2++;
		} else {
			while (is_alpha(*s1))
				s1++;
			while (is_alpha(*s2))
				s2++;
		}
		/* A numeric segment is newer than an alphabetic one. */
		if (s2 == two)
			return isnum ? 1 : -1;
		if (isnum) {
			while (*one == '0' && one < s1)
				one++;
			while (*two == '0' && two < s2)
				two++;
			l1 = (size_t)(s1 - one);
			l2 = (size_t)(s2 - two);
			if (l1 != l2)
				return l1 > l2 ? 1 : -1;
		} else {
			l1 = (size_t)(s1 - one);
			l2 = (size_t)(s2 - two);
		}
		r = memcmp(one, two, l1 < l2 ? l1 : l2);
		if (r)
			return r < 0 ? -1 : 1;
		if (l1 != l2)
			return l1 < l2 ? -1 : 1;
		one = s1;
		two = s2;
	}
	if (!*one && !*two)
		return 0;
	return *one ? 1 : -1;
}

struct rpm_evr {
	unsigned long long epoch;
	char version[COPA_VERSION_MAX + 1];
	char release[COPA_VERSION_MAX + 1];
	bool has_release;
};

static bool rpm_char_ok(char c)
{
	return is_alnum(c) || c == '.' || c == '_' || c == '+' || c == '~' || c == '^';
}

static const char *rpm_parse(const char *v, struct rpm_evr *out)
{
	const char *r = common_reason(v), *p = v, *ver, *dash;
	size_t vlen;

	if (r)
		return r;
	out->epoch = 0;
	while (is_digit(*p))
		p++;
	ver = v;
	if (*p == ':') {
		if (p == v)
			return "the epoch is empty";
		if (p - v > 10)
			return "the epoch is too big";
		for (const char *q = v; q < p; q++)
			out->epoch = out->epoch * 10 + (unsigned long long)(*q - '0');
		ver = p + 1;
	}
	dash = strrchr(ver, '-');
	vlen = dash ? (size_t)(dash - ver) : strlen(ver);
	if (vlen == 0)
		return "the version is empty";
	memcpy(out->version, ver, vlen);
	out->version[vlen] = '\0';
	out->has_release = dash != NULL;
	out->release[0] = '\0';
	if (dash) {
		if (!dash[1])
			return "the release is empty";
		memcpy(out->release, dash + 1, strlen(dash + 1) + 1);
	}
	for (const char *q = out->version; *q; q++)
		if (!rpm_char_ok(*q))
			return *q == ':'
			           ? "the epoch is not a number"
			           : "the version contains a character other than [A-Za-z0-9._+~^]";
	for (const char *q = out->release; *q; q++)
		if (!rpm_char_ok(*q))
			return "the release contains a character other than [A-Za-z0-9._+~^]";
	return NULL;
}

/*
 * rpm's rpmverCmp() (what `rpm.vercmp` does): epoch, version, then release,
 * where a missing release sorts below any release, whatever its text, so
 * '1.0' < '1.0-1' and '1.0' < '1.0-.'. (rpmdsCompare's rule for dependency
 * ranges, which skips the release when one side has none, is not the order
 * of versions.)
 */
static int rpm_cmp(const struct rpm_evr *a, const struct rpm_evr *b)
{
	int r;

	if (a->epoch != b->epoch)
		return a->epoch < b->epoch ? -1 : 1;
	r = copa_rpmvercmp(a->version, b->version);
	if (r)
		return r;
	if (a->has_release != b->has_release)
		return a->has_release ? 1 : -1;
	return copa_rpmvercmp(a->release, b->release);
}

/* -------------------------------------------------------------- public */

const char *copa_version_invalid_reason(enum copa_pkgfam fam, const char *v)
{
	switch (fam) {
	case COPA_FAM_DEB: {
		struct dpkg_ver d;

		return dpkg_parse(v, &d);
	}
	case COPA_FAM_APK:
		return apk_reason(v);
	case COPA_FAM_RPM: {
		struct rpm_evr e;

		return rpm_parse(v, &e);
	}
	case COPA_FAM_NONE:
		return "copa knows no version ordering for this OS";
	}
	return "unknown package family";
}

bool copa_version_valid(enum copa_pkgfam fam, const char *v)
{
	return copa_version_invalid_reason(fam, v) == NULL;
}

static int invalid(struct copa_err *err, enum copa_pkgfam fam, const char *v, const char *why)
{
	if (fam == COPA_FAM_NONE)
		return copa_err_set(err, COPA_E_UNSUPPORTED, "cannot compare versions: %s", why);
	return copa_err_set(err, COPA_E_INPUT, "'%.*s' is not a valid %s version: %s",
	                    COPA_VERSION_MAX, v ? v : "", copa_pkgfam_tool(fam), why);
}

int copa_version_cmp(enum copa_pkgfam fam, const char *a, const char *b, int *result,
                     struct copa_err *err)
{
	const char *why;

	switch (fam) {
	case COPA_FAM_DEB: {
		struct dpkg_ver da, db;

		if ((why = dpkg_parse(a, &da)))
			return invalid(err, fam, a, why);
		if ((why = dpkg_parse(b, &db)))
			return invalid(err, fam, b, why);
		*result = dpkg_cmp(&da, &db);
		return 0;
	}
	case COPA_FAM_APK:
		if ((why = apk_reason(a)))
			return invalid(err, fam, a, why);
		if ((why = apk_reason(b)))
			return invalid(err, fam, b, why);
		*result = apk_cmp(a, b);
		return 0;
	case COPA_FAM_RPM: {
		struct rpm_evr ea, eb;

		if ((why = rpm_parse(a, &ea)))
			return invalid(err, fam, a, why);
		if ((why = rpm_parse(b, &eb)))
			return invalid(err, fam, b, why);
		*result = rpm_cmp(&ea, &eb);
		return 0;
	}
	case COPA_FAM_NONE:
		break;
	}
	return invalid(err, fam, a, "copa knows no version ordering for this OS");
}
