/*
 * copa-apkrecord KEYDIR PACKAGE.apk: verifies a package against the keys in
 * KEYDIR and prints the installed-database record copa writes for it
 * (src/pkg/apk/apkinst.h), for apk_install_reference.py to compare with the
 * record Alpine's own apk writes when it installs the same file.
 */
#include "pkg/apk/apkinst.h"
#include "util/fs.h"

#include <fcntl.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_apk_keys *keys = copa_apk_keys_new();
	struct copa_buf file = COPA_BUF_INIT, out = COPA_BUF_INIT;
	struct copa_apkfile f;
	struct copa_apkdb db;
	struct copa_apkdb_pkg *p;

	if (argc != 3) {
		fprintf(stderr, "usage: copa-apkrecord KEYDIR PACKAGE.apk\n");
		return 2;
	}
	copa_apkfile_init(&f);
	copa_apkdb_init(&db);
	if (copa_apk_keys_add_dir(keys, AT_FDCWD, argv[1], &err) < 0 ||
	    copa_fs_read_file(AT_FDCWD, argv[2], COPA_APKFILE_MAX_CONTROL * 16, &file, &err) < 0 ||
	    copa_apkfile_read(&f, file.p, file.len, keys, NULL, argv[2], &err) < 0 ||
	    copa_apkinst_record(&db, &f, file.len, &p, &err) < 0) {
		fprintf(stderr, "copa-apkrecord: %s\n", err.msg);
		return 1;
	}
	copa_apkdb_pkg_write(p, &out);
	fwrite(out.p, 1, out.len, stdout);
	copa_apkdb_release(&db);
	copa_apkfile_release(&f);
	copa_apk_keys_free(keys);
	copa_buf_release(&file);
	copa_buf_release(&out);
	return 0;
}
