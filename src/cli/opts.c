/*
 * opts.c: the command line checked before getopt_long sees it.
 *
 * glibc's getopt_long accepts any unambiguous prefix of a long option, so
 * "--key k.pem" would become "--keyring k.pem" and "--insecure" would become
 * "--insecure-registry" and swallow the next argument. copa_cli_check_opts()
 * walks argv the way getopt does and refuses every long option that is not
 * spelled out in full, naming the nearest real one; once it has passed,
 * getopt_long only ever sees exact names, so it cannot guess.
 */
#include "cli/cli.h"
#include "image/oci.h"

#include <stdio.h>
#include <string.h>

/* Edit distance of a and b (each at most 63 bytes; longer ones compare as far apart). */
static size_t distance(const char *a, size_t na, const char *b)
{
	size_t nb = strlen(b), row[64];

	if (na >= 64 || nb >= 64)
		return 64;
	for (size_t j = 0; j <= nb; j++)
		row[j] = j;
	for (size_t i = 1; i <= na; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= nb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[nb];
}

/*
 * The long option nearest to name[0..n): one it starts (what getopt would
 * have guessed), else the closest by edit distance if that is at most
 * about a third of the name; NULL when nothing is near.
 */
static const char *nearest(const char *name, size_t n, const struct option *longopts)
{
	const char *best = NULL;
	size_t best_d = n / 3 + 2;

	for (const struct option *o = longopts; o->name; o++)
		if (n && !strncmp(o->name, name, n))
			return o->name;
	for (const struct option *o = longopts; o->name; o++) {
		size_t d = distance(name, n, o->name);

		if (d < best_d) {
			best_d = d;
			best = o->name;
		}
	}
	return best;
}

static const struct option *find_long(const char *name, size_t n, const struct option *longopts)
{
	for (const struct option *o = longopts; o->name; o++)
		if (strlen(o->name) == n && !strncmp(o->name, name, n))
			return o;
	return NULL;
}

static int unknown_long(const char *cmd, const char *name, size_t n, const struct option *longopts)
{
	const char *near = nearest(name, n, longopts);

	if (near)
		return copa_cli_usage_error(cmd, "unknown option '--%.*s' (did you mean --%s?)",
		                            (int)n, name, near);
	return copa_cli_usage_error(cmd, "unknown option '--%.*s'", (int)n, name);
}

/* Checks one "--name[=value]"; *skip is set when the value is the next argument. */
static int check_long(const char *cmd, const char *arg, bool has_next,
                      const struct option *longopts, bool *skip)
{
	const char *name = arg + 2, *eq = strchr(name, '=');
	size_t n = eq ? (size_t)(eq - name) : strlen(name);
	const struct option *o = find_long(name, n, longopts);

	*skip = false;
	if (!o)
		return unknown_long(cmd, name, n, longopts);
	if (o->has_arg == no_argument && eq)
		return copa_cli_usage_error(cmd, "option '--%s' takes no value", o->name);
	if (o->has_arg == required_argument && !eq) {
		if (!has_next)
			return copa_cli_usage_error(cmd, "option '--%s' needs a value", o->name);
		*skip = true;
	}
	return 0;
}

/* Checks one cluster of short options ("-vp", "-tTAG"). */
static int check_short(const char *cmd, const char *arg, bool has_next, const char *shortopts,
                       bool *skip)
{
	*skip = false;
	for (const char *c = arg + 1; *c; c++) {
		const char *def = *c == ':' || *c == '+' ? NULL : strchr(shortopts, *c);

		if (!def)
			return copa_cli_usage_error(cmd, "unknown option '-%c'", *c);
		if (def[1] != ':')
			continue;
		if (!c[1] && !has_next)
			return copa_cli_usage_error(cmd, "option '-%c' needs a value", *c);
		*skip = !c[1];
		return 0;
	}
	return 0;
}

int copa_cli_check_opts(const char *cmd, int argc, char **argv, const char *shortopts,
                        const struct option *longopts)
{
	bool in_order = shortopts[0] == '+';

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool skip = false;
		int rc;

		if (!strcmp(a, "--"))
			break;
		if (a[0] != '-' || !a[1]) {
			if (in_order)
				break;
			continue;
		}
		if (a[1] == '-')
			rc = check_long(cmd, a, i + 1 < argc, longopts, &skip);
		else
			rc = check_short(cmd, a, i + 1 < argc, shortopts, &skip);
		if (rc)
			return rc;
		if (skip)
			i++;
	}
	return 0;
}

/* The architectures OCI images use (Go's GOARCH names, as the image spec says). */
static const char *const known_archs[] = {
    "386",      "amd64", "arm",     "arm64",   "loong64", "mips", "mipsle", "mips64",
    "mips64le", "ppc64", "ppc64le", "riscv64", "s390x",   "wasm", NULL,
};

static const char *const known_oses[] = {
    "linux", "windows", "freebsd",   "darwin",  "netbsd", "openbsd", "solaris", "illumos",
    "aix",   "plan9",   "dragonfly", "android", "ios",    "js",      "wasip1",  NULL,
};

static bool in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (!strcmp(*list, s))
			return true;
	return false;
}

int copa_cli_platform_opt(const char *cmd, const char *arg, struct copa_platform *out)
{
	struct copa_platform p;
	struct copa_err err = COPA_ERR_INIT;

	if (!*arg)
		return copa_cli_usage_error(cmd, "empty --platform: give os/arch[/variant], e.g. "
		                                 "linux/arm64");
	if (copa_platform_parse(arg, &p, &err) < 0)
		return copa_cli_usage_error(cmd, "%s", err.msg);
	if (!in_list(known_oses, p.os))
		return copa_cli_usage_error(
		    cmd, "invalid platform '%s': unknown os '%s' (e.g. linux)", arg, p.os);
	if (!in_list(known_archs, p.arch))
		return copa_cli_usage_error(
		    cmd,
		    "invalid platform '%s': unknown architecture '%s' "
		    "(amd64, arm64, arm, 386, ppc64le, s390x, riscv64, ...)",
		    arg, p.arch);
	if (out)
		*out = p;
	return 0;
}
