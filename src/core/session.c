#include "core/session.h"

#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

static char **merge_hosts(const char *const *flags)
{
	char **env = copa_registry_parse_host_list(getenv(COPA_INSECURE_REGISTRIES_ENV));
	size_t n = 0, m = 0;
	char **all;

	while (env[n])
		n++;
	if (flags)
		while (flags[m])
			m++;
	all = copa_xcalloc(n + m + 1, sizeof(*all));
	for (size_t i = 0; i < m; i++)
		all[i] = copa_xstrdup(flags[i]);
	memcpy(all + m, env, n * sizeof(*env));
	free(env);
	return all;
}

int copa_session_init(struct copa_session *s, const struct copa_session_opts *o,
                      struct copa_err *err)
{
	struct copa_http_opts h = {0};

	memset(s, 0, sizeof(*s));
	s->cache.dirfd = -1;
	s->out = o->out;
	if (copa_cache_open(&s->cache, o->cache_dir, err) < 0)
		return -1;
	h.ca_file = o->ca_file;
	h.out = o->out;
	if (o->timeout_s > 0)
		h.deadline_ms = copa_now_ms() + o->timeout_s * 1000LL;
	s->http = copa_http_new(&h, err);
	if (!s->http) {
		copa_cache_release(&s->cache);
		return -1;
	}
	s->plain_http = merge_hosts(o->insecure_registries);
	s->registry.http = s->http;
	s->registry.out = o->out;
	s->registry.plain_http = (const char *const *)s->plain_http;
	s->image.cache = &s->cache;
	s->image.http = s->http;
	s->image.out = o->out;
	s->image.registry = &s->registry;
	return 0;
}

void copa_session_release(struct copa_session *s)
{
	copa_http_free(s->http);
	s->http = NULL;
	copa_cache_release(&s->cache);
	copa_strv_free(s->plain_http);
	s->plain_http = NULL;
}
