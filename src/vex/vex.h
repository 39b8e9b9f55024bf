/*
 * vex.h: OpenVEX v0.2.0 documents that say which vulnerabilities a patch
 * fixed (`copa patch -o FILE -f openvex`).
 *
 * Owns: building and writing the document. Unlike the original copa's, it
 * validates against the official schema (openvex_json_schema.json, v0.2.0):
 * versioned @context, vulnerability.name, a timestamp, at least one
 * statement. One statement per fixed vulnerability (status "fixed"); its
 * products are the patched images as "pkg:oci/<name>@sha256:..." purls with
 * repository_url, arch and tag qualifiers where known; their subcomponents
 * are the patched packages as pkg:deb / pkg:apk / pkg:rpm purls (version as
 * installed in the patched image, arch and distro qualifiers).
 *
 * Invariants: statements are sorted by vulnerability, products and
 * subcomponents keep insertion order and are unique (the schema's
 * uniqueItems); packages whose outcome is not updated/already-fixed are
 * never put in a statement, and a vulnerability that some package of a
 * platform still carries (its update failed, or it has no fix yet) gets no
 * statement for that platform's image; the file is written atomically.
 * Callers: `copa patch` (future) and tests/helpers/copa-test-vex.
 */
#ifndef COPA_VEX_VEX_H
#define COPA_VEX_VEX_H

#include "util/buf.h"
#include "util/err.h"
#include "vex/summary.h"

#include <stddef.h>

#define COPA_VEX_CONTEXT "https://openvex.dev/ns/v0.2.0"

struct copa_vex_opts {
	const char *author;  /* required: --vex-author or $COPA_VEX_AUTHOR (the CLI decides) */
	const char *role;    /* optional author role, e.g. "Document Creator" */
	const char *tooling; /* NULL: "copa <version>" */
	long long timestamp; /* Unix seconds; <= 0: now */
};

struct copa_vex;

/* Creates an empty document; fails on a missing or control-character author. */
struct copa_vex *copa_vex_new(const struct copa_vex_opts *opts, struct copa_err *err);
void copa_vex_free(struct copa_vex *v);

/*
 * States that vuln_id is fixed in product (an image purl) because of
 * component (a package purl; NULL for none). Duplicates are merged.
 */
int copa_vex_add_fixed(struct copa_vex *v, const char *vuln_id, const char *product,
                       const char *component, struct copa_err *err);

/*
 * Adds every fix a patch summary records: for each platform with an output
 * digest, the product is copa_purl_oci(output ref, platform digest, arch);
 * for each package whose outcome fixes (updated, already-fixed), a
 * subcomponent purl per vulnerability. Failed, unavailable and skipped
 * packages add nothing, and neither does a vulnerability still open in that
 * platform (carried by such a package or listed as not fixable yet).
 */
int copa_vex_add_summary(struct copa_vex *v, const struct copa_summary *s, struct copa_err *err);

/* Number of statements (one per vulnerability). */
size_t copa_vex_count(const struct copa_vex *v);

/* Renders the document (2-space indent, trailing newline); fails with no statements. */
int copa_vex_render(const struct copa_vex *v, struct copa_buf *out, struct copa_err *err);

/* Renders and writes to path as util/outfile.h describes ("-", devices in place, files atomically).
 */
int copa_vex_write(const struct copa_vex *v, const char *path, struct copa_err *err);

#endif
