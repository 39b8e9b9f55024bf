/*
 * apkgz.h: the concatenated gzip members of apk files (APKINDEX.tar.gz and
 * v2 .apk packages), one member at a time.
 *
 * apk's signatures cover the *compressed* bytes of particular members, so a
 * reader must know where each member starts and ends; a generic gzip
 * reader (libarchive, gzread) hides the boundaries. This module inflates
 * exactly one member and says how many compressed bytes it used.
 *
 * Input is hostile: the inflated size is capped by the caller. Pure apart
 * from zlib; thread-safe.
 */
#ifndef COPA_PKG_APK_APKGZ_H
#define COPA_PKG_APK_APKGZ_H

#include "util/buf.h"
#include "util/err.h"

#include <stddef.h>

/*
 * Inflates the gzip member at the start of data[0..n) into out (appended,
 * at most max_out bytes in total in out) and sets *consumed to the number of
 * compressed bytes of that member. `what` names the input in errors
 * ("index 'URL'"). Fails with COPA_E_INPUT on a bad or truncated member,
 * COPA_E_LIMIT past max_out.
 */
int copa_apk_gunzip(const void *data, size_t n, size_t max_out, struct copa_buf *out,
                    size_t *consumed, const char *what, struct copa_err *err);

#endif
