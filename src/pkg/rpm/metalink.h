/*
 * metalink.h: a repository's metalink (Fedora's `metalink=`), as dnf reads it.
 *
 * Owns parsing the metalink 3.0 XML MirrorManager serves for one repository:
 * the `<file name="repomd.xml">` entry's size and hashes (the current one and
 * the `mm0:alternates`, older repomd.xml files mirrors may still serve, which
 * librepo accepts too) and its `<url>` list. Only http(s) URLs are kept,
 * ordered by `preference` (highest first, document order among equals, as
 * librepo sorts them); each names repomd.xml, and the repository base is the
 * URL without its `repodata/repomd.xml` tail. A metalink is untrusted input:
 * the document size, the URL count and each text are capped, a DOCTYPE
 * (entity declarations) is refused, and only sha256 and sha512 hashes are
 * kept (md5 and sha1 prove nothing). The caller compares the fetched
 * repomd.xml with copa_metalink_match(). Single-threaded; expat.
 */
#ifndef COPA_PKG_RPM_METALINK_H
#define COPA_PKG_RPM_METALINK_H

#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COPA_METALINK_MAX        (4u << 20) /* the document */
#define COPA_METALINK_URLS_MAX   1000
#define COPA_METALINK_HASHES_MAX 32 /* the current repomd.xml and its alternates */

/* One acceptable repomd.xml: its size (0 when not given) and lowercase hex hashes. */
struct copa_metalink_hash {
	uint64_t size;
	char sha256[65]; /* "" when not given */
	char sha512[129];
};

struct copa_metalink {
	char **bases; /* NULL-terminated: repository base URLs ending in '/', best first */
	size_t n_bases;
	struct copa_metalink_hash *hashes; /* [0] the current repomd.xml, then alternates */
	size_t n_hashes;
};

void copa_metalink_release(struct copa_metalink *ml);

/*
 * Parses n bytes of metalink XML (`name` is named in errors). COPA_E_INPUT
 * for XML that is not a metalink, has no repomd.xml entry, no sha256 or
 * sha512 hash for it, or no http(s) URL ending in repodata/repomd.xml;
 * COPA_E_LIMIT past a cap. On error ml is empty.
 */
int copa_metalink_parse(const char *xml, size_t n, const char *name, struct copa_metalink *ml,
                        struct copa_err *err);

/*
 * Whether n bytes of repomd.xml are one of the metalink's: size (when given)
 * and every given sha256/sha512 hash equal. Fills why (lowercase, for a
 * message) when they are not.
 */
bool copa_metalink_match(const struct copa_metalink *ml, const void *data, size_t n, char *why,
                         size_t why_len);

#endif
