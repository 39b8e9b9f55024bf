/*
 * Fuzz target: the small dpkg database files (src/pkg/deb/dpkgdb.h):
 * diversions, statoverride, the Conffiles field, a package's conffiles
 * control file, .md5sums and .list files, versions and dependency fields.
 * Every parser sees every input.
 */
#include "pkg/deb/dpkgdb.h"

#include "util/mem.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int lookup(void *ctx, bool group, const char *name, uint32_t *id)
{
	*id = (uint32_t)strlen(name);
	return name[0] == 'x' ? -1 : 0;
}

static int on_path(void *ctx, struct copa_blob p)
{
	return 0;
}

static int on_md5(void *ctx, struct copa_blob md5, struct copa_blob p)
{
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct copa_err err = COPA_ERR_INIT;
	const char *text = (const char *)data;
	struct copa_dpkgdb *db = copa_dpkgdb_new(COPA_DPKGDB_STATUS, NULL);
	struct copa_dpkg_conffile *c = NULL;
	struct copa_dpkg_ctl_conffile *cc = NULL;
	struct copa_buf out = COPA_BUF_INIT;
	size_t n = 0;

	if (copa_dpkgdb_parse_diversions(db, text, size, &err) == 0 && db->n_divs)
		(void)copa_dpkgdb_divert(db, db->divs[0].from, "x");
	copa_dpkgdb_parse_statoverride(db, text, size, lookup, NULL, &err);
	copa_dpkgdb_free(db);
	if (copa_dpkg_conffiles_parse(copa_blob(text, size), &c, &n, &err) == 0)
		copa_dpkg_conffiles_free(c, n);
	if (copa_dpkg_ctl_conffiles_parse(text, size, &cc, &n, &err) == 0)
		copa_dpkg_ctl_conffiles_free(cc, n);
	copa_dpkg_md5sums_foreach(text, size, "fuzz", on_md5, NULL, &err);
	copa_dpkg_list_foreach(text, size, on_path, NULL);
	copa_dpkg_dep_normalize("Depends", copa_blob(text, size), &out, &err);
	copa_buf_reset(&out);
	copa_dpkg_dep_normalize("Conflicts", copa_blob(text, size), &out, &err);
	copa_buf_reset(&out);
	copa_dpkg_version_normalize(copa_blob(text, size), &out, &err);
	copa_buf_release(&out);
	return 0;
}
