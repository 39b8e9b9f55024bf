/*
 * copa-mklayer: walks a directory into a layer builder and writes the layer.
 *
 *   copa-mklayer [-c gzip|zstd|none] [-l LEVEL] [-j THREADS] [--root] DIR OUT
 *
 * Metadata (mode, owner, mtime, symlink targets, hard links, device nodes,
 * fifos, xattrs) comes from lstat/llistxattr of the tree; --root records
 * every owner as 0:0. Content is streamed from DIR as the staging directory.
 * Prints one JSON object: digest, diff_id, size, tar_size, entries.
 * A test and benchmark helper, not part of copa.
 */
#include "layer/layer.h"
#include "util/buf.h"
#include "util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

struct inode {
	dev_t dev;
	ino_t ino;
	char *path;
};

struct walk {
	struct copa_layer_builder *b;
	const char *top;
	bool root;
	struct inode *inodes;
	size_t n_inodes, cap_inodes;
	struct copa_err err;
};

static const char *first_link(struct walk *w, const struct stat *st, const char *path)
{
	for (size_t i = 0; i < w->n_inodes; i++)
		if (w->inodes[i].dev == st->st_dev && w->inodes[i].ino == st->st_ino)
			return w->inodes[i].path;
	w->inodes = copa_xgrow(w->inodes, &w->cap_inodes, w->n_inodes + 1, sizeof(*w->inodes));
	w->inodes[w->n_inodes++] = (struct inode){st->st_dev, st->st_ino, copa_xstrdup(path)};
	return NULL;
}

static size_t read_xattrs(const char *full, struct copa_layer_xattr **out, char **names)
{
	ssize_t n = llistxattr(full, NULL, 0);
	size_t count = 0;

	*out = NULL;
	*names = NULL;
	if (n <= 0)
		return 0;
	*names = copa_xmalloc((size_t)n);
	n = llistxattr(full, *names, (size_t)n);
	for (ssize_t off = 0; off < n; off += (ssize_t)strlen(*names + off) + 1) {
		const char *name = *names + off;
		ssize_t len = lgetxattr(full, name, NULL, 0);
		void *val;

		if (len < 0)
			continue;
		val = copa_xmalloc(len ? (size_t)len : 1);
		len = lgetxattr(full, name, val, (size_t)len);
		if (len < 0) {
			free(val);
			continue;
		}
		*out = copa_xrealloc(*out, (count + 1) * sizeof(**out));
		(*out)[count++] = (struct copa_layer_xattr){name, val, (size_t)len};
	}
	return count;
}

static int add_path(struct walk *w, const char *rel, const struct stat *st)
{
	struct copa_layer_entry e = {.path = rel,
	                             .mode = st->st_mode & 07777,
	                             .uid = w->root ? 0 : st->st_uid,
	                             .gid = w->root ? 0 : st->st_gid,
	                             .mtime = st->st_mtim.tv_sec};
	char *full = copa_xasprintf("%s/%s", w->top, rel);
	char target[4096];
	struct copa_layer_xattr *xs = NULL;
	char *names = NULL;
	int r;

	e.n_xattrs = read_xattrs(full, &xs, &names);
	e.xattrs = xs;
	if (S_ISREG(st->st_mode)) {
		const char *first = st->st_nlink > 1 ? first_link(w, st, rel) : NULL;

		if (first) {
			e.type = COPA_FT_HARDLINK;
			e.link = first;
		} else {
			e.type = COPA_FT_REG;
			e.size = (uint64_t)st->st_size;
			e.staged = rel;
		}
	} else if (S_ISDIR(st->st_mode)) {
		e.type = COPA_FT_DIR;
	} else if (S_ISLNK(st->st_mode)) {
		ssize_t n = readlink(full, target, sizeof(target) - 1);

		target[n < 0 ? 0 : n] = '\0';
		e.type = COPA_FT_SYMLINK;
		e.link = target;
	} else if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
		e.type = S_ISCHR(st->st_mode) ? COPA_FT_CHR : COPA_FT_BLK;
		e.rdev_major = major(st->st_rdev);
		e.rdev_minor = minor(st->st_rdev);
	} else if (S_ISFIFO(st->st_mode)) {
		e.type = COPA_FT_FIFO;
	} else {
		free(full);
		return 0; /* sockets cannot be stored */
	}
	r = copa_layer_builder_add(w->b, &e, &w->err);
	for (size_t i = 0; i < e.n_xattrs; i++)
		free((void *)(uintptr_t)xs[i].value);
	free(xs);
	free(names);
	free(full);
	return r;
}

static int walk_dir(struct walk *w, int dfd, const char *rel)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	int r = 0;

	if (!d)
		return copa_err_sys(&w->err, COPA_E_IO, errno, "cannot read '%s'", rel);
	while (r == 0 && (de = readdir(d))) {
		struct stat st;
		char *child;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = copa_err_sys(&w->err, COPA_E_IO, errno, "cannot stat '%s/%s'", rel,
			                 de->d_name);
			break;
		}
		child = *rel ? copa_xasprintf("%s/%s", rel, de->d_name) : copa_xstrdup(de->d_name);
		r = add_path(w, child, &st);
		if (r == 0 && S_ISDIR(st.st_mode)) {
			int cfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);

			r = cfd < 0
			        ? copa_err_sys(&w->err, COPA_E_IO, errno, "cannot open '%s'", child)
			        : walk_dir(w, cfd, child);
		}
		free(child);
	}
	closedir(d);
	return r;
}

static void usage(void)
{
	fprintf(stderr, "usage: copa-mklayer [-c gzip|zstd|none] [-l LEVEL] [-j THREADS] [--root] "
	                "DIR OUT\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {{"root", no_argument, NULL, 'R'}, {0}};
	struct copa_layer_write_opts o = {.compression = COPA_COMPRESS_GZIP};
	struct copa_layer_result res;
	struct walk w = {.err = COPA_ERR_INIT};
	int c, dfd, rfd, outfd, rc = 1;

	while ((c = getopt_long(argc, argv, "c:l:j:", lopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (!strcmp(optarg, "gzip"))
				o.compression = COPA_COMPRESS_GZIP;
			else if (!strcmp(optarg, "zstd"))
				o.compression = COPA_COMPRESS_ZSTD;
			else if (!strcmp(optarg, "none"))
				o.compression = COPA_COMPRESS_NONE;
			else
				usage();
			break;
		case 'l':
			o.level = (int)strtol(optarg, NULL, 10);
			break;
		case 'j':
			o.threads = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'R':
			w.root = true;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 2)
		usage();
	w.top = argv[optind];
	dfd = open(w.top, O_RDONLY | O_DIRECTORY);
	rfd = dfd < 0 ? -1 : dup(dfd);
	if (dfd < 0 || rfd < 0) {
		fprintf(stderr, "copa-mklayer: cannot open '%s': %s\n", w.top, strerror(errno));
		return 1;
	}
	w.b = copa_layer_builder_new(rfd);
	if (walk_dir(&w, dfd, "") < 0) {
		fprintf(stderr, "copa-mklayer: %s\n", w.err.msg);
		goto out;
	}
	outfd = open(argv[optind + 1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (outfd < 0) {
		fprintf(stderr, "copa-mklayer: cannot create '%s': %s\n", argv[optind + 1],
		        strerror(errno));
		goto out;
	}
	o.out_fd = outfd;
	if (copa_layer_builder_write(w.b, &o, &res, &w.err) < 0) {
		fprintf(stderr, "copa-mklayer: %s\n", w.err.msg);
		close(outfd);
		unlink(argv[optind + 1]);
		goto out;
	}
	if (close(outfd) < 0) {
		fprintf(stderr, "copa-mklayer: cannot write '%s': %s\n", argv[optind + 1],
		        strerror(errno));
		goto out;
	}
	printf("{\"digest\": \"%s\", \"diff_id\": \"%s\", \"size\": %llu, \"tar_size\": %llu, "
	       "\"entries\": %zu, \"media_type\": \"%s\"}\n",
	       res.digest, res.diff_id, (unsigned long long)res.size,
	       (unsigned long long)res.tar_size, copa_layer_builder_count(w.b), res.media_type_oci);
	rc = 0;
out:
	for (size_t i = 0; i < w.n_inodes; i++)
		free(w.inodes[i].path);
	free(w.inodes);
	copa_layer_builder_free(w.b);
	close(rfd);
	return rc;
}
