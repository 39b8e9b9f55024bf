/*
 * aptprefs.h: apt pinning (apt_preferences(5)) as the Debian planner needs it.
 *
 * An image's /etc/apt/preferences and the files of /etc/apt/preferences.d change which
 * version apt installs: a pin can hold a package at a version, block a
 * version or a release (negative priority), or rank one repository over
 * another. copa reads them from the image, never runs apt, and the planner
 * (plan.c) picks each package's candidate version the way apt's policy does
 * (copa_apt_priority, then the highest priority and, among equal ones, the
 * highest version; no downgrade below the installed version under 1000).
 *
 * Supported: "Package:" with names, globs and "*" (a general pin), optional
 * ":arch"; "Pin: version GLOB", "Pin: release" with the keys a (archive /
 * suite), n (codename), o (origin), l (label), c (component), b
 * (architecture), values exact or globs; "Pin: origin HOST"; "Pin-Priority".
 * Not supported, and said once per record with a warning: regular
 * expressions (/.../) and "src:" pins; such records are ignored.
 */
#ifndef COPA_PKG_DEB_APTPREFS_H
#define COPA_PKG_DEB_APTPREFS_H

#include "util/err.h"
#include "util/log.h"

#include <stdbool.h>
#include <stddef.h>

enum copa_apt_pin_kind { COPA_PIN_VERSION, COPA_PIN_RELEASE, COPA_PIN_ORIGIN };

struct copa_apt_pin_attr {
	char key;    /* 'a', 'n', 'o', 'l', 'c', 'b' */
	char *value; /* exact or glob */
};

struct copa_apt_pin {
	char *where;     /* "etc/apt/preferences.d/backports:3" */
	char **packages; /* NULL-terminated patterns; NULL for a general pin ("*") */
	enum copa_apt_pin_kind kind;
	char *version;                   /* COPA_PIN_VERSION: a glob */
	char *origin;                    /* COPA_PIN_ORIGIN: a host, "" for local files */
	struct copa_apt_pin_attr *attrs; /* COPA_PIN_RELEASE; all must match */
	size_t n_attrs;
	long priority;
};

struct copa_apt_prefs {
	struct copa_apt_pin *v;
	size_t n;
};

/*
 * Parses one preferences file (n bytes; `where` names it, e.g.
 * "etc/apt/preferences.d/pin") and appends its records to out in file
 * order. A record copa cannot use (unsupported or malformed) is skipped
 * with a warning on `log` naming the file and line; the text as a whole is
 * an error only when it is not deb822 at all (COPA_E_INPUT) or exceeds the
 * record cap (COPA_E_LIMIT).
 */
int copa_apt_prefs_parse(const char *text, size_t n, const char *where, struct copa_apt_prefs *out,
                         struct copa_out *log, struct copa_err *err);

void copa_apt_prefs_release(struct copa_apt_prefs *p);

/* Where one version of a package can be installed from: a repository or the dpkg status. */
struct copa_apt_file {
	bool status; /* the dpkg status file: apt's "now" archive, priority 100 */
	const char *origin, *label, *suite, *codename, *component, *arch,
	    *host; /* "" when absent */
	bool not_automatic, but_automatic_upgrades;
};

/*
 * apt's priority of `version` of package `name` (":arch" qualified when not
 * native: "libc6:i386"), available from files[0..n): the first specific pin
 * (a record naming the package) that matches the version, else the highest
 * over its files of the first general pin matching the file, else the
 * file's default (500; NotAutomatic 1; with ButAutomaticUpgrades 100; the
 * status file 100). *why, when not NULL, gets the deciding pin or NULL.
 */
long copa_apt_priority(const struct copa_apt_prefs *p, const char *name, const char *version,
                       const struct copa_apt_file *files, size_t n,
                       const struct copa_apt_pin **why);

#endif
