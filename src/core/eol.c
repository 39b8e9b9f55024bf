/* eol.c: the shipped end-of-life table (eol-dates.def) and its lookup. */
#include "core/eol.h"

#include <stdio.h>
#include <string.h>

struct eol_entry {
	const char *id, *cycle, *date;
};

static const struct eol_entry table[] = {
#define COPA_EOL(id, cycle, date) {id, cycle, date},
#include "eol-dates.def"
#undef COPA_EOL
};

/* How many dot-separated parts of VERSION_ID name a release of this distribution. */
static int cycle_parts(const char *id)
{
	static const char *const two[] = {"ubuntu", "alpine", "opensuse-leap", "mariner",
	                                  "azurelinux"};

	for (size_t i = 0; i < sizeof(two) / sizeof(two[0]); i++)
		if (!strcmp(id, two[i]))
			return 2;
	return 1;
}

bool copa_eol_cycle(const char *id, const char *version_id, char *buf, size_t len)
{
	int parts;
	size_t n = 0;

	if (!id || !version_id || !*version_id || len == 0)
		return false;
	parts = cycle_parts(id);
	for (; version_id[n]; n++)
		if (version_id[n] == '.' && --parts == 0)
			break;
	if (n >= len)
		return false;
	memcpy(buf, version_id, n);
	buf[n] = '\0';
	return true;
}

bool copa_eol_lookup(const char *id, const char *version_id, time_t now, const char **date,
                     bool *past)
{
	char cycle[32], today[16];
	struct tm tm;

	if (!copa_eol_cycle(id, version_id, cycle, sizeof(cycle)))
		return false;
	gmtime_r(&now, &tm);
	strftime(today, sizeof(today), "%Y-%m-%d", &tm);
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (!strcmp(table[i].id, id) && !strcmp(table[i].cycle, cycle)) {
			*date = table[i].date;
			/* ISO dates compare as strings. */
			*past = strcmp(today, table[i].date) > 0;
			return true;
		}
	return false;
}
