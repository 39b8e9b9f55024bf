/*
 * outfile.h: writing a document to an output path the user named (-o,
 * --summary).
 *
 * The path is the user's, so it is followed as the user means it: "-" is
 * standard output; an existing device, FIFO or socket (or a symlink to one:
 * /dev/stdout) is written in place; a regular file, or a missing one, is
 * replaced atomically (temporary file beside it, then rename); a symlink to a
 * regular file (or a dangling one) has its target replaced atomically and
 * stays a symlink. A directory is an error.
 *
 * copa_outfile_check() runs the same resolution without writing, so that a
 * run can refuse an unwritable output before it writes or pushes an image.
 */
#ifndef COPA_UTIL_OUTFILE_H
#define COPA_UTIL_OUTFILE_H

#include "util/err.h"

#include <stddef.h>

/*
 * Checks that path can be written: its directory accepts a new file (a
 * temporary file is created and removed there), or the existing special file
 * is writable. COPA_E_IO with the reason otherwise.
 */
int copa_outfile_check(const char *path, struct copa_err *err);

/* Writes n bytes of data to path as described above. */
int copa_outfile_write(const char *path, const void *data, size_t n, struct copa_err *err);

#endif
