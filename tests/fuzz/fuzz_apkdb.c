/*
 * Fuzz target: the apk installed database (src/pkg/apk/apkdb.h): parse,
 * write (must be the input byte for byte), regenerate every record from its
 * fields and parse that again (same packages, same directories and files),
 * then replace the first package by its regenerated self and write again.
 */
#include "pkg/apk/apkdb.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_apkdb db, again;
	struct copa_buf out = COPA_BUF_INIT, regen = COPA_BUF_INIT;

	copa_apkdb_init(&db);
	if (copa_apkdb_parse(&db, (const char *)data, size, "fuzz", &err) < 0)
		return 0;
	copa_apkdb_write(&db, &out);
	if (out.len != size || (size && memcmp(out.p, data, size)))
		abort(); /* untouched records are written back byte for byte */
	for (size_t i = 0; i < db.n; i++)
		copa_apkdb_pkg_write(db.pkgs[i], &regen);
	copa_apkdb_init(&again);
	if (copa_apkdb_parse(&again, regen.p, regen.len, "regenerated", &err) < 0 ||
	    again.n != db.n)
		abort(); /* what we write must read back */
	for (size_t i = 0; i < db.n; i++) {
		const struct copa_apkdb_pkg *a = db.pkgs[i], *b = again.pkgs[i];

		if (strcmp(a->pkg.name, b->pkg.name) || strcmp(a->pkg.version, b->pkg.version) ||
		    a->ndirs != b->ndirs)
			abort();
		for (size_t d = 0; d < a->ndirs; d++)
			if (a->dirs[d].n != b->dirs[d].n ||
			    strcmp(a->dirs[d].name, b->dirs[d].name))
				abort();
	}
	if (again.n) {
		struct copa_apkdb_pkg *p = again.pkgs[0];

		if (copa_apkdb_remove(&again, p->pkg.name) != p ||
		    copa_apkdb_put(&again, p) != NULL)
			abort();
		copa_buf_reset(&out);
		copa_apkdb_write(&again, &out);
	}
	copa_apkdb_release(&again);
	copa_apkdb_release(&db);
	copa_buf_release(&out);
	copa_buf_release(&regen);
	return 0;
}
