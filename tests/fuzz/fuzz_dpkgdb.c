/*
 * Fuzz target: the dpkg database model (src/pkg/deb/dpkgdb.h) beyond the
 * generic deb822 parser: a status file (parse, write, re-parse: the write
 * must round-trip), the same bytes as a status.d stanza, and a stanza built
 * from the first paragraph as a package's control file.
 */
#include "pkg/deb/dpkgdb.h"

#include "util/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_dpkgdb *db = copa_dpkgdb_new(COPA_DPKGDB_STATUS, NULL);
	struct copa_buf out = COPA_BUF_INIT, st = COPA_BUF_INIT;
	const char *text = (const char *)data;

	if (copa_dpkgdb_parse_status(db, text, size, "fuzz", &err) == 0) {
		struct copa_dpkgdb *again = copa_dpkgdb_new(COPA_DPKGDB_STATUS, NULL);

		copa_dpkgdb_write_status(db, &out);
		if (copa_dpkgdb_parse_status(again, out.p, out.len, "rewritten", &err) < 0 ||
		    again->n != db->n)
			abort(); /* what we write must read back the same */
		for (size_t i = 0; i < db->n; i++)
			(void)copa_dpkgdb_find(db, db->pkgs[i]->name, db->pkgs[i]->arch,
			                       db->pkgs[i]->multi_arch);
		copa_dpkgdb_free(again);
	}
	copa_dpkgdb_free(db);

	db = copa_dpkgdb_new(COPA_DPKGDB_STATUSD, NULL);
	copa_dpkgdb_add_statusd(db, "fuzz", text, size, &err);
	copa_dpkgdb_free(db);

	{
		struct copa_deb822_parser p;
		struct copa_deb822_para para = {0};

		copa_deb822_init(&p, text, size, "fuzz", false);
		if (copa_deb822_next(&p, &para, &err) == 1) {
			struct copa_dpkg_stanza_in in = {&para, "install ok installed", NULL, 0,
			                                 &para};

			if (copa_dpkg_stanza_build(&in, &st, &err) == 0) {
				struct copa_dpkg_pkg *pkg =
				    copa_dpkg_pkg_parse(st.p, st.len, "built", &err);

				copa_dpkg_pkg_free(pkg);
			}
		}
		copa_deb822_para_release(&para);
	}
	copa_buf_release(&out);
	copa_buf_release(&st);
	return 0;
}
