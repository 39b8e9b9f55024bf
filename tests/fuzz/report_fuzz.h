/*
 * report_fuzz.h: the body shared by the report parser fuzz targets
 * (fuzz_trivy.c, fuzz_grype.c, fuzz_native.c). Every input must either fail
 * with a one-line message or give finished manifests whose native JSON parses
 * back to the same JSON (the round trip copa report --json relies on).
 */
#ifndef COPA_REPORT_FUZZ_H
#define COPA_REPORT_FUZZ_H

#include "report/report.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Parses data as a `scanner` report and checks the native round trip; aborts on a defect. */
static inline int report_fuzz_one(const char *scanner, const uint8_t *data, size_t size)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_update_manifest_list l = {0}, l2 = {0};
	struct copa_buf a = COPA_BUF_INIT, b = COPA_BUF_INIT;

	if (copa_report_parse(scanner, data, size, "fuzz", &l, &err) < 0) {
		if (!err.msg[0] || strchr(err.msg, '\n'))
			abort(); /* every failure says why, in one line */
		goto out;
	}
	if (copa_report_write_native((const struct copa_update_manifest *const *)l.v, l.n, true, &a,
	                             &err) < 0)
		goto out;
	if (copa_report_parse("native", a.p, a.len, "fuzz-native", &l2, &err) < 0 ||
	    copa_report_write_native((const struct copa_update_manifest *const *)l2.v, l2.n, true,
	                             &b, &err) < 0 ||
	    a.len != b.len || memcmp(a.p, b.p, a.len) != 0)
		abort(); /* the native round trip must be lossless */
out:
	copa_buf_release(&a);
	copa_buf_release(&b);
	copa_update_manifest_list_release(&l);
	copa_update_manifest_list_release(&l2);
	return 0;
}

#endif
