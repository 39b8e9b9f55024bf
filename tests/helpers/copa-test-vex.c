/*
 * copa-test-vex: drives the VEX and summary writers the way `copa patch`
 * will, so the e2e tests can validate real output before the patch command
 * exists.
 *
 *   copa-test-vex --manifest NATIVE.json --outcomes OUTCOMES.json
 *                 --output-ref REF [--output-digest D] [--input-ref REF]
 *                 [--input-digest D] --author NAME [--role ROLE]
 *                 [--timestamp UNIX] [--vex OUT.json] [--summary OUT.json]
 *
 * NATIVE.json is read with the native report parser (one manifest or an
 * array, one per platform). OUTCOMES.json says what happened to each
 * package of each platform:
 *   {"platforms": {"linux/amd64": {"inputDigest": "sha256:...",
 *       "outputDigest": "sha256:...",
 *       "packages": {"libssl3": {"outcome": "updated", "chosen": "...",
 *           "installed": "...", "reason": "...", "arch": "amd64",
 *           "skippedScripts": ["postinst"]}}}}}
 * A package of the manifest missing from OUTCOMES.json is "skipped".
 */
#include "report/report.h"
#include "util/json.h"
#include "util/mem.h"
#include "vex/summary.h"
#include "vex/vex.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const struct copa_err *err)
{
	fprintf(stderr, "copa-test-vex: error: %s\n", err->msg);
	return 1;
}

static int add_platform(struct copa_summary *s, const struct copa_update_manifest *m,
                        const json_t *plat, struct copa_err *err)
{
	struct copa_summary_platform *p = copa_summary_add_manifest(s, m);
	const json_t *pkgs = copa_json_obj(plat, "packages");

	copa_summary_platform_digests(s, p, copa_json_str(plat, "inputDigest"),
	                              copa_json_str(plat, "outputDigest"));
	for (size_t i = 0; i < m->n_updates; i++) {
		const struct copa_update *u = &m->updates[i];
		const json_t *o = copa_json_obj(pkgs, u->name);
		const json_t *scripts = copa_json_arr(o, "skippedScripts");
		const char *sv[64];
		struct copa_pkg_result r = {0};
		size_t n = 0;

		r.name = u->name;
		r.installed_before = u->installed;
		r.requested = u->fixed;
		r.vuln_ids = u->vuln_ids;
		r.n_vuln_ids = u->n_vuln_ids;
		r.outcome = COPA_OUTCOME_SKIPPED;
		r.reason = "no outcome given";
		if (o) {
			if (copa_outcome_parse(copa_json_str(o, "outcome"), &r.outcome) < 0)
				return copa_err_set(err, COPA_E_INPUT, "package '%s': bad outcome",
				                    u->name);
			r.reason = copa_json_str(o, "reason");
			r.chosen = copa_json_str(o, "chosen");
			r.installed = copa_json_str(o, "installed");
			r.arch = copa_json_str(o, "arch");
		}
		for (size_t k = 0; k < json_array_size(scripts) && n < 64; k++)
			if (json_string_value(json_array_get(scripts, k)))
				sv[n++] = json_string_value(json_array_get(scripts, k));
		r.skipped_scripts = sv;
		r.n_skipped_scripts = n;
		if (copa_summary_add_package(s, p, &r, err) < 0)
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"manifest", required_argument, NULL, 'm'},
	    {"outcomes", required_argument, NULL, 'o'},
	    {"output-ref", required_argument, NULL, 'R'},
	    {"output-digest", required_argument, NULL, 'D'},
	    {"input-ref", required_argument, NULL, 'r'},
	    {"input-digest", required_argument, NULL, 'd'},
	    {"author", required_argument, NULL, 'a'},
	    {"role", required_argument, NULL, 'l'},
	    {"timestamp", required_argument, NULL, 't'},
	    {"vex", required_argument, NULL, 'v'},
	    {"summary", required_argument, NULL, 's'},
	    {NULL, 0, NULL, 0},
	};
	const char *manifest = NULL, *outcomes = NULL, *out_ref = NULL, *out_digest = NULL,
	           *in_ref = NULL, *in_digest = NULL, *vex_path = NULL, *sum_path = NULL;
	struct copa_vex_opts vo = {0};
	struct copa_report_opts ro = {.scanner = "native"};
	struct copa_update_manifest_list list = {0};
	struct copa_err err = COPA_ERR_INIT;
	struct copa_summary *s = NULL;
	struct copa_vex *v = NULL;
	json_t *oc = NULL;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			manifest = optarg;
			break;
		case 'o':
			outcomes = optarg;
			break;
		case 'R':
			out_ref = optarg;
			break;
		case 'D':
			out_digest = optarg;
			break;
		case 'r':
			in_ref = optarg;
			break;
		case 'd':
			in_digest = optarg;
			break;
		case 'a':
			vo.author = optarg;
			break;
		case 'l':
			vo.role = optarg;
			break;
		case 't':
			vo.timestamp = strtoll(optarg, NULL, 10);
			break;
		case 'v':
			vex_path = optarg;
			break;
		case 's':
			sum_path = optarg;
			break;
		default:
			fprintf(stderr, "copa-test-vex: bad usage\n");
			return 2;
		}
	}
	if (!manifest || !outcomes || (!vex_path && !sum_path)) {
		fprintf(stderr, "copa-test-vex: --manifest, --outcomes and --vex or --summary are "
		                "required\n");
		return 2;
	}
	if (copa_report_load(manifest, &ro, &list, &err) < 0)
		goto out;
	oc = copa_json_load_file(outcomes, 64 << 20, "outcomes", &err);
	if (!oc)
		goto out;
	s = copa_summary_new();
	copa_summary_set_input(s, in_ref, in_digest);
	copa_summary_set_output(s, out_ref, out_digest);
	for (size_t i = 0; i < list.n; i++) {
		struct copa_buf plat = COPA_BUF_INIT;
		const json_t *pj;

		copa_update_manifest_platform(list.v[i], &plat);
		pj = copa_json_obj(copa_json_obj(oc, "platforms"), copa_buf_str(&plat));
		copa_buf_release(&plat);
		if (add_platform(s, list.v[i], pj, &err) < 0)
			goto out;
	}
	if (sum_path && copa_summary_write(s, sum_path, &err) < 0)
		goto out;
	if (vex_path) {
		v = copa_vex_new(&vo, &err);
		if (!v || copa_vex_add_summary(v, s, &err) < 0 ||
		    copa_vex_write(v, vex_path, &err) < 0)
			goto out;
	}
	rc = 0;
out:
	if (rc)
		fail(&err);
	json_decref(oc);
	copa_vex_free(v);
	copa_summary_free(s);
	copa_update_manifest_list_release(&list);
	return rc;
}
