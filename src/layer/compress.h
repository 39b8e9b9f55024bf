/*
 * compress.h: the one-pass compressor behind copa_layer_builder_write
 * (internal to src/layer/).
 *
 * The tar writer pushes the uncompressed stream in; the pipe hashes it (the
 * diff_id), compresses it and writes the blob to the output fd, hashing that
 * too (the blob digest). Nothing is read back.
 *
 * gzip: the stream is cut into fixed-size chunks at fixed offsets and each
 * chunk becomes one complete gzip member compressed by libdeflate on a pool
 * of worker threads; members are written in order. The result is a
 * multi-member gzip file (RFC 1952 section 2.2) whose bytes depend only on
 * the input, the level and the chunk size, never on the number of threads
 * or on timing. Every member header has mtime 0 and OS 255.
 * zstd: libzstd's streaming API, with nbWorkers >= 1 when the library is
 * multithreaded (its output is then independent of the worker count).
 * none: the tar itself; digest and diff_id are the same.
 *
 * Not thread-safe: one thread writes; the pool threads are private.
 */
#ifndef COPA_LAYER_COMPRESS_H
#define COPA_LAYER_COMPRESS_H

#include "layer/layer.h"

#include <stddef.h>
#include <stdint.h>

/* Tar bytes per gzip member. Part of the output format: changing it changes digests. */
#define COPA_GZIP_CHUNK (1u << 20)

struct copa_zpipe;

/* Starts a pipe writing to opts->out_fd. Returns NULL with err set. */
struct copa_zpipe *copa_zpipe_new(const struct copa_layer_write_opts *opts, struct copa_err *err);

/* Appends n uncompressed bytes. */
int copa_zpipe_write(struct copa_zpipe *z, const void *data, size_t n, struct copa_err *err);

/*
 * Zero-copy variant: returns a pointer to at least one writable byte
 * (*avail of them) at the end of the stream; fill some and call
 * copa_zpipe_commit with the count. May compress and write a full chunk first.
 */
void *copa_zpipe_space(struct copa_zpipe *z, size_t *avail, struct copa_err *err);
int copa_zpipe_commit(struct copa_zpipe *z, size_t n, struct copa_err *err);

/* Total uncompressed bytes so far. */
uint64_t copa_zpipe_tell(const struct copa_zpipe *z);

/* Flushes everything and fills res (digests, sizes, media types). */
int copa_zpipe_finish(struct copa_zpipe *z, struct copa_layer_result *res, struct copa_err *err);

/* Stops the workers and frees the pipe (finished or not). */
void copa_zpipe_free(struct copa_zpipe *z);

#endif
