/*
 * pm.c: the rpm family behind pkg/pm.h. Detects an rpm-based image (an rpm
 * database, or the distroless rpm manifest) so that `copa inspect` describes
 * it and `copa patch` says it cannot patch it yet; open is not implemented.
 */
#include "pkg/pm.h"

#include "util/blob.h"
#include "util/buf.h"
#include "util/mem.h"

#include <string.h>

#define RPM_MANIFEST_MAX (256 * 1024 * 1024)

static int rpm_detect(struct copa_view *v, struct copa_pm_info *info, struct copa_err *err)
{
	static const char *const dbs[] = {"var/lib/rpm/rpmdb.sqlite",
	                                  "usr/lib/sysimage/rpm/rpmdb.sqlite",
	                                  "var/lib/rpm/Packages",
	                                  "var/lib/rpm/Packages.db",
	                                  "usr/lib/sysimage/rpm/Packages.db",
	                                  "var/lib/rpmmanifest/container-manifest-2",
	                                  NULL};
	static const char *const bins[] = {
	    "usr/bin/rpm",  "usr/bin/dnf", "usr/bin/yum", "usr/bin/microdnf",
	    "usr/bin/tdnf", "bin/rpm",     NULL};

	for (const char *const *db = dbs; *db; db++) {
		if (!copa_pm_has_file(v, *db))
			continue;
		info->db_path = copa_xstrdup(*db);
		info->distroless = copa_pm_distroless(v, bins);
		info->n_packages = -1;
		if (strstr(*db, "rpmmanifest")) {
			struct copa_buf b = COPA_BUF_INIT;
			struct copa_blob rest, line;

			if (copa_view_read(v, *db, RPM_MANIFEST_MAX, &b, err) < 0) {
				copa_buf_release(&b);
				return copa_err_wrap(err, "rpm manifest");
			}
			info->n_packages = 0;
			rest = copa_blob(b.p, b.len);
			while (copa_blob_split(&rest, '\n', &line))
				if (copa_blob_trim(line).n)
					info->n_packages++;
			copa_buf_release(&b);
		}
		return 1;
	}
	return 0;
}

const struct copa_pm_ops copa_pm_rpm_ops = {
    .fam = COPA_FAM_RPM,
    .name = "rpm",
    .pkg_suffix = ".rpm",
    .detect = rpm_detect,
};
