/*
 * rpmcaps.h: a file's capabilities as an rpm header stores them (FILECAPS,
 * libcap's cap_to_text form: "cap_net_admin,cap_net_raw=ep", "= cap_x+i")
 * into the `security.capability` extended attribute the kernel reads
 * (struct vfs_cap_data, revision 2, little-endian), so the new layer carries
 * them as a PAX xattr the way rpm would have set them with cap_set_file.
 *
 * Parsed by hand (libcap is not a dependency for one text format): clauses
 * separated by blanks, each a comma-separated list of capability names
 * (`cap_*`, or a number, or empty/`all` for every capability) followed by
 * one or more operations `=`, `+`, `-` with flags `e`, `i`, `p`, with
 * cap_from_text's meaning. The text is package content: length capped,
 * unknown names refused. Pure; callers: the rpm applier.
 */
#ifndef COPA_PKG_RPM_RPMCAPS_H
#define COPA_PKG_RPM_RPMCAPS_H

#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

#define COPA_RPMCAPS_TEXT_MAX  4096
#define COPA_RPMCAPS_XATTR_LEN 20 /* VFS_CAP_REVISION_2 */

/*
 * Converts text (n bytes) into the xattr value out. Returns 1 when the file
 * has capabilities, 0 when the text grants none (no xattr to write), -1 with
 * COPA_E_INPUT naming the problem.
 */
int copa_rpmcaps_xattr(const char *text, size_t n, uint8_t out[COPA_RPMCAPS_XATTR_LEN],
                       struct copa_err *err);

#endif
