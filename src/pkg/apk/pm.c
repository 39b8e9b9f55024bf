/*
 * pm.c: the apk family behind pkg/pm.h. Detects an Alpine-style image
 * (lib/apk/db/installed) so that `copa inspect` describes it and `copa patch`
 * says it cannot patch it yet; open is not implemented.
 */
#include "pkg/pm.h"

#include "util/blob.h"
#include "util/buf.h"
#include "util/mem.h"

#include <string.h>

#define APK_DB_MAX (256 * 1024 * 1024)

static int apk_detect(struct copa_view *v, struct copa_pm_info *info, struct copa_err *err)
{
	static const char *const dbs[] = {"lib/apk/db/installed", "usr/lib/apk/db/installed", NULL};
	static const char *const bins[] = {"sbin/apk", "usr/sbin/apk", "bin/apk", NULL};
	struct copa_buf b = COPA_BUF_INIT;
	struct copa_blob rest, line;

	for (const char *const *db = dbs; *db; db++) {
		if (!copa_pm_has_file(v, *db))
			continue;
		info->db_path = copa_xstrdup(*db);
		info->distroless = copa_pm_distroless(v, bins);
		if (copa_view_read(v, *db, APK_DB_MAX, &b, err) < 0) {
			copa_buf_release(&b);
			return copa_err_wrap(err, "apk database");
		}
		info->n_packages = 0;
		rest = copa_blob(b.p, b.len);
		while (copa_blob_split(&rest, '\n', &line))
			if (copa_blob_starts(line, "P:"))
				info->n_packages++;
		copa_buf_release(&b);
		return 1;
	}
	return 0;
}

const struct copa_pm_ops copa_pm_apk_ops = {
    .fam = COPA_FAM_APK,
    .name = "apk",
    .pkg_suffix = ".apk",
    .detect = apk_detect,
};
