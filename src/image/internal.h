/*
 * internal.h: the transport vtables behind image.h. Private to src/image/.
 *
 * A source implements get_doc (manifests/indexes by digest), write_blob
 * (stream a verified blob into an fd) and blob_path (a local verified file).
 * A destination implements put_blob (from an fd), optionally begin/end for
 * streaming into a temporary file it owns, put_manifest and commit.
 */
#ifndef COPA_IMAGE_INTERNAL_H
#define COPA_IMAGE_INTERNAL_H

#include "image/image.h"
#include "util/fs.h"

#include <pthread.h>

struct copa_image_src;

struct src_ops {
	int (*get_doc)(struct copa_image_src *s, const struct copa_desc *d, struct copa_buf *out,
	               struct copa_err *err);
	int (*write_blob)(struct copa_image_src *s, const struct copa_desc *d, int fd,
	                  struct copa_err *err);
	char *(*blob_path)(struct copa_image_src *s, const struct copa_desc *d,
	                   struct copa_err *err);
	void (*free)(struct copa_image_src *s);
};

struct copa_image_src {
	const struct src_ops *ops;
	struct copa_image_ref ref;
	struct copa_image_opts opts;
	struct copa_image_root root;
	char *what;     /* the reference as text, for messages */
	char *repo_tag; /* docker-archive: the chosen image's first RepoTags entry, or NULL */
	void *impl;
	pthread_mutex_t lock; /* guards `verified` */
	char **verified;      /* digests of files already hashed this run */
	size_t n_verified, cap_verified;
};

struct copa_image_dst;

struct dst_ops {
	/* Is the blob already there? (may be NULL: never) */
	int (*has_blob)(struct copa_image_dst *d, const struct copa_desc *desc, bool *has,
	                struct copa_err *err);
	int (*put_blob)(struct copa_image_dst *d, const struct copa_desc *desc, int fd,
	                struct copa_err *err);
	/* Streaming: a temporary file to fill; end commits (ok) or discards it. */
	int (*begin_blob)(struct copa_image_dst *d, const struct copa_desc *desc,
	                  struct copa_tmpfile *t, struct copa_err *err);
	int (*end_blob)(struct copa_image_dst *d, const struct copa_desc *desc,
	                struct copa_tmpfile *t, struct copa_err *err);
	/* Registry: mount a blob from another repository of the same host (may be NULL). */
	int (*mount_blob)(struct copa_image_dst *d, const struct copa_desc *desc,
	                  const char *from_repo, bool *mounted, struct copa_err *err);
	int (*put_manifest)(struct copa_image_dst *d, const struct copa_desc *desc, const void *raw,
	                    size_t n, struct copa_err *err);
	int (*commit)(struct copa_image_dst *d, const struct copa_desc *desc, const void *raw,
	              size_t n, struct copa_err *err);
	void (*free)(struct copa_image_dst *d);
	bool single;
	int family; /* -1: any */
};

struct copa_image_dst {
	const struct dst_ops *ops;
	struct copa_image_ref ref;
	struct copa_image_opts opts;
	char *what;
	bool committed;
	void *impl;
};

/* Transport constructors: fill s->ops/s->impl and s->root, or fail. */
int copa_src_layout_open(struct copa_image_src *s, struct copa_err *err);
int copa_src_oci_archive_open(struct copa_image_src *s, struct copa_err *err);
int copa_src_docker_archive_open(struct copa_image_src *s, struct copa_err *err);
int copa_src_registry_open(struct copa_image_src *s, struct copa_err *err);
int copa_dst_layout_open(struct copa_image_dst *d, struct copa_err *err);
int copa_dst_oci_archive_open(struct copa_image_dst *d, struct copa_err *err);
int copa_dst_docker_archive_open(struct copa_image_dst *d, struct copa_err *err);
int copa_dst_registry_open(struct copa_image_dst *d, struct copa_err *err);

/* Registry source details used by the registry destination for mounts. */
bool copa_src_registry_where(const struct copa_image_src *s, const char **host, const char **repo);

/*
 * Sets s->root from the root document's bytes (verified against desc when
 * desc is given, else desc is made from the bytes and media_type).
 */
int copa_src_set_root(struct copa_image_src *s, const struct copa_desc *desc,
                      const char *media_type, const void *raw, size_t n, struct copa_err *err);

/* Checks data against a descriptor's digest and size. */
int copa_verify_bytes(const struct copa_desc *d, const void *data, size_t n, const char *what,
                      struct copa_err *err);

/* Records/asks whether a digest was verified by this source already. */
bool copa_src_is_verified(struct copa_image_src *s, const char *digest);
void copa_src_mark_verified(struct copa_image_src *s, const char *digest);

/*
 * Copies fd (from offset 0) to out_fd, hashing; checks size and digest
 * against desc. `what` names the blob for errors.
 */
int copa_copy_verified(int fd, int out_fd, const struct copa_desc *desc, const char *what,
                       struct copa_err *err);

/*
 * end_blob for destinations whose begin_blob names the final file: commits
 * (renames) the temporary file into place.
 */
int copa_dst_end_blob_commit(struct copa_image_dst *d, const struct copa_desc *desc,
                             struct copa_tmpfile *t, struct copa_err *err);

/*
 * put_blob for destinations with begin_blob/end_blob: copies fd into the
 * temporary file begin_blob opens, checking it against desc, then end_blob.
 */
int copa_dst_put_blob_staged(struct copa_image_dst *d, const struct copa_desc *desc, int fd,
                             struct copa_err *err);

/* Hashes the file at dirfd/path and compares with desc (digest and size). */
int copa_verify_file(int dirfd, const char *path, const struct copa_desc *desc, const char *what,
                     struct copa_err *err);

/*
 * The OCI layout reader shared by the layout, oci-archive and docker-archive
 * (Docker >= 25) sources: picks the index.json entry for `tag` (NULL: the only
 * one), reads that document through s, verifies it and makes it the root of
 * s. ix stays the caller's.
 */
int copa_layout_set_root(struct copa_image_src *s, const struct copa_index *ix, const char *tag,
                         struct copa_err *err);

/*
 * Removes what killed copa runs left beside an archive destination `path`:
 * staging directories and temporary files of dead processes
 * (copa_fs_sweep_stale).
 */
void copa_dst_sweep_beside(const char *path);

/*
 * Takes flock(LOCK_EX) on the directory holding the archive file `path`
 * (waiting, with a note to d's output, while another writer holds it);
 * returns the fd to close to unlock.
 */
int copa_dst_lock_dir(struct copa_image_dst *d, const char *path, struct copa_err *err);

/* Writes a directory tree (an OCI layout) as a tar into fd, sorted, fixed mtimes. */
int copa_tar_dir(int dirfd, int out_fd, struct copa_err *err);

#endif
