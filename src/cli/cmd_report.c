/*
 * cmd_report.c: `copa report [-s SCANNER] [--json] FILE|DIR` shows what a
 * scanner report asks copa to do, without touching an image: one table per
 * platform (package, installed, fixed, vulnerability IDs) and the findings
 * that have no fix yet; --json prints the update manifest as copa's native
 * v1alpha2 JSON, which `-s native` reads back to the same manifest.
 */
#include "cli/cli.h"

#include "report/report.h"
#include "util/mem.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: copa report [-s SCANNER] [--json] [--timeout DURATION] REPORT|DIR\n"
	        "\n"
	        "Show what a vulnerability report asks copa to update, without an image.\n"
	        "\n"
	        "  -s, --scanner NAME   trivy, grype, native, or a plugin run as 'copa-NAME\n"
	        "                       REPORT' from PATH that prints an update manifest\n"
	        "                       (default: the format detected in each file)\n"
	        "      --json           print the update manifest as copa's native v1alpha2 JSON\n"
	        "                       (a JSON array of manifests for a report directory)\n"
	        "      --timeout DUR    time a scanner plugin may take (default 5m; e.g. 30s, 2m)\n"
	        "  -h, --help           show this help\n"
	        "\n"
	        "A directory holds one report per platform of a multi-platform image.\n"
	        "Exit status: 0 success, 1 the report cannot be used, 2 usage error.\n");
}

static size_t width(const char *s)
{
	return s ? strlen(s) : 0;
}

static void print_ids(const struct copa_update *u)
{
	for (size_t k = 0; k < u->n_vuln_ids; k++)
		printf("%s%s", k ? ", " : "", u->vuln_ids[k]);
	printf("\n");
}

static void print_manifest(const struct copa_update_manifest *m)
{
	struct copa_buf plat = COPA_BUF_INIT;
	size_t wn = strlen("PACKAGE"), wi = strlen("INSTALLED"), wf = strlen("FIXED");
	size_t n_pairs = 0;

	copa_update_manifest_platform(m, &plat);
	printf("report:   %s (%s)\n", m->source, m->scanner);
	printf("platform: %s\n", copa_buf_str(&plat));
	printf("os:       %s %s (%s packages)\n", m->os_type, m->os_version,
	       copa_pkgfam_tool(m->fam));
	switch (m->os->support) {
	case COPA_OS_PATCHABLE:
		break;
	case COPA_OS_PLANNED:
		printf("note:     copa cannot patch %s images yet (it patches %s); the table shows "
		       "what the report asks for\n",
		       m->os->pretty, copa_os_patchable_list());
		break;
	case COPA_OS_UNSUPPORTED:
		printf("note:     copa does not patch %s images (it patches %s)\n", m->os->pretty,
		       copa_os_patchable_list());
		break;
	}
	printf("\n");
	for (size_t i = 0; i < m->n_updates; i++) {
		const struct copa_update *u = &m->updates[i];

		wn = width(u->name) > wn ? width(u->name) : wn;
		wi = width(u->installed) > wi ? width(u->installed) : wi;
		wf = width(u->fixed) > wf ? width(u->fixed) : wf;
		n_pairs += u->n_vuln_ids;
	}
	if (m->n_updates) {
		printf("%-*s  %-*s  %-*s  %s\n", (int)wn, "PACKAGE", (int)wi, "INSTALLED", (int)wf,
		       "FIXED", "VULNERABILITIES");
		for (size_t i = 0; i < m->n_updates; i++) {
			const struct copa_update *u = &m->updates[i];

			printf("%-*s  %-*s  %-*s  ", (int)wn, u->name, (int)wi, u->installed,
			       (int)wf, u->fixed);
			print_ids(u);
		}
		printf("\n");
	}
	for (size_t i = 0, shown = 0; i < m->n_updates && shown < 20; i++) {
		const struct copa_update *u = &m->updates[i];
		struct copa_err err = COPA_ERR_INIT;
		int r;

		/* e.g. a fixed version from the source package without the binary's epoch */
		if (*u->installed &&
		    copa_version_cmp(m->fam, u->installed, u->fixed, &r, &err) == 0 && r >= 0) {
			printf("note:     %s %s is not below the fixed version %s\n", u->name,
			       u->installed, u->fixed);
			shown++;
		}
	}
	printf("%zu package%s to update (%zu fixable finding%s); %zu finding%s not fixable yet",
	       m->n_updates, m->n_updates == 1 ? "" : "s", n_pairs, n_pairs == 1 ? "" : "s",
	       m->n_unfixable, m->n_unfixable == 1 ? "" : "s");
	if (m->n_lang_ignored)
		printf("; %zu language-package finding%s ignored (copa patches OS packages)",
		       m->n_lang_ignored, m->n_lang_ignored == 1 ? "" : "s");
	printf("\n");
	if (m->n_unfixable) {
		printf("not fixable yet:");
		for (size_t i = 0; i < m->n_unfixable && i < 1000; i++)
			printf("%s %s (%s)", i ? "," : "", m->unfixable[i].name,
			       m->unfixable[i].vuln_id);
		if (m->n_unfixable > 1000)
			printf(", ...");
		printf("\n");
	}
	copa_buf_release(&plat);
}

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"scanner", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {"debug", no_argument, NULL, 'd'}, /* "copa --debug report": nothing more to say */
	    {NULL, 0, NULL, 0},
	};
	struct copa_report_opts opts = {0};
	struct copa_update_manifest_list list = {0};
	struct copa_err err = COPA_ERR_INIT;
	struct copa_out *out;
	bool json = false;
	int c, rc;

	if (copa_cli_check_opts("report", argc, argv, "+s:h", longopts))
		return 2;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			opts.scanner = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 't': {
			long long ms = copa_cli_parse_duration_ms(optarg);

			if (ms < 0)
				return copa_cli_usage_error("report",
				                            "invalid --timeout '%s' (examples: "
				                            "30s, 2m, 1500ms)",
				                            optarg);
			opts.timeout_ms = (int)ms;
			break;
		}
		case 'd':
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return copa_cli_usage_error("report", "unknown option '%s'",
			                            argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return copa_cli_usage_error("report", optind == argc
		                                          ? "missing REPORT (a file or "
		                                            "directory)"
		                                          : "more than one REPORT given");
	if (opts.scanner && !copa_report_scanner_name_valid(opts.scanner))
		return copa_cli_usage_error("report",
		                            "invalid scanner '%s': use trivy, grype, native or a "
		                            "plugin name matching ^[a-zA-Z0-9][a-zA-Z0-9_-]*$",
		                            opts.scanner);

	out = copa_cli_out_new(COPA_CLI_PROGRESS_PLAIN, false);
	opts.out = out;
	if (copa_report_load(argv[optind], &opts, &list, &err) < 0) {
		rc = copa_cli_fail(out, &err);
		goto done;
	}
	if (json) {
		struct copa_buf b = COPA_BUF_INIT;
		struct stat st;
		bool dir = list.n != 1 || (stat(argv[optind], &st) == 0 && S_ISDIR(st.st_mode));

		if (copa_report_write_native((const struct copa_update_manifest *const *)list.v,
		                             list.n, dir, &b, &err) < 0) {
			copa_buf_release(&b);
			rc = copa_cli_fail(out, &err);
			goto done;
		}
		fwrite(b.p, 1, b.len, stdout);
		copa_buf_release(&b);
	} else {
		for (size_t i = 0; i < list.n; i++) {
			if (i)
				printf("\n");
			print_manifest(list.v[i]);
		}
	}
	rc = copa_cli_flush_stdout("report");
done:
	copa_update_manifest_list_release(&list);
	copa_cli_out_free(out);
	return rc;
}

const struct copa_cli_cmd copa_cmd_report = {"report",
                                             "show what a scanner report asks copa to update", run};
