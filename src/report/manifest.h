/*
 * manifest.h: the update manifest, copa's one description of what a scanner
 * report asks for, and the OS table that maps scanner family names to
 * package families.
 *
 * Owns: struct copa_update_manifest (produced by every scanner adapter in
 * src/report/, consumed by the package-manager adapters, `copa report`, the
 * VEX and summary writers) and the table of OS types copa recognises.
 *
 * Invariants of a finished manifest (copa_update_manifest_finish):
 *  - os is a table entry and fam == os->fam (or what the report's package
 *    types said for an OS the table does not pin down);
 *  - entries holds every fixable finding in report order (one per package and
 *    vulnerability, as the scanner listed them); unfixable holds the findings
 *    without a fixed version, kept aside, never dropped;
 *  - every installed and fixed version in entries is valid for fam;
 *  - updates holds one element per package name, sorted by name (strcmp),
 *    carrying the highest fixed version by fam's ordering and every
 *    vulnerability ID of that package (unique, first-seen order).
 * All strings live in the manifest's arena and die with copa_update_manifest_free().
 *
 * Callers: src/report/ adapters build manifests; everyone else reads them.
 */
#ifndef COPA_REPORT_MANIFEST_H
#define COPA_REPORT_MANIFEST_H

#include "pkg/version.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>

/* How far copa supports an OS type. */
enum copa_os_support {
	COPA_OS_PATCHABLE,   /* copa patches it today (debian, ubuntu; alpine, wolfi, chainguard) */
	COPA_OS_PLANNED,     /* the original copa patches it; copa's adapter is future work */
	COPA_OS_UNSUPPORTED, /* recognised in reports, no package-manager adapter planned */
};

/* One OS type as scanners name it. */
struct copa_os_info {
	const char *id;       /* canonical name, as Trivy's Family: "debian", "cbl-mariner" */
	enum copa_pkgfam fam; /* COPA_FAM_NONE: decided by the report's package types */
	enum copa_os_support support;
	const char *purl_ns; /* purl namespace: "debian", "suse" for sles, "opensuse" */
	const char *pretty;  /* "Debian", "CBL-Mariner" */
};

/*
 * Looks an OS type up by any name a scanner or plugin uses for it: Trivy
 * families, Grype distro types ("amazonlinux", "oraclelinux", "rockylinux",
 * "mariner", "opensuseleap", ...), os-release IDs ("rhel", "amzn", "ol") and
 * the aliases Trivy and copa accept ("suse linux enterprise server",
 * "opensuse.leap", "amazon linux", "debian gnu/linux"), case-insensitively;
 * then copa's substring rules (pkg/utils/os.go) for free-form names from
 * plugins. Returns a static entry or NULL when the name is unknown.
 */
const struct copa_os_info *copa_os_lookup(const char *name);

/* "debian and ubuntu": the OS types copa patches today, for messages. */
const char *copa_os_patchable_list(void);

/* One finding as the scanner listed it. */
struct copa_entry {
	const char *name;      /* binary package name */
	const char *installed; /* version in the scanned image */
	const char *fixed;     /* "" when the scanner knows no fix */
	const char *vuln_id;   /* "CVE-2023-1234", "GHSA-...", "DLA-..." */
	const char *type;      /* Trivy Result.Type ("debian"), "" when unknown */
	const char *class;     /* "os-pkgs", "" when unknown */
};

/* One package to update: all of its fixable findings folded together. */
struct copa_update {
	const char *name;
	const char *installed; /* installed version of the first finding */
	const char *fixed;     /* highest fixed version */
	const char **vuln_ids; /* unique, first-seen order */
	size_t n_vuln_ids;
	const char *type, *class;
};

struct copa_update_manifest {
	struct copa_arena arena; /* owns every string and array below */
	const char *source;      /* the report file (for messages) */
	const char *scanner;     /* "trivy", "grype", "native" or a plugin name */
	const char *os_type;     /* canonical (os->id) */
	const char *os_version;  /* "12.5", "2 (Karoo)", "2.0.20220527" */
	const char *arch;        /* GOARCH style ("amd64", "arm64", "arm"); "" unknown */
	const char *variant;     /* "v7", "v8"; "" none */
	const char *artifact;    /* image the report was made for (Trivy ArtifactName, Grype
	                            source.target.userInput); "" unknown; for warnings only */
	const struct copa_os_info *os;
	enum copa_pkgfam fam;

	struct copa_entry *entries; /* fixable findings, report order */
	size_t n_entries, cap_entries;
	struct copa_entry *unfixable; /* findings without a fix */
	size_t n_unfixable, cap_unfixable;
	size_t n_lang_ignored; /* language-package findings (copa patches OS packages) */

	struct copa_update *updates; /* after finish: one per package, sorted by name */
	size_t n_updates;
};

/* Caps on what one report may hold. */
#define COPA_MANIFEST_MAX_ENTRIES 500000
#define COPA_MANIFEST_MAX_FIELD   1024 /* bytes in a name, vulnerability ID, type or class */

/* Allocates an empty manifest; source and scanner are copied. */
struct copa_update_manifest *copa_update_manifest_new(const char *source, const char *scanner);
void copa_update_manifest_free(struct copa_update_manifest *m);

/* Copies s into the manifest's arena (NULL becomes ""). */
const char *copa_update_manifest_strdup(struct copa_update_manifest *m, const char *s);

/*
 * Sets the platform: os_name is looked up with copa_os_lookup (unknown names
 * fail with COPA_E_INPUT, naming the name and the known families); version
 * must be non-empty. arch is normalised to GOARCH (x86_64 -> amd64, aarch64 ->
 * arm64, armv7l/armhf -> arm + v7, i386/i686 -> 386, ppc64el -> ppc64le);
 * variant may be NULL. pkg_hint (COPA_FAM_NONE when unknown) decides the
 * family of an OS the table does not pin down (e.g. "cleanstart"). Errors do
 * not name the report; the adapter wraps them.
 */
int copa_update_manifest_set_os(struct copa_update_manifest *m, const char *os_name,
                                const char *version, const char *arch, const char *variant,
                                enum copa_pkgfam pkg_hint, struct copa_err *err);

/*
 * Appends a finding (strings copied; NULL read as ""). An empty fixed version
 * puts it aside as unfixable. Fails past COPA_MANIFEST_MAX_ENTRIES findings,
 * on a field longer than COPA_MANIFEST_MAX_FIELD, on an empty name or ID, and
 * on control characters.
 */
int copa_update_manifest_add(struct copa_update_manifest *m, const struct copa_entry *e,
                             struct copa_err *err);

/*
 * Validates every version of the fixable findings with the family's rules
 * and builds updates (see the invariants above). Call once, after set_os and
 * the last add. Errors name the package and the version.
 */
int copa_update_manifest_finish(struct copa_update_manifest *m, struct copa_err *err);

/* "linux/amd64", "linux/arm/v7", or "linux" when the arch is unknown; into out. */
void copa_update_manifest_platform(const struct copa_update_manifest *m, struct copa_buf *out);

/*
 * The package architecture a family uses for a GOARCH platform (deb: amd64,
 * arm64, armhf/armel, i386, ppc64el; rpm: x86_64, aarch64, armv7hl, i686,
 * ppc64le, s390x; apk: x86_64, aarch64, armv7/armhf, x86). Returns a static
 * string, or goarch itself when there is no mapping.
 */
const char *copa_pkg_arch(enum copa_pkgfam fam, const char *goarch, const char *variant);

/* A list of manifests, one per platform, from a report file or directory. */
struct copa_update_manifest_list {
	struct copa_update_manifest **v;
	size_t n;
};

void copa_update_manifest_list_release(struct copa_update_manifest_list *l);
/* Appends m (ownership moves into the list). */
void copa_update_manifest_list_push(struct copa_update_manifest_list *l,
                                    struct copa_update_manifest *m);
/*
 * Finishes m (copa_update_manifest_finish) and appends it to l; on error m is
 * freed. Ownership of m moves in either way: the last step of every reader.
 */
int copa_update_manifest_list_finish_push(struct copa_update_manifest_list *l,
                                          struct copa_update_manifest *m, struct copa_err *err);

#endif
