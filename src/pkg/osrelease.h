/*
 * osrelease.h: /etc/os-release (os-release(5)) of an image, and the Debian
 * and Ubuntu facts derived from it (release codename, end-of-life status).
 *
 * The file is image content: values are unquoted and unescaped as the
 * format says, capped, and never interpreted as shell. Any thread may call
 * the pure functions; copa_osrelease_read() reads a view (one thread).
 */
#ifndef COPA_PKG_OSRELEASE_H
#define COPA_PKG_OSRELEASE_H

#include "layer/view.h"
#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>

/* Largest os-release file copa reads. */
#define COPA_OSRELEASE_MAX (64u << 10)

struct copa_osrelease {
	char *id; /* "debian", "ubuntu" (lowercase as written); NULL when absent */
	char *id_like;
	char *version_id;       /* "12", "22.04"; NULL for testing/sid */
	char *version_codename; /* "bookworm", "jammy" */
	char *version;          /* "12 (bookworm)" */
	char *pretty_name;
	/*
	 * Derived: VERSION_CODENAME (or UBUNTU_CODENAME); for Debian, else the
	 * codename of VERSION_ID's major number (10 buster ... 14 forky); else
	 * the first word in parentheses of VERSION ("22.04.3 LTS (Jammy
	 * Jellyfish)" gives "jammy"). Lowercase; NULL when none can be told.
	 */
	char *codename;
};

/* Parses os-release text (n bytes). Unknown keys are ignored; malformed lines too (as systemd
 * does). */
int copa_osrelease_parse(const char *text, size_t n, struct copa_osrelease *out,
                         struct copa_err *err);

/*
 * Reads etc/os-release, else usr/lib/os-release, from the view. Returns 1
 * when found and parsed, 0 when the image has neither (out is zeroed), -1
 * on error.
 */
int copa_osrelease_read(struct copa_view *v, struct copa_osrelease *out, struct copa_err *err);

void copa_osrelease_release(struct copa_osrelease *o);

/* The codename of a Debian major version number (10 "buster" ... 15 "duke"), or NULL. */
const char *copa_debian_codename_of(unsigned major);

#endif
