/*
 * shared_testdata.h: where the shared test data lives. It is real material
 * from other projects (apk-tools' version table, Alpine indexes, keys and
 * packages) and is never copied into this repository: tests read it from
 * COPA_SHARED_TESTDATA in the environment, else from the directory the build
 * was configured with (meson option shared_testdata, default
 * ../shared/testdata beside the clone).
 */
#ifndef COPA_TEST_SHARED_TESTDATA_H
#define COPA_TEST_SHARED_TESTDATA_H

#include "util/mem.h"

#include <stdlib.h>

#ifndef COPA_SHARED_TESTDATA
#define COPA_SHARED_TESTDATA "../shared/testdata"
#endif

/* Returns a malloc'd path to REL inside the shared test data. */
static inline char *copa_test_shared_path(const char *rel)
{
	const char *dir = getenv("COPA_SHARED_TESTDATA");

	if (!dir || !*dir)
		dir = COPA_SHARED_TESTDATA;
	return copa_xasprintf("%s/%s", dir, rel);
}

#endif
