/*
 * eol.h: is a distribution release past the end of its security support?
 * Answers from the table shipped in eol-dates.def (no network); pure
 * functions, any thread may call them.
 */
#ifndef COPA_CORE_EOL_H
#define COPA_CORE_EOL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/*
 * The release cycle the table keys on, from an os-release ID and
 * VERSION_ID ("debian","11.9" → "11"; "alpine","3.18.4" → "3.18"), into
 * buf. False when the ID is not in the table or the version is empty.
 */
bool copa_eol_cycle(const char *id, const char *version_id, char *buf, size_t len);

/*
 * Looks the release up: true when it is in the table, with *date (borrowed,
 * "YYYY-MM-DD", the last day of security updates) and *past (now is after
 * that day, UTC).
 */
bool copa_eol_lookup(const char *id, const char *version_id, time_t now, const char **date,
                     bool *past);

#endif
