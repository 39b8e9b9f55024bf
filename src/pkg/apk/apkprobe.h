/*
 * apkprobe.h: what `copa patch` needs to know about an Alpine-family image
 * before it plans: the architecture, the repositories, the trusted keys, the
 * world constraints and the installed database, all read from the image's
 * merged view (never the host, except the user's --keyring files), and the
 * verified APKINDEX of every repository.
 *
 * Owns: the rules where each comes from (etc/apk/arch, else the image
 * platform in apk's names; etc/apk/repositories, else the release's official
 * repositories, with --repo adding or replacing; etc/apk/keys and
 * usr/share/apk/keys/<arch> plus --keyring; etc/apk/world;
 * lib/apk/db/installed or usr/lib/apk/db/installed), fetching each
 * `APKINDEX.tar.gz` over copa_http and verifying its signature before
 * anything in it is parsed.
 *
 * Invariants: every index in `idx` verified against `keys`; a repository
 * whose index is unsigned, wrongly signed or by an unknown key is an error
 * naming its URL (never skipped). Not thread-safe; after copa_apk_probe_open
 * the keys and indexes are only read (fetch workers verify packages with them).
 * Callers: the apk family adapter (pm.c) and its tests.
 */
#ifndef COPA_PKG_APK_APKPROBE_H
#define COPA_PKG_APK_APKPROBE_H

#include "pkg/apk/apkdb.h"
#include "pkg/apk/apkindex.h"
#include "pkg/apk/apkrepo.h"
#include "pkg/apk/apksign.h"
#include "pkg/pm.h"

/* The largest APKINDEX.tar.gz downloaded (compressed; the inflated cap is apkindex.h's). */
#define COPA_APK_INDEX_MAX_FILE (64u << 20)

struct copa_apk_probe {
	char *arch;    /* apk's name: "x86_64", "aarch64", ... */
	char *db_path; /* "lib/apk/db/installed" or "usr/lib/apk/db/installed" */
	struct copa_apkdb db;
	struct copa_arena arena; /* world */
	struct copa_apk_deps world;
	struct copa_apk_repos repos;
	struct copa_apk_keys *keys;
	struct copa_apk_index *idx; /* one per repository (n: repos.n); empty when skipped */
	bool *loaded;               /* loaded[i]: repository i has an index */
};

/*
 * The apk architecture of an OCI platform ("amd64" → "x86_64", "arm64" →
 * "aarch64", "arm" v7 → "armv7", v6 → "armhf", "386" → "x86", "ppc64le",
 * "s390x", "riscv64"); NULL when apk has none.
 */
const char *copa_apk_arch_from_oci(const char *arch, const char *variant);

/*
 * Reads everything from the view (o->view, o->os, o->oci_arch, o->repos,
 * o->keyrings) and loads the indexes (o->http, o->cache, o->out). On error
 * p holds nothing. Release with copa_apk_probe_release.
 */
int copa_apk_probe_open(struct copa_apk_probe *p, const struct copa_pm_open_opts *o,
                        struct copa_err *err);

/* The part without the network (for tests): everything but the indexes. */
int copa_apk_probe_image(struct copa_apk_probe *p, const struct copa_pm_open_opts *o,
                         struct copa_err *err);

void copa_apk_probe_release(struct copa_apk_probe *p);

#endif
