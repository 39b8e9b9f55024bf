/*
 * Fuzz target: bulk PatchConfig files (src/fleet/config.h). Whatever is
 * accepted has images with a repository and tags its strategy can use, and
 * every tag template it kept expands; expanding the work list never fails
 * on the parsed tags.
 */
#include "fleet/config.h"
#include "fleet/work.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_fleet_config c;
	struct copa_fleet_jobs jobs = {0};
	static char *const avail[] = {"1.0", "1.2.3", "v2", "latest", "1.2.3-slim"};

	if (copa_fleet_config_parse(&c, "fuzz.yaml", (const char *)data, size, &err) < 0)
		return 0;
	if (c.nimages == 0)
		abort();
	for (size_t i = 0; i < c.nimages; i++) {
		size_t n = 0;
		char **tags;

		if (!c.images[i].image || !*c.images[i].image || !c.images[i].name)
			abort();
		tags = copa_fleet_select_tags(&c.images[i], avail, 5, &n, &err);
		if (!tags)
			continue;
		if (copa_fleet_jobs_add(&jobs, &c, i, tags, n, &err) < 0 &&
		    c.images[i].tags.strategy != COPA_FLEET_LIST)
			abort(); /* version-like tags always make valid tags from a checked template
			          */
		for (size_t k = 0; k < n; k++)
			free(tags[k]);
		free(tags);
	}
	(void)copa_fleet_jobs_finish(&jobs, &err);
	copa_fleet_jobs_shard(&jobs, 1, 3);
	copa_fleet_jobs_release(&jobs);
	copa_fleet_config_release(&c);
	return 0;
}
