/*
 * debfile.h: reading a binary package (.deb, deb(5)) with libarchive.
 *
 * Owns the container checks: an `ar` archive whose members come in the
 * order deb(5) prescribes (`debian-binary` "2.x", `control.tar[.gz|.xz|
 * .zst]`, `data.tar[.gz|.xz|.bz2|.lzma|.zst]`; members starting with '_'
 * are skipped, anything after data.tar is ignored), the compression of each
 * tar matching its name, and the caps on member sizes, entry counts, path
 * lengths and decompressed bytes, and the ar headers as dpkg-deb reads them
 * (every member up to data.tar complete, sizes in decimal). The control
 * area is read into memory;
 * data.tar is streamed entry by entry to a callback.
 *
 * Invariant: every data.tar entry handed to the callback has a normalised
 * relative path ("" is the package root) and has passed the hostile-entry
 * checks: no absolute path, no "..", no component starting with ".wh."
 * (it would become a whiteout in a layer), no control characters, no path
 * below a symlink the same package ships, no duplicate, hard links only to
 * an earlier regular file of the package. Errors name the package file and
 * the entry.
 *
 * Callers: the Debian applier (apply.h), tests and the fuzz target. The
 * package file is hostile even after its checksum was verified.
 */
#ifndef COPA_PKG_DEB_DEBFILE_H
#define COPA_PKG_DEB_DEBFILE_H

#include "layer/layer.h"
#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct copa_debfile_limits {
	uint64_t max_member;  /* compressed size of one ar member; 0: 8 GiB */
	uint64_t max_control; /* control.tar, uncompressed; 0: 64 MiB */
	uint64_t max_data;    /* data.tar, uncompressed; 0: 32 GiB */
	uint64_t max_entries; /* data.tar entries; 0: 1,000,000 */
	size_t max_path;      /* path or link target length; 0: 4096 */
	/*
	 * What the package's index declares it installs (Installed-Size, in
	 * bytes; 0: unknown). Bounds data.tar to twice that plus 64 MiB, so a
	 * small package cannot unpack to gigabytes (a decompression bomb).
	 */
	uint64_t installed_size;
	const char *label; /* names the package in errors; NULL: the file name */
};

/* One file of the control area (control.tar), e.g. "control", "postinst". */
struct copa_debfile_ctl {
	char *name; /* base name, "./" stripped */
	char *data; /* NUL-terminated copy of the content */
	size_t size;
	uint32_t mode;
	int64_t mtime;
};

struct copa_debfile {
	char *label;                  /* names the package in errors: the file name */
	char *data_member;            /* "data.tar.xz", ... */
	struct copa_debfile_ctl *ctl; /* sorted by name */
	size_t n_ctl;
	/* private */
	struct copa_debfile_limits lim;
	char *path;     /* NULL when opened from memory */
	char *data_tar; /* the data member decompressed ahead, or NULL */
	const void *mem;
	size_t mem_len;
};

/*
 * Opens a .deb: checks the container and reads the control area. Errors:
 * COPA_E_IO (cannot read the file), COPA_E_INPUT (not a valid package),
 * COPA_E_LIMIT (a cap exceeded). *out is freed with copa_debfile_free.
 */
int copa_debfile_open(const char *path, const struct copa_debfile_limits *lim,
                      struct copa_debfile **out, struct copa_err *err);

/* Like copa_debfile_open on n bytes in memory (kept borrowed); label names it. */
int copa_debfile_open_mem(const void *data, size_t n, const char *label,
                          const struct copa_debfile_limits *lim, struct copa_debfile **out,
                          struct copa_err *err);

void copa_debfile_free(struct copa_debfile *d);

/* A control-area file by name ("control", "conffiles", ...), or NULL. Borrowed. */
const struct copa_debfile_ctl *copa_debfile_ctl(const struct copa_debfile *d, const char *name);

/* One data.tar entry as handed to the callback; pointers valid during the call. */
struct copa_debfile_entry {
	const char *path; /* normalised, relative; "" for the package root "./" */
	uint8_t type;     /* enum copa_ftype */
	uint32_t mode;    /* permission bits incl. setuid/setgid/sticky */
	uint32_t uid, gid;
	const char *uname, *gname; /* owner names from the tar header, or NULL */
	int64_t mtime;
	uint64_t size;    /* regular files */
	const char *link; /* symlink target as stored; hard link target (normalised path) */
	uint32_t rdev_major, rdev_minor;
	const struct copa_layer_xattr *xattrs;
	size_t n_xattrs;
	uint64_t index; /* position in data.tar, from 0 */
};

struct copa_debfile_reader;

/*
 * Reads up to n bytes of the current regular file's content. Returns the
 * count (0 at its end) or -1 with err.
 */
ssize_t copa_debfile_read(struct copa_debfile_reader *r, void *buf, size_t n, struct copa_err *err);

typedef int (*copa_debfile_entry_fn)(void *ctx, const struct copa_debfile_entry *e,
                                     struct copa_debfile_reader *r, struct copa_err *err);

/*
 * Streams data.tar, calling fn for each entry in archive order (content
 * the callback does not read is skipped). Stops at fn's first non-zero
 * return. May be called again: the package is re-read from the start.
 */
int copa_debfile_data_foreach(struct copa_debfile *d, copa_debfile_entry_fn fn, void *ctx,
                              struct copa_err *err);

/*
 * Writes the data member, decompressed, to out_fd (a plain tar), within the
 * limits. With copa_debfile_use_data_tar, later data_foreach calls read that
 * file instead of decompressing the package again: the decompression, the
 * costly part of reading a package, can run ahead on another thread.
 */
int copa_debfile_extract_data(struct copa_debfile *d, int out_fd, struct copa_err *err);

/* Names the package in errors from now on ("libssl3_3.0.13-1_amd64.deb"). */
void copa_debfile_set_label(struct copa_debfile *d, const char *label);

/* Reads data.tar from path (written by copa_debfile_extract_data) from now on. */
void copa_debfile_use_data_tar(struct copa_debfile *d, const char *path);

#endif
