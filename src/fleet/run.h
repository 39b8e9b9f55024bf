/*
 * run.h: `copa patch --config FILE`: every image and tag of a bulk
 * configuration patched by a pool of worker processes, one summary.
 *
 * The parent reads the config, lists the tags of the repositories whose
 * strategy needs them (registry tags/list), builds the job list (work.h),
 * keeps its shard, then forks one worker per job, at most `jobs` at a time.
 * A worker is a copy of this process that runs one job and exits: a crash,
 * a hang cut by its --timeout or a signal in one image cannot take the
 * others down, and the workers share nothing but the cache directory
 * (written atomically, so concurrent copa processes may share it). The
 * parent prints a line per finished job and a table at the end, and with
 * --summary writes one JSON document with an entry per job.
 *
 * A job first asks the registry whether its target exists and was made by
 * copa from the source's current manifest (the base-digest annotations copa
 * writes). If so, the target itself is re-patched in place: when planning
 * finds nothing newer, nothing is written ("up to date"); otherwise copa's
 * layer is replaced. A missing target, or one made from another source
 * digest, is patched from the source.
 */
#ifndef COPA_FLEET_RUN_H
#define COPA_FLEET_RUN_H

#include "core/patch.h"
#include "util/err.h"
#include "util/log.h"

#include <stdbool.h>

struct copa_fleet_run_opts {
	const char *config_path;
	/* Settings every job shares (repositories, keys, cache, timeout per job, registries, ...);
	 * image, tag, report, platforms, push, summary and VEX are set per job. */
	const struct copa_patch_opts *patch;
	const char *report_dir;  /* -r DIR: a job uses the report whose artifact names its
	                            source; NULL or no match: every upgradable package */
	unsigned jobs;           /* worker processes; 0: the CPU count */
	const char *shard;       /* "I/N" or "auto/N"; NULL: the whole list */
	const char *summary_out; /* --summary FILE ('-': stdout); NULL: none */
	bool verbose;            /* copy each worker's log to the output when it ends */
	struct copa_out *out;
};

/*
 * Runs the configuration. Returns 0 when every job ended patched or up to
 * date, 1 when any failed (the table says which), -1 with err set when the
 * run could not start (a bad config, a bad --shard, no tag of an image
 * could be listed is a failed job, not this).
 */
int copa_fleet_run(const struct copa_fleet_run_opts *o, struct copa_err *err);

#endif
