/*
 * Fuzz target: repomd.xml through libsolv's repomd reader and copa's checks;
 * and, with a first byte of 'P', the rest as a primary file (any compression)
 * whose checksum repomd "vouches for", through copa_rpmmd_add_primary into
 * libsolv's rpm-md reader.
 */
#include "pkg/rpm/rpmmd.h"

#include <solv/chksum.h>
#include <solv/knownid.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void primary(const uint8_t *data, size_t size)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_repomd_file f = {0};
	Chksum *c = solv_chksum_create(REPOKEY_TYPE_SHA256);
	const unsigned char *d;
	int len = 0, fd = memfd_create("primary", MFD_CLOEXEC);
	Pool *pool;
	Repo *repo;

	if (fd < 0)
		abort();
	if (size && write(fd, data, size) != (ssize_t)size)
		abort();
	solv_chksum_add(c, data, (int)size);
	d = solv_chksum_get(c, &len);
	memcpy(f.chksum, d, (size_t)len);
	solv_chksum_free(c, NULL);
	f.chksum_type = REPOKEY_TYPE_SHA256;
	f.size = size;
	pool = pool_create();
	repo = repo_create(pool, "fuzz");
	if (copa_rpmmd_add_primary(repo, fd, &f, "fuzz", &err) < 0 && repo->nsolvables != 0)
		abort(); /* a failure must not leave packages behind */
	pool_free(pool);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_repomd md;

	if (size > 1 << 20)
		return 0;
	if (size && data[0] == 'P') {
		primary(data + 1, size - 1);
		return 0;
	}
	if (copa_repomd_parse(data, size, "fuzz", &md, &err) == 0) {
		const char *l = md.primary.location;
		size_t n = l ? strlen(l) : 0;

		/* a normalised relative path: no ".." component ("a..b" is a name) */
		if (!n || l[0] == '/' || strcmp(l, "..") == 0 || strncmp(l, "../", 3) == 0 ||
		    strstr(l, "/../") || (n >= 3 && strcmp(l + n - 3, "/..") == 0))
			abort();
		copa_repomd_release(&md);
	}
	return 0;
}
