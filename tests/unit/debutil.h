/*
 * debutil.h: building .deb files in memory for the Debian applier's unit
 * tests (libarchive writes the tars; the ar container is assembled here so
 * tests can break its rules on purpose).
 */
#ifndef COPA_TEST_DEBUTIL_H
#define COPA_TEST_DEBUTIL_H

#include "layer/view.h"
#include "util/buf.h"
#include "util/mem.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* One tar entry: type 'f' file, 'd' dir, 'l' symlink, 'h' hard link. */
struct tentry {
	const char *name;
	char type;
	const char *data; /* file content, or link target */
	unsigned mode;    /* 0: 0644 / 0755 */
};

static inline void tar_build(struct copa_buf *out, const struct tentry *e, int gzip)
{
	struct archive *a = archive_write_new();
	static char mem[4 << 20];
	size_t used = 0;

	archive_write_set_format_gnutar(a);
	if (gzip)
		archive_write_add_filter_gzip(a);
	archive_write_set_bytes_in_last_block(a, 1);
	if (archive_write_open_memory(a, mem, sizeof(mem), &used) != ARCHIVE_OK)
		abort();
	for (; e && e->name; e++) {
		struct archive_entry *ae = archive_entry_new();
		size_t n = e->type == 'f' && e->data ? strlen(e->data) : 0;

		archive_entry_set_pathname(ae, e->name);
		archive_entry_set_mtime(ae, 1700000000, 0);
		archive_entry_set_uname(ae, "root");
		archive_entry_set_gname(ae, "root");
		switch (e->type) {
		case 'd':
			archive_entry_set_filetype(ae, AE_IFDIR);
			archive_entry_set_perm(ae, e->mode ? e->mode : 0755);
			break;
		case 'l':
			archive_entry_set_filetype(ae, AE_IFLNK);
			archive_entry_set_perm(ae, 0777);
			archive_entry_set_symlink(ae, e->data);
			break;
		case 'h':
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_perm(ae, e->mode ? e->mode : 0644);
			archive_entry_set_hardlink(ae, e->data);
			break;
		default:
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_perm(ae, e->mode ? e->mode : 0644);
			archive_entry_set_size(ae, (la_int64_t)n);
		}
		if (archive_write_header(a, ae) != ARCHIVE_OK)
			abort();
		if (n && archive_write_data(a, e->data, n) != (la_ssize_t)n)
			abort();
		archive_entry_free(ae);
	}
	archive_write_close(a);
	archive_write_free(a);
	copa_buf_reset(out);
	copa_buf_add(out, mem, used);
}

static inline void ar_member(struct copa_buf *out, const char *name, const void *data, size_t n)
{
	char hdr[96];

	snprintf(hdr, sizeof(hdr), "%-16s%-12s%-6s%-6s%-8s%-10zu`\n", name, "0", "0", "0", "100644",
	         n);
	copa_buf_add(out, hdr, 60);
	copa_buf_add(out, data, n);
	if (n % 2)
		copa_buf_addc(out, '\n');
}

/* A .deb with the given control files and data entries (gzip tars). */
static inline void deb_build(struct copa_buf *out, const struct tentry *control,
                             const struct tentry *data)
{
	struct copa_buf c = COPA_BUF_INIT, d = COPA_BUF_INIT;

	tar_build(&c, control, 1);
	tar_build(&d, data, 1);
	copa_buf_reset(out);
	copa_buf_adds(out, "!<arch>\n");
	ar_member(out, "debian-binary", "2.0\n", 4);
	ar_member(out, "control.tar.gz", c.p, c.len);
	ar_member(out, "data.tar.gz", d.p, d.len);
	copa_buf_release(&c);
	copa_buf_release(&d);
}

/* Writes buf to a new temporary file; returns its malloc'd path. */
static inline char *write_temp(const struct copa_buf *b, const char *suffix)
{
	char *path = copa_xasprintf("%s/copa-unit-XXXXXX%s",
	                            getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", suffix);
	int fd = mkstemps(path, (int)strlen(suffix));
	FILE *f;

	if (fd < 0)
		abort();
	f = fdopen(fd, "wb");
	if (fwrite(b->p, 1, b->len, f) != b->len)
		abort();
	fclose(f);
	return path;
}

/* Puts a file with inline content into a view. */
static inline void view_file(struct copa_view *v, const char *path, const char *content,
                             unsigned mode)
{
	struct copa_view_entry e = {0};
	struct copa_err err = COPA_ERR_INIT;

	e.path = path;
	e.type = COPA_FT_REG;
	e.mode = mode ? mode : 0644;
	e.size = strlen(content);
	e.content = content;
	e.layer = 0;
	if (!copa_view_put(v, &e, &err))
		abort();
}

static inline void view_dir(struct copa_view *v, const char *path)
{
	struct copa_view_entry e = {0};
	struct copa_err err = COPA_ERR_INIT;

	e.path = path;
	e.type = COPA_FT_DIR;
	e.mode = 0755;
	e.layer = 0;
	if (!copa_view_put(v, &e, &err))
		abort();
}

static inline void view_link(struct copa_view *v, const char *path, const char *target)
{
	struct copa_view_entry e = {0};
	struct copa_err err = COPA_ERR_INIT;

	e.path = path;
	e.type = COPA_FT_SYMLINK;
	e.mode = 0777;
	e.link = target;
	e.layer = 0;
	if (!copa_view_put(v, &e, &err))
		abort();
}

#endif
