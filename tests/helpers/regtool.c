/*
 * copa-regtool: a thin command-line driver of the registry client for the
 * end-to-end tests (and for poking at a registry by hand). Not installed.
 *
 *   copa-regtool [options] get-manifest HOST/REPO(:TAG|@DIGEST) OUT
 *   copa-regtool [options] head-manifest HOST/REPO(:TAG|@DIGEST)
 *   copa-regtool [options] get-blob HOST/REPO DIGEST OUT [SIZE]
 *   copa-regtool [options] exists HOST/REPO DIGEST
 *   copa-regtool [options] put-blob HOST/REPO FILE
 *   copa-regtool [options] mount HOST/REPO DIGEST FROM-REPO
 *   copa-regtool [options] put-manifest HOST/REPO(:TAG|@DIGEST) FILE MEDIA-TYPE
 *   copa-regtool [options] tags HOST/REPO [PAGE-SIZE]   (one "tag T" line per tag)
 *   copa-regtool [options] get-blobs HOST/REPO OUTDIR DIGEST...   (in parallel threads,
 *                                                 one client: exercises its locking)
 *
 * Outputs are written under a temporary name and renamed into place, so a
 * failed download leaves no file. Results go to stdout as "key value" lines;
 * errors to stderr as "copa-regtool: error[<code>]: <message>", exit 1
 * (2 for usage).
 */
#include "registry/registry.h"
#include "util/blob.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/http.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void log_stderr(struct copa_out *out, enum copa_log_level level, const char *msg)
{
	static const char *const names[] = {"debug", "info", "warning", "error"};

	fprintf(stderr, "copa-regtool: %s: %s\n", names[level], msg);
}

static int usage(void)
{
	fprintf(stderr,
	        "usage: copa-regtool [--insecure-registry HOST]... [--auth-file F] [--username U "
	        "--password P]\n"
	        "       [--ca-file F] [--certs-dir D]... [--chunk-size N] [--retries N] "
	        "[--backoff-ms N]\n"
	        "       [--timeout-ms N] [--debug] COMMAND ARGS...\n"
	        "commands: get-manifest REF OUT | head-manifest REF | get-blob REPO DIGEST OUT "
	        "[SIZE]\n"
	        "          exists REPO DIGEST | put-blob REPO FILE | mount REPO DIGEST FROM\n"
	        "          put-manifest REF FILE MEDIA-TYPE | tags REPO [PAGE-SIZE]\n");
	return 2;
}

struct target {
	char *host;
	char *repo;
	char *ref; /* tag or digest; NULL when not given */
};

static void target_release(struct target *t)
{
	free(t->host);
	free(t->repo);
	free(t->ref);
}

/* HOST/REPO[:TAG|@DIGEST]; test-only splitting, no defaults. */
static int parse_target(const char *s, bool want_ref, struct target *t)
{
	const char *slash = strchr(s, '/');
	const char *at, *colon;
	const char *end;

	memset(t, 0, sizeof(*t));
	if (!slash)
		return -1;
	t->host = copa_xstrndup(s, (size_t)(slash - s));
	at = strchr(slash, '@');
	colon = strrchr(slash, ':');
	end = at ? at : (colon ? colon : slash + strlen(slash));
	t->repo = copa_xstrndup(slash + 1, (size_t)(end - slash - 1));
	if (at)
		t->ref = copa_xstrdup(at + 1);
	else if (colon)
		t->ref = copa_xstrndup(colon + 1, strlen(colon + 1));
	if (want_ref && !t->ref)
		t->ref = copa_xstrdup("latest");
	return 0;
}

struct blob_job {
	struct copa_registry *reg;
	const char *dir;
	const char *digest;
	struct copa_err err;
	int rc;
};

/* Downloads one blob into dir/<hex> atomically (a thread of get-blobs). */
static void *blob_thread(void *arg)
{
	struct blob_job *j = arg;
	struct copa_tmpfile tf;
	_cleanup_free_ char *path = NULL;
	const char *colon = strchr(j->digest, ':');

	path = copa_xasprintf("%s/%s", j->dir, colon ? colon + 1 : j->digest);
	j->rc = copa_tmpfile_open(&tf, AT_FDCWD, path, 0644, &j->err);
	if (j->rc < 0)
		return NULL;
	j->rc = copa_registry_get_blob(j->reg, j->digest, -1, tf.fd, &j->err);
	if (j->rc == 0)
		j->rc = copa_tmpfile_commit(&tf, false, &j->err);
	copa_tmpfile_release(&tf);
	return NULL;
}

static int fail(const struct copa_err *err)
{
	fprintf(stderr, "copa-regtool: error[%s]: %s\n",
	        copa_errcode_str((enum copa_errcode)err->code), err->msg);
	return 1;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"insecure-registry", required_argument, NULL, 'i'},
	    {"auth-file", required_argument, NULL, 'a'},
	    {"username", required_argument, NULL, 'u'},
	    {"password", required_argument, NULL, 'p'},
	    {"ca-file", required_argument, NULL, 'c'},
	    {"certs-dir", required_argument, NULL, 'C'},
	    {"chunk-size", required_argument, NULL, 'k'},
	    {"retries", required_argument, NULL, 'r'},
	    {"backoff-ms", required_argument, NULL, 'b'},
	    {"timeout-ms", required_argument, NULL, 't'},
	    {"debug", no_argument, NULL, 'd'},
	    {NULL, 0, NULL, 0},
	};
	struct copa_err err = COPA_ERR_INIT;
	struct copa_out out = {.log = log_stderr, .min_level = COPA_LOG_WARN};
	struct copa_http_opts ho = {.out = &out};
	struct copa_registry_opts ro = {.out = &out};
	const char *insecure[64];
	const char *certs_dirs[16];
	size_t n_insecure = 0, n_certs = 0;
	char **env_hosts = copa_registry_parse_host_list(getenv(COPA_INSECURE_REGISTRIES_ENV));
	struct copa_http *http = NULL;
	struct copa_registry *reg = NULL;
	struct target t = {0};
	const char *cmd;
	int opt, rc = 1;
	uint64_t v;

	for (char **e = env_hosts; *e && n_insecure < 60; e++)
		insecure[n_insecure++] = *e;
	while ((opt = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			if (n_insecure < 60)
				insecure[n_insecure++] = optarg;
			break;
		case 'a':
			ro.auth_file = optarg;
			break;
		case 'u':
			ro.username = optarg;
			break;
		case 'p':
			ro.password = optarg;
			break;
		case 'c':
			ho.ca_file = optarg;
			break;
		case 'C':
			if (n_certs < 14)
				certs_dirs[n_certs++] = optarg;
			break;
		case 'k':
		case 'r':
		case 'b':
		case 't':
			if (copa_blob_to_u64(copa_blob_str(optarg), UINT64_MAX / 2, &v) < 0)
				return usage();
			if (opt == 'k')
				ro.chunk_size = v;
			else if (opt == 'r')
				ho.max_retries = v ? (unsigned)v : (unsigned)-1;
			else if (opt == 'b')
				ho.backoff_ms = (unsigned)v;
			else
				ho.deadline_ms = copa_now_ms() + (long long)v;
			break;
		case 'd':
			out.min_level = COPA_LOG_DEBUG;
			break;
		default:
			return usage();
		}
	}
	insecure[n_insecure] = NULL;
	certs_dirs[n_certs] = NULL;
	ro.plain_http = insecure;
	if (n_certs)
		ro.certs_dirs = certs_dirs;
	if (optind >= argc)
		return usage();
	cmd = argv[optind++];
	argc -= optind;
	argv += optind;
	if (argc < 1 || parse_target(argv[0], strstr(cmd, "manifest") != NULL, &t) < 0) {
		copa_strv_free(env_hosts);
		return usage();
	}
	http = copa_http_new(&ho, &err);
	if (!http)
		goto error;
	ro.http = http;
	reg = copa_registry_new(&ro, t.host, t.repo, &err);
	if (!reg)
		goto error;

	if (strcmp(cmd, "get-manifest") == 0 && argc == 2) {
		struct copa_buf body = COPA_BUF_INIT;
		char *mt = NULL;
		char digest[COPA_DIGEST_MAX];

		if (copa_registry_get_manifest(reg, t.ref, &body, &mt, digest, &err) < 0 ||
		    copa_fs_write_atomic(AT_FDCWD, argv[1], body.p ? body.p : "", body.len, 0644,
		                         &err) < 0) {
			copa_buf_release(&body);
			free(mt);
			goto error;
		}
		printf("digest %s\nmediaType %s\nsize %zu\n", digest, mt, body.len);
		copa_buf_release(&body);
		free(mt);
	} else if (strcmp(cmd, "tags") == 0 && (argc == 1 || argc == 2)) {
		size_t n;
		char **tags = copa_registry_list_tags(
		    reg, argc == 2 ? (unsigned)strtoul(argv[1], NULL, 10) : 0, &n, &err);

		if (!tags)
			goto error;
		for (size_t i = 0; i < n; i++) {
			printf("tag %s\n", tags[i]);
			free(tags[i]);
		}
		free(tags);
	} else if (strcmp(cmd, "head-manifest") == 0 && argc == 1) {
		bool exists;
		char *mt = NULL;
		char digest[COPA_DIGEST_MAX] = "";
		int64_t size;

		if (copa_registry_head_manifest(reg, t.ref, &exists, &mt, digest, &size, &err) < 0)
			goto error;
		printf("exists %s\n", exists ? "yes" : "no");
		if (exists)
			printf("digest %s\nmediaType %s\nsize %lld\n", digest, mt ? mt : "",
			       (long long)size);
		free(mt);
	} else if (strcmp(cmd, "get-blob") == 0 && (argc == 3 || argc == 4)) {
		struct copa_tmpfile tf;
		int64_t size = -1;

		if (argc == 4) {
			if (copa_blob_to_u64(copa_blob_str(argv[3]), INT64_MAX, &v) < 0) {
				rc = usage();
				goto out;
			}
			size = (int64_t)v;
		}
		if (copa_tmpfile_open(&tf, AT_FDCWD, argv[2], 0644, &err) < 0)
			goto error;
		if (copa_registry_get_blob(reg, argv[1], size, tf.fd, &err) < 0 ||
		    copa_tmpfile_commit(&tf, false, &err) < 0) {
			copa_tmpfile_release(&tf);
			goto error;
		}
		copa_tmpfile_release(&tf);
		printf("digest %s\n", argv[1]);
	} else if (strcmp(cmd, "get-blobs") == 0 && argc >= 3 && argc <= 66) {
		struct blob_job jobs[64];
		pthread_t th[64];
		size_t n = (size_t)argc - 2;

		for (size_t i = 0; i < n; i++) {
			jobs[i] =
			    (struct blob_job){.reg = reg, .dir = argv[1], .digest = argv[2 + i]};
			if (pthread_create(&th[i], NULL, blob_thread, &jobs[i]) != 0)
				COPA_BUG("pthread_create failed");
		}
		for (size_t i = 0; i < n; i++)
			pthread_join(th[i], NULL);
		for (size_t i = 0; i < n; i++)
			if (jobs[i].rc < 0) {
				err = jobs[i].err;
				goto error;
			}
		for (size_t i = 0; i < n; i++)
			printf("digest %s\n", jobs[i].digest);
	} else if (strcmp(cmd, "exists") == 0 && argc == 2) {
		bool exists;

		if (copa_registry_blob_exists(reg, argv[1], &exists, &err) < 0)
			goto error;
		printf("exists %s\n", exists ? "yes" : "no");
	} else if (strcmp(cmd, "put-blob") == 0 && argc == 2) {
		char hex[COPA_HASH_HEX_MAX], digest[COPA_DIGEST_MAX];
		uint64_t size;
		int fd = open(argv[1], O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			copa_err_sys(&err, COPA_E_IO, errno, "cannot open '%s'", argv[1]);
			goto error;
		}
		if (copa_hash_fd(fd, COPA_HASH_SHA256, hex, &size, &err) < 0) {
			close(fd);
			goto error;
		}
		snprintf(digest, sizeof(digest), "sha256:%s", hex);
		if (copa_registry_put_blob(reg, digest, size, fd, &err) < 0) {
			close(fd);
			goto error;
		}
		close(fd);
		printf("digest %s\nsize %llu\n", digest, (unsigned long long)size);
	} else if (strcmp(cmd, "mount") == 0 && argc == 3) {
		bool mounted;

		if (copa_registry_mount_blob(reg, argv[1], argv[2], &mounted, &err) < 0)
			goto error;
		printf("mounted %s\n", mounted ? "yes" : "no");
	} else if (strcmp(cmd, "put-manifest") == 0 && argc == 3) {
		struct copa_buf body = COPA_BUF_INIT;
		char digest[COPA_DIGEST_MAX];

		if (copa_fs_read_file(AT_FDCWD, argv[1], 64u << 20, &body, &err) < 0)
			goto error;
		if (copa_registry_put_manifest(reg, t.ref, argv[2], body.p ? body.p : "", body.len,
		                               digest, &err) < 0) {
			copa_buf_release(&body);
			goto error;
		}
		copa_buf_release(&body);
		printf("digest %s\n", digest);
	} else {
		rc = usage();
		goto out;
	}
	rc = 0;
	goto out;
error:
	rc = fail(&err);
out:
	copa_registry_free(reg);
	copa_http_free(http);
	target_release(&t);
	copa_strv_free(env_hosts);
	return rc;
}
