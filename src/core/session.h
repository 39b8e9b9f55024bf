/*
 * session.h: what every command that touches images sets up once: the
 * content-addressed cache, the HTTP client with the run's deadline and TLS
 * settings, the registry options (plain-HTTP hosts from flags and
 * $COPA_INSECURE_REGISTRIES), and the image-transport options tying them
 * together. Owned by the command; released at its end.
 */
#ifndef COPA_CORE_SESSION_H
#define COPA_CORE_SESSION_H

#include "util/cache.h"
#include "image/image.h"
#include "registry/registry.h"
#include "util/err.h"
#include "util/http.h"
#include "util/log.h"

struct copa_session_opts {
	const char *cache_dir; /* NULL: the default cache */
	long timeout_s;        /* deadline for the whole run; 0: none */
	const char *ca_file;   /* extra CA bundle for registries and repositories */
	const char *const *insecure_registries; /* plain-HTTP hosts besides loopback */
	struct copa_out *out;
};

struct copa_session {
	struct copa_cache cache;
	struct copa_http *http;
	struct copa_registry_opts registry;
	struct copa_image_opts image;
	struct copa_out *out;
	char **plain_http; /* owned: flags + environment */
};

/* Opens the cache and creates the clients. Release with copa_session_release(). */
int copa_session_init(struct copa_session *s, const struct copa_session_opts *o,
                      struct copa_err *err);
void copa_session_release(struct copa_session *s);

#endif
