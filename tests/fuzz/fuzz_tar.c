/*
 * Fuzz target: layer tar headers. The input is one layer blob (tar, or tar
 * compressed with gzip or zstd, detected by content) read into a merged view
 * exactly as an image layer is, then every file is read back on demand.
 */
#include "layer/layer.h"

#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct files {
	struct copa_view *v;
	const char *paths[64];
	size_t n;
};

/* Reads every file one by one, and remembers the first ones for a batch read. */
static int read_file(void *ctx, const struct copa_view_entry *e)
{
	struct files *f = ctx;
	struct copa_buf b = COPA_BUF_INIT;
	struct copa_err err = COPA_ERR_INIT;

	if (e->type == COPA_FT_REG || e->type == COPA_FT_HARDLINK || e->type == COPA_FT_SYMLINK) {
		(void)copa_view_read(f->v, e->path, 1u << 20, &b, &err);
		if (f->n < 64)
			f->paths[f->n++] = e->path;
	}
	copa_buf_release(&b);
	return 0;
}

static int ignore(void *ctx, size_t i, const void *data, size_t len)
{
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_image_fs_opts o = {
	    .max_entries = 20000, .max_layer_bytes = 64u << 20, .inline_max = 4096};
	struct copa_layer_blob l = {0};
	struct copa_image_fs *fs;
	char path[64];
	int fd = memfd_create("fuzz-layer", MFD_CLOEXEC);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	l.path = path;
	l.size = size;
	fs = copa_image_fs_open(&l, 1, &o, &err);
	if (fs) {
		struct files f = {.v = copa_image_fs_view(fs)};

		copa_view_walk(f.v, "", read_file, &f);
		(void)copa_image_fs_read_batch(fs, f.paths, f.n, 1u << 20, ignore, NULL, &err);
		copa_image_fs_free(fs);
	}
	close(fd);
	return 0;
}
