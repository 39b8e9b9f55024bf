/*
 * test_apkfile.c: reading and verifying v2 .apk packages
 * (src/pkg/apk/apkfile.h): Alpine's real signed alpine-baselayout package
 * with Alpine's keys (shared test data), tampered copies of it, and packages
 * the test builds and signs itself (modern with datahash, legacy without,
 * a file that does not match its PAX checksum, an unsafe path), and data
 * tars with extended attributes (SCHILY.xattr.*) and device nodes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "pkg/apk/apkfile.h"
#include "pkg/apk/apkinst.h"
#include "util/hash.h"
#include "testutil.h"
#include "apkutil.h"

#define PKG "alpine/packages/alpine-baselayout-3.2.0-r23.aarch64.apk"
/* Q1 + base64(sha1(compressed control member)), computed independently with python's hashlib */
#define PKG_CSUM "Q1LLq2qDNrS/qRnhxQ3hsY/sHbQnc="

static struct copa_apk_keys *alpine_keys(void)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_apk_keys *k = copa_apk_keys_new();
	char *dir = copa_test_shared_path("alpine/keys");

	assert_ok(copa_apk_keys_add_dir(k, AT_FDCWD, dir, &err));
	free(dir);
	return k;
}

static const struct copa_apkfile_entry *entry(const struct copa_apkfile *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->entries[i].name, name) == 0)
			return &f->entries[i];
	return NULL;
}

static void real_package(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_apk_keys *k = alpine_keys();
	struct copa_buf b = COPA_BUF_INIT;
	struct copa_apkfile f;
	const struct copa_apkfile_entry *e;
	char want[32], hex[COPA_HASH_HEX_MAX];

	apk_read_shared(PKG, &b);
	copa_apkfile_init(&f);
	assert_ok(
	    copa_apkfile_read(&f, b.p, b.len, k, PKG_CSUM, "package 'alpine-baselayout'", &err));
	assert_string_equal(f.signed_by, "alpine-devel@lists.alpinelinux.org-616ae350.rsa.pub");
	assert_string_equal(f.csum, PKG_CSUM);
	assert_string_equal(f.pkg.name, "alpine-baselayout");
	assert_string_equal(f.pkg.version, "3.2.0-r23");
	assert_string_equal(f.pkg.arch, "aarch64");
	assert_int_equal(f.pkg.installed_size, 339968);
	assert_int_equal(f.pkg.build_time, 1662926906);
	assert_string_equal(f.datahash,
	                    "1a3a8e47d2287da6d505d973412cee1ad64bcc17bc5995069e4e932055ecb0c4");
	/* depend lines are joined in file order */
	assert_int_equal(f.pkg.depends.n, 3);
	assert_string_equal(f.pkg.depends.v[0].name, "alpine-baselayout-data");
	assert_string_equal(f.pkg.depends.v[1].name, "/bin/sh");
	assert_string_equal(f.pkg.depends.v[2].name, "so:libc.musl-aarch64.so.1");
	assert_int_equal(f.pkg.provides.n, 1);
	assert_int_equal(f.nscripts, 4);
	assert_string_equal(f.scripts[0].name, ".pre-install");
	assert_int_equal(f.n, 83);
	e = entry(&f, "etc/motd");
	assert_non_null(e);
	assert_int_equal(e->type, '0');
	assert_int_equal(e->data.n, 283);
	copa_hash_hex(COPA_HASH_SHA1, e->data.p, e->data.n, hex);
	assert_string_equal(hex, "5e676e555354447436ed3bd8a752ebe5332d15c0");
	assert_true(copa_apk_csum_valid(e->csum));
	e = entry(&f, "var/run");
	assert_int_equal(e->type, '2');
	assert_string_equal(e->linkname, "/run");
	copa_hash_hex(COPA_HASH_SHA1, "/run", 4, hex);
	assert_string_equal(hex, "d7f48d673ffc70ad9d48a2be709a55ad922e1784");
	e = entry(&f, "sbin/mkmntdirs");
	assert_int_equal(e->mode, 0755);
	(void)want;
	copa_apkfile_release(&f);

	/* without an index checksum the chain still starts at the signature */
	copa_apkfile_init(&f);
	assert_ok(copa_apkfile_read(&f, b.p, b.len, k, NULL, "pkg", &err));
	copa_apkfile_release(&f);
	copa_buf_release(&b);
	copa_apk_keys_free(k);
}

static void refused(const struct copa_buf *b, const struct copa_apk_keys *k, const char *csum,
                    const char *why)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_apkfile f;

	copa_apkfile_init(&f);
	assert_int_equal(copa_apkfile_read(&f, b->p, b->len, k, csum, "package 'x-1.0-r0'", &err),
	                 -1);
	print_message("refused: %s\n", err.msg);
	if (!strstr(err.msg, why) || !strstr(err.msg, "package 'x-1.0-r0'"))
		fail_msg("'%s' lacks '%s'", err.msg, why);
	assert_int_equal(f.n, 0);
	copa_apkfile_release(&f);
}

static void real_tampered(void **state)
{
	struct copa_apk_keys *k = alpine_keys();
	struct copa_buf b = COPA_BUF_INIT, c = COPA_BUF_INIT;

	apk_read_shared(PKG, &b);
	/* not the package the index names */
	refused(&b, k, "Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "does not match the index's Q1AAAA");
	/* a byte of the compressed control changed: the signature fails first */
	copa_buf_add(&c, b.p, b.len);
	c.p[666 + 700] ^= 0x10;
	refused(&c, k, PKG_CSUM, "control segment: corrupt gzip stream");
	/* the control member's gzip mtime changed: still valid gzip, but not what was signed */
	copa_buf_reset(&c);
	copa_buf_add(&c, b.p, b.len);
	c.p[666 + 4] ^= 0x01;
	refused(&c, k, PKG_CSUM,
	        "bad signature by key 'alpine-devel@lists.alpinelinux.org-616ae350");
	/* a byte of the data changed: datahash */
	copa_buf_reset(&c);
	copa_buf_add(&c, b.p, b.len);
	c.p[2229 + 4000] ^= 0x01;
	refused(&c, k, PKG_CSUM, "does not match .PKGINFO's datahash");
	/* without Alpine's keys */
	{
		struct copa_apk_keys *none = copa_apk_keys_new();

		refused(&b, none, PKG_CSUM,
		        "unknown key 'alpine-devel@lists.alpinelinux.org-616ae350");
		copa_apk_keys_free(none);
	}
	/* the signature segment dropped */
	copa_buf_reset(&c);
	copa_buf_add(&c, b.p + 666, b.len - 666);
	refused(&c, k, NULL, "not signed (its first gzip stream holds '.PKGINFO'");
	copa_buf_release(&c);
	copa_buf_release(&b);
	copa_apk_keys_free(k);
}

struct built {
	struct copa_buf file;
	char csum[32];
};

/* Builds a signed package; `lie` makes one file's content differ from its PAX checksum. */
static void build(EVP_PKEY *key, bool legacy, bool lie, const char *path, struct built *out)
{
	struct copa_buf ctl = COPA_BUF_INIT, ctlgz = COPA_BUF_INIT, dat = COPA_BUF_INIT,
	                datgz = COPA_BUF_INIT, info = COPA_BUF_INIT, signed_bytes = COPA_BUF_INIT;
	char hex[COPA_HASH_HEX_MAX], lhex[COPA_HASH_HEX_MAX];
	static const char content[] = "hello, world\n";
	unsigned char sha1[64];
	struct copa_hash h;

	copa_hash_hex(COPA_HASH_SHA1, content, sizeof(content) - 1, hex);
	apk_tar_entry(&dat, "usr", '5', "", 0, NULL);
	apk_tar_entry(&dat, path, '0', lie ? "hello, World\n" : content, sizeof(content) - 1, hex);
	apk_tar_end(&dat);
	apk_gzip(dat.p, dat.len, &datgz);
	copa_hash_hex(COPA_HASH_SHA256, datgz.p, datgz.len, lhex);
	copa_buf_addf(&info, "# Generated by a test\npkgname = x\npkgver = 1.0-r0\narch = x86_64\n"
	                     "size = 13\ndepend = so:libc.musl-x86_64.so.1\ndepend = y>=2\n"
	                     "provides = cmd:x=1.0-r0\ntriggers = /usr/lib/x/*\n");
	if (!legacy)
		copa_buf_addf(&info, "datahash = %s\n", lhex);
	apk_tar_entry(&ctl, ".PKGINFO", '0', info.p, info.len, NULL);
	apk_tar_entry(&ctl, ".post-install", '0', "#!/bin/sh\n", 10, NULL);
	apk_gzip(ctl.p, ctl.len, &ctlgz); /* cut: no end blocks */
	copa_buf_add(&signed_bytes, ctlgz.p, ctlgz.len);
	if (legacy)
		copa_buf_add(&signed_bytes, datgz.p, datgz.len);
	apk_sign_segment(key, EVP_sha1(), ".SIGN.RSA.test.rsa.pub", signed_bytes.p,
	                 signed_bytes.len, &out->file);
	copa_buf_add(&out->file, ctlgz.p, ctlgz.len);
	copa_buf_add(&out->file, datgz.p, datgz.len);
	copa_hash_init(&h, COPA_HASH_SHA1);
	copa_hash_update(&h, signed_bytes.p, signed_bytes.len);
	copa_hash_final_raw(&h, sha1);
	copa_apk_csum_format(sha1, out->csum);
	copa_buf_release(&ctl);
	copa_buf_release(&ctlgz);
	copa_buf_release(&dat);
	copa_buf_release(&datgz);
	copa_buf_release(&info);
	copa_buf_release(&signed_bytes);
}

static void own_packages(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf pem = COPA_BUF_INIT;
	EVP_PKEY *key = apk_test_key(&pem);
	struct copa_apk_keys *k = copa_apk_keys_new();

	assert_ok(copa_apk_keys_add_pem(k, "test.rsa.pub", pem.p, pem.len, &err));
	for (int legacy = 0; legacy < 2; legacy++) {
		struct built b = {COPA_BUF_INIT, ""};
		struct copa_apkfile f;

		build(key, legacy, false, "usr/x", &b);
		copa_apkfile_init(&f);
		assert_ok(copa_apkfile_read(&f, b.file.p, b.file.len, k, b.csum, "own", &err));
		assert_int_equal(f.datahash == NULL, legacy);
		assert_int_equal(f.n, 2);
		assert_string_equal(f.triggers, "/usr/lib/x/*");
		assert_int_equal(f.pkg.depends.n, 2);
		assert_string_equal(f.scripts[0].name, ".post-install");
		assert_memory_equal(f.entries[1].data.p, "hello, world\n", 13);
		/* its installed-database record (apk_install_reference.py checks it against apk) */
		{
			struct copa_apkdb db;
			struct copa_apkdb_pkg *rec;
			struct copa_buf text = COPA_BUF_INIT;
			unsigned char sha1[64];
			struct copa_hash h;
			char z[32], *want;

			copa_apkdb_init(&db);
			assert_ok(copa_apkinst_record(&db, &f, b.file.len, &rec, &err));
			copa_apkdb_pkg_write(rec, &text);
			copa_hash_init(&h, COPA_HASH_SHA1);
			copa_hash_update(&h, "hello, world\n", 13);
			copa_hash_final_raw(&h, sha1);
			copa_apk_csum_format(sha1, z);
			want = copa_xasprintf(
			    "C:%s\nP:x\nV:1.0-r0\nA:x86_64\nS:%zu\nI:13\nT:\nU:\nL:\n"
			    "D:so:libc.musl-x86_64.so.1 y>=2\np:cmd:x=1.0-r0\n"
			    "F:usr\nR:x\nZ:%s\n\n",
			    b.csum, b.file.len, z);
			assert_string_equal(text.p, want);
			free(want);
			copa_buf_release(&text);
			copa_apkdb_release(&db);
		}
		copa_apkfile_release(&f);
		copa_buf_release(&b.file);

		/* a file whose content is not its checksum, everything else signed right */
		build(key, legacy, true, "usr/x", &b);
		refused(&b.file, k, b.csum, "'usr/x' does not match its checksum");
		copa_buf_release(&b.file);
		/* a path out of the root */
		build(key, legacy, false, "../../etc/passwd", &b);
		refused(&b.file, k, b.csum, "unsafe path '../../etc/passwd'");
		copa_buf_release(&b.file);
	}
	copa_apk_keys_free(k);
	EVP_PKEY_free(key);
	copa_buf_release(&pem);
}

/* Appends one PAX record "LEN KEY=VALUE\n" (value raw bytes) to b. */
static void pax_rec(struct copa_buf *b, const char *key, const void *value, size_t vlen)
{
	size_t n = strlen(key) + vlen + 2, total = n + 2;
	char num[24];

	while ((size_t)snprintf(num, sizeof(num), "%zu ", total) + n != total)
		total = (size_t)snprintf(num, sizeof(num), "%zu ", total) + n;
	copa_buf_addf(b, "%s%s=", num, key);
	copa_buf_add(b, value, vlen);
	copa_buf_addc(b, '\n');
}

/* A ustar header (via apk_tar_entry) whose devmajor/devminor are set. */
static void dev_entry(struct copa_buf *tar, const char *name, char type, unsigned ma, unsigned mi)
{
	size_t at = tar->len;
	unsigned char *h;
	unsigned sum = 0;

	apk_tar_entry(tar, name, type, "", 0, NULL);
	h = (unsigned char *)tar->p + at;
	snprintf((char *)h + 329, 8, "%07o", ma);
	snprintf((char *)h + 337, 8, "%07o", mi);
	memset(h + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
}

/* cap_net_bind_service, effective: VFS_CAP_REVISION_2 little-endian */
static const unsigned char cap[20] = {0x01, 0, 0, 0x02, 0x00, 0x04};
/*
 * apk's xattr checksum of {user.copa: "a\0b\nc", security.capability: cap,
 * user.empty: ""}, computed independently with python's hashlib
 */
#define XATTR_CSUM "Q10i05HzBZHWwo8DyzhTqOp4BqkxU="

/* Reads tar as a data segment; 0 or -1 with err. */
static int read_data(struct copa_apkfile *f, const struct copa_buf *tar, struct copa_err *err)
{
	copa_apkfile_init(f);
	copa_buf_add(&f->data_tar, tar->p, tar->len);
	return copa_apkfile_data(f, err);
}

static void xattrs_and_devices(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf tar = COPA_BUF_INIT, pax = COPA_BUF_INIT, text = COPA_BUF_INIT;
	char hex[COPA_HASH_HEX_MAX];
	struct copa_apkfile f;
	const struct copa_apkfile_entry *e;

	copa_hash_hex(COPA_HASH_SHA1, "x", 1, hex);
	apk_tar_entry(&tar, "usr", '5', "", 0, NULL);
	/* out of order, a binary value with NUL and newline, an empty value */
	pax_rec(&pax, "SCHILY.xattr.user.copa", "a\0b\nc", 5);
	pax_rec(&pax, "SCHILY.xattr.security.capability", cap, sizeof(cap));
	pax_rec(&pax, "SCHILY.xattr.user.empty", "", 0);
	pax_rec(&pax, "APK-TOOLS.checksum.SHA1", hex, 40);
	apk_tar_entry(&tar, "PaxHeader", 'x', pax.p, pax.len, NULL);
	apk_tar_entry(&tar, "usr/x", '0', "x", 1, NULL);
	dev_entry(&tar, "usr/null", '3', 1, 3);
	dev_entry(&tar, "usr/sda", '4', 8, 0);
	apk_tar_end(&tar);
	assert_ok(read_data(&f, &tar, &err));
	assert_int_equal(f.n, 4);
	e = entry(&f, "usr/x");
	assert_int_equal(e->n_xattrs, 3);
	/* sorted by name, as apk hashes them */
	assert_string_equal(e->xattrs[0].name, "security.capability");
	assert_int_equal(e->xattrs[0].len, sizeof(cap));
	assert_memory_equal(e->xattrs[0].value, cap, sizeof(cap));
	assert_string_equal(e->xattrs[1].name, "user.copa");
	assert_int_equal(e->xattrs[1].len, 5);
	assert_memory_equal(e->xattrs[1].value, "a\0b\nc", 5);
	assert_string_equal(e->xattrs[2].name, "user.empty");
	assert_int_equal(e->xattrs[2].len, 0);
	assert_string_equal(e->xattr_csum, XATTR_CSUM);
	assert_true(copa_apk_csum_valid(e->csum));
	/* the attributes belong to that entry only */
	e = entry(&f, "usr/null");
	assert_int_equal(e->type, '3');
	assert_int_equal(e->devmajor, 1);
	assert_int_equal(e->devminor, 3);
	assert_int_equal(e->n_xattrs, 0);
	assert_string_equal(e->xattr_csum, "");
	e = entry(&f, "usr/sda");
	assert_int_equal(e->type, '4');
	assert_int_equal(e->devmajor, 8);
	assert_int_equal(e->devminor, 0);
	assert_int_equal(entry(&f, "usr")->n_xattrs, 0);
	/* the record carries the checksum as a:'s 4th field (apk_install_reference.py checks apk)
	 */
	{
		struct copa_apkdb db;
		struct copa_apkdb_pkg *rec;

		f.pkg.name = "x";
		f.pkg.version = "1.0-r0";
		copa_apkdb_init(&db);
		assert_ok(copa_apkinst_record(&db, &f, 1, &rec, &err));
		copa_apkdb_pkg_write(rec, &text);
		if (!strstr(text.p, "R:x\na:0:0:644:" XATTR_CSUM "\nZ:") ||
		    !strstr(text.p, "R:null\nR:sda\n"))
			fail_msg("record:\n%s", text.p);
		copa_apkdb_release(&db);
	}
	copa_apkfile_release(&f);
	copa_buf_release(&text);
	copa_buf_release(&tar);
	copa_buf_release(&pax);
}

/* A data tar whose one file has the PAX records `pax`; must be refused with `why`. */
static void xattr_refused(const struct copa_buf *pax, int code, const char *why)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf tar = COPA_BUF_INIT;
	struct copa_apkfile f;

	apk_tar_entry(&tar, "PaxHeader", 'x', pax->p, pax->len, NULL);
	apk_tar_entry(&tar, "x", '0', "", 0, NULL);
	apk_tar_end(&tar);
	assert_int_equal(read_data(&f, &tar, &err), -1);
	print_message("refused: %s\n", err.msg);
	assert_int_equal(err.code, code);
	if (!strstr(err.msg, why))
		fail_msg("'%s' lacks '%s'", err.msg, why);
	copa_apkfile_release(&f);
	copa_buf_release(&tar);
}

static void xattrs_bounded(void **state)
{
	struct copa_buf pax = COPA_BUF_INIT;
	char name[64], *big = copa_xcalloc(1, COPA_APK_TAR_XATTR_VALUE_MAX + 1);

	for (int i = 0; i <= COPA_APK_TAR_XATTRS_MAX; i++) {
		snprintf(name, sizeof(name), "SCHILY.xattr.user.a%d", i);
		pax_rec(&pax, name, "v", 1);
	}
	xattr_refused(&pax, COPA_E_LIMIT, "more than 64 extended attributes");
	copa_buf_reset(&pax);
	pax_rec(&pax, "SCHILY.xattr.user.a", "1", 1);
	pax_rec(&pax, "SCHILY.xattr.user.a", "2", 1);
	xattr_refused(&pax, COPA_E_INPUT, "'user.a' given twice");
	copa_buf_reset(&pax);
	pax_rec(&pax, "SCHILY.xattr.user.big", big, COPA_APK_TAR_XATTR_VALUE_MAX + 1);
	xattr_refused(&pax, COPA_E_LIMIT, "'user.big' larger than 65536 bytes");
	copa_buf_reset(&pax);
	memset(big, 'n', 300);
	big[300] = '\0';
	{
		char *key = copa_xasprintf("SCHILY.xattr.%s", big);

		pax_rec(&pax, key, "v", 1);
		free(key);
	}
	xattr_refused(&pax, COPA_E_INPUT, "bad extended attribute name");
	/* exactly at the caps is fine */
	{
		struct copa_err err = COPA_ERR_INIT;
		struct copa_buf tar = COPA_BUF_INIT;
		struct copa_apkfile f;

		copa_buf_reset(&pax);
		for (int i = 0; i < COPA_APK_TAR_XATTRS_MAX; i++) {
			snprintf(name, sizeof(name), "SCHILY.xattr.user.a%d", i);
			pax_rec(&pax, name, "v", 1);
		}
		memset(big, 'v', COPA_APK_TAR_XATTR_VALUE_MAX);
		apk_tar_entry(&tar, "PaxHeader", 'x', pax.p, pax.len, NULL);
		apk_tar_entry(&tar, "x", '6', "", 0, NULL);
		copa_buf_reset(&pax);
		pax_rec(&pax, "SCHILY.xattr.user.big", big, COPA_APK_TAR_XATTR_VALUE_MAX);
		apk_tar_entry(&tar, "PaxHeader", 'x', pax.p, pax.len, NULL);
		apk_tar_entry(&tar, "y", '6', "", 0, NULL);
		apk_tar_end(&tar);
		assert_ok(read_data(&f, &tar, &err));
		assert_int_equal(f.entries[0].n_xattrs, COPA_APK_TAR_XATTRS_MAX);
		assert_int_equal(f.entries[1].xattrs[0].len, COPA_APK_TAR_XATTR_VALUE_MAX);
		copa_apkfile_release(&f);
		copa_buf_release(&tar);
	}
	free(big);
	copa_buf_release(&pax);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(real_package),   cmocka_unit_test(real_tampered),
	    cmocka_unit_test(own_packages),   cmocka_unit_test(xattrs_and_devices),
	    cmocka_unit_test(xattrs_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
