/*
 * copa-lsview: reads layer blobs into a merged view and prints it.
 *
 *   copa-lsview [--cache-dir DIR] [--cat PATH]... [--stats] [--inline-max N]
 *               BLOB[,type=MEDIATYPE][,diff_id=DIGEST][,digest=DIGEST|,digest=none]...
 *
 * Layers are given base first. Without digest= the blob's sha256 is
 * computed (so the header index cache can be used). Prints one line per
 * view entry: path, type, mode, uid:gid, size, layer, inline flag, link;
 * with --cat, the contents of PATH instead (read through the view); with
 * --stats, one JSON object with counts and the time taken.
 * A test and benchmark helper, not part of copa.
 */
#include "util/cache.h"
#include "layer/layer.h"
#include "util/mem.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char type_chars[] = "-dlhcbp";

static int print_entry(void *ctx, const struct copa_view_entry *e)
{
	(void)ctx;
	printf("%s\t%c\t%04o\t%u:%u\t%llu\t%d\t%c\t%s\n", *e->path ? e->path : ".",
	       type_chars[e->type], e->mode, e->uid, e->gid, (unsigned long long)e->size,
	       e->layer == COPA_VIEW_NO_LAYER ? -1 : (int)e->layer, e->content ? 'i' : '-',
	       e->link ? e->link : "");
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {{"cache-dir", required_argument, NULL, 'C'},
	                                      {"cat", required_argument, NULL, 'c'},
	                                      {"stats", no_argument, NULL, 's'},
	                                      {"inline-max", required_argument, NULL, 'i'},
	                                      {0}};
	struct copa_err err = COPA_ERR_INIT;
	struct copa_cache cache = {.dirfd = -1};
	struct copa_image_fs_opts o = {0};
	const char *cache_dir = NULL;
	const char **cats = NULL;
	size_t n_cats = 0, n;
	bool stats = false;
	struct copa_layer_blob *layers;
	char **owned, **digests;
	struct copa_image_fs *fs = NULL;
	double t0;
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (c) {
		case 'C':
			cache_dir = optarg;
			break;
		case 'c':
			cats = copa_xrealloc(cats, (n_cats + 1) * sizeof(*cats));
			cats[n_cats++] = optarg;
			break;
		case 's':
			stats = true;
			break;
		case 'i':
			o.inline_max = strtoull(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr,
			        "usage: copa-lsview [--cache-dir DIR] [--cat PATH] [--stats] "
			        "BLOB[,type=MT][,diff_id=D][,digest=D]...\n");
			return 2;
		}
	}
	n = (size_t)(argc - optind);
	layers = copa_xcalloc(n ? n : 1, sizeof(*layers));
	owned = copa_xcalloc(n ? n : 1, sizeof(*owned));
	digests = copa_xcalloc(n ? n : 1, sizeof(*digests));
	for (size_t i = 0; i < n; i++) {
		char *spec = owned[i] = copa_xstrdup(argv[optind + (int)i]);
		char *comma = strchr(spec, ',');
		bool no_digest = false;

		layers[i].path = spec;
		while (comma) {
			char *opt = comma + 1;

			*comma = '\0';
			comma = strchr(opt, ',');
			if (comma)
				*comma = '\0';
			if (!strncmp(opt, "type=", 5))
				layers[i].media_type = opt + 5;
			else if (!strncmp(opt, "diff_id=", 8))
				layers[i].diff_id = opt + 8;
			else if (!strcmp(opt, "digest=none"))
				no_digest = true;
			else if (!strncmp(opt, "digest=", 7))
				layers[i].digest = opt + 7;
		}
		if (!layers[i].digest && !no_digest) {
			char hex[COPA_HASH_HEX_MAX];
			int fd = open(spec, O_RDONLY | O_CLOEXEC);

			if (fd < 0 || copa_hash_fd(fd, COPA_HASH_SHA256, hex, NULL, &err) < 0) {
				fprintf(stderr, "copa-lsview: cannot hash '%s'\n", spec);
				if (fd >= 0)
					close(fd);
				rc = 1;
				goto out;
			}
			close(fd);
			layers[i].digest = digests[i] = copa_xasprintf("sha256:%s", hex);
		}
	}
	if (cache_dir) {
		if (copa_cache_open(&cache, cache_dir, &err) < 0) {
			fprintf(stderr, "copa-lsview: %s\n", err.msg);
			rc = 1;
			goto out;
		}
		o.cache = &cache;
	}
	t0 = now();
	fs = copa_image_fs_open(layers, n, &o, &err);
	if (!fs) {
		fprintf(stderr, "copa-lsview: %s\n", err.msg);
		rc = 1;
		goto out;
	}
	if (stats) {
		printf("{\"entries\": %zu, \"seconds\": %.6f}\n",
		       copa_view_count(copa_image_fs_view(fs)), now() - t0);
	} else if (n_cats) {
		struct copa_buf b = COPA_BUF_INIT;

		for (size_t i = 0; i < n_cats; i++) {
			if (copa_view_read(copa_image_fs_view(fs), cats[i], 1u << 30, &b, &err) <
			    0) {
				fprintf(stderr, "copa-lsview: %s\n", err.msg);
				rc = 1;
				break;
			}
			fwrite(b.p, 1, b.len, stdout);
		}
		copa_buf_release(&b);
	} else {
		copa_view_walk(copa_image_fs_view(fs), "", print_entry, NULL);
	}
out:
	copa_image_fs_free(fs);
	if (o.cache)
		copa_cache_release(&cache);
	for (size_t i = 0; i < n; i++) {
		free(owned[i]);
		free(digests[i]);
	}
	free(owned);
	free(digests);
	free(layers);
	free(cats);
	return rc;
}
