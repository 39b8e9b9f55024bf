#include "util/http.h"

#include "copa-config.h"
#include "util/blob.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/mem.h"
#include "util/runctl.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

struct copa_http {
	struct copa_http_opts o;
	char *ca_file;
	char *user_agent;
	CURLSH *share;
	pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
	/* copa_http_guard_link_local(): on, and the hosts exempt from it. */
	bool guard;
	char **trusted_hosts;
	size_t n_trusted;
};

long long copa_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void share_lock(CURL *c, curl_lock_data data, curl_lock_access access, void *ctx)
{
	struct copa_http *h = ctx;

	pthread_mutex_lock(&h->locks[data]);
}

static void share_unlock(CURL *c, curl_lock_data data, void *ctx)
{
	struct copa_http *h = ctx;

	pthread_mutex_unlock(&h->locks[data]);
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct copa_http *copa_http_new(const struct copa_http_opts *opts, struct copa_err *err)
{
	struct copa_http *h;

	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK) {
		copa_err_set(err, COPA_E_NET, "cannot initialise libcurl: %s",
		             curl_easy_strerror(global_rc));
		return NULL;
	}
	h = copa_xcalloc(1, sizeof(*h));
	h->o = *opts;
	if (!h->o.connect_timeout_ms)
		h->o.connect_timeout_ms = 30000;
	if (!h->o.stall_timeout_s)
		h->o.stall_timeout_s = 60;
	if (!h->o.max_retries)
		h->o.max_retries = 5;
	else if (h->o.max_retries == (unsigned)-1)
		h->o.max_retries = 0;
	if (!h->o.backoff_ms)
		h->o.backoff_ms = 500;
	h->ca_file = opts->ca_file ? copa_xstrdup(opts->ca_file) : NULL;
	h->user_agent = copa_xstrdup(opts->user_agent ? opts->user_agent : "copa/" COPA_VERSION);
	h->o.ca_file = h->ca_file;
	h->o.user_agent = h->user_agent;
	for (size_t i = 0; i < COPA_ARRAY_SIZE(h->locks); i++)
		pthread_mutex_init(&h->locks[i], NULL);
	h->share = curl_share_init();
	if (!h->share) {
		copa_http_free(h);
		copa_err_set(err, COPA_E_NET, "cannot create a libcurl share handle");
		return NULL;
	}
	curl_share_setopt(h->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(h->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(h->share, CURLSHOPT_USERDATA, h);
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	return h;
}

void copa_http_free(struct copa_http *h)
{
	if (!h)
		return;
	if (h->share)
		curl_share_cleanup(h->share);
	for (size_t i = 0; i < COPA_ARRAY_SIZE(h->locks); i++)
		pthread_mutex_destroy(&h->locks[i]);
	for (size_t i = 0; i < h->n_trusted; i++)
		free(h->trusted_hosts[i]);
	free(h->trusted_hosts);
	free(h->ca_file);
	free(h->user_agent);
	free(h);
}

const struct copa_http_opts *copa_http_options(const struct copa_http *h)
{
	return &h->o;
}

void copa_http_resp_release(struct copa_http_resp *r)
{
	for (size_t i = 0; i < r->n_headers; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->headers);
	free(r->url);
	free(r->error_body);
	memset(r, 0, sizeof(*r));
}

const char *copa_http_resp_header(const struct copa_http_resp *r, const char *name)
{
	for (size_t i = 0; i < r->n_headers; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

static void resp_clear_headers(struct copa_http_resp *r)
{
	for (size_t i = 0; i < r->n_headers; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	r->n_headers = 0;
}

/* Per-attempt transfer state handed to curl's callbacks. */
struct xfer {
	struct copa_http *h;
	CURL *curl;
	const struct copa_http_req *req;
	struct copa_http_resp *resp;
	struct copa_err *err;
	bool failed; /* a callback failed; err is set */
	struct copa_buf errbody;
	bool is_file; /* file:// has no status codes: success is 200, missing is 404 */
	uint64_t received;
	uint64_t body_sent;
	long long last_progress;
	bool guard;       /* refuse link-local and metadata addresses (opensocket) */
	char refused[64]; /* the address refused, when it was */
};

#define MAX_HEADER_COUNT 200

static bool is_redirect_status(long s)
{
	return s == 301 || s == 302 || s == 303 || s == 307 || s == 308;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct xfer *x = ctx;
	size_t n = size * nmemb;
	struct copa_blob line = copa_blob_trim(copa_blob(data, n));
	const char *colon;
	struct copa_http_header *hd;

	if (copa_blob_starts(line, "HTTP/")) {
		/* A new response (after 100 Continue or a proxy CONNECT): start over. */
		resp_clear_headers(x->resp);
		return n;
	}
	colon = copa_blob_chr(line, ':');
	if (!colon || line.n == 0)
		return n;
	if (x->resp->n_headers >= MAX_HEADER_COUNT)
		return n;
	x->resp->headers = copa_xgrow(x->resp->headers, &x->resp->headers_cap,
	                              x->resp->n_headers + 1, sizeof(*x->resp->headers));
	hd = &x->resp->headers[x->resp->n_headers++];
	hd->name = copa_blob_dup(copa_blob_trim(copa_blob(line.p, (size_t)(colon - line.p))));
	hd->value = copa_blob_dup(
	    copa_blob_trim(copa_blob(colon + 1, line.n - (size_t)(colon + 1 - line.p))));
	return n;
}

static void report_progress(struct xfer *x, bool force)
{
	const struct copa_http_req *r = x->req;
	long long now;

	if (!r->progress_task || !x->h->o.out)
		return;
	now = copa_now_ms();
	if (!force && now - x->last_progress < 100)
		return;
	x->last_progress = now;
	copa_progress(x->h->o.out, COPA_PROGRESS_UPDATE, r->progress_task, r->progress_id,
	              r->progress_base + x->received, r->progress_total);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct xfer *x = ctx;
	size_t n = size * nmemb;
	long status = 0;

	curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
	if (x->is_file)
		status = 200;
	if (is_redirect_status(status) && x->req->max_redirects > 0)
		return n;
	if (x->req->resp_body) {
		if (copa_buf_add(x->req->resp_body, data, n) < 0) {
			copa_err_set(x->err, COPA_E_LIMIT,
			             "response from '%s' is larger than the %zu bytes allowed",
			             x->req->url, x->req->resp_body->max);
			x->failed = true;
			return 0;
		}
	} else if (x->req->sink) {
		/* Error bodies feed messages, never the sink. */
		if (status < 200 || status > 299) {
			if (x->errbody.len < 4096)
				copa_buf_add(&x->errbody, data, n < 4096 ? n : 4096);
			return n;
		}
		if (x->req->sink(x->req->sink_ctx, status, data, n, x->err) < 0) {
			x->failed = true;
			return 0;
		}
	}
	x->received += n;
	report_progress(x, false);
	return n;
}

static size_t on_read(char *buffer, size_t size, size_t nitems, void *ctx)
{
	struct xfer *x = ctx;
	const struct copa_http_req *r = x->req;
	size_t want = size * nitems;
	uint64_t total = r->has_body_fd ? r->body_fd_len : r->body_len;
	uint64_t left = total - x->body_sent;

	if (want > left)
		want = (size_t)left;
	if (want == 0)
		return 0;
	if (r->has_body_fd) {
		ssize_t got;

		do {
			got = pread(r->body_fd, buffer, want, (off_t)(r->body_off + x->body_sent));
		} while (got < 0 && errno == EINTR);
		if (got <= 0) {
			copa_err_sys(x->err, COPA_E_IO, got < 0 ? errno : EIO,
			             "cannot read the request body for '%s'", r->url);
			x->failed = true;
			return CURL_READFUNC_ABORT;
		}
		want = (size_t)got;
	} else {
		memcpy(buffer, (const char *)r->body + x->body_sent, want);
	}
	x->body_sent += want;
	return want;
}

static int on_seek(void *ctx, curl_off_t offset, int origin)
{
	struct xfer *x = ctx;

	if (origin != SEEK_SET || offset < 0)
		return CURL_SEEKFUNC_CANTSEEK;
	x->body_sent = (uint64_t)offset;
	return CURL_SEEKFUNC_OK;
}

/* Called by curl about once a second and on every block: a canceled or late run stops here. */
static int on_xferinfo(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
	struct xfer *x = ctx;

	if (copa_runctl_check(x->err) < 0) {
		x->failed = true;
		return 1;
	}
	return 0;
}

bool copa_http_addr_forbidden(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		uint32_t a = ntohl(in->sin_addr.s_addr);

		/* 169.254.0.0/16 link-local (AWS, GCP, Azure, OpenStack metadata), and
		 * 100.100.100.200 (Alibaba Cloud metadata). */
		return (a >> 16) == 0xa9fe || a == 0x646464c8;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		const uint8_t *b = in6->sin6_addr.s6_addr;
		static const uint8_t aws6[16] = {0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0,    0,
		                                 0,    0,    0,    0,    0, 0, 0x02, 0x54};

		if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) /* fe80::/10 */
			return true;
		if (!memcmp(b, aws6, 16)) /* fd00:ec2::254, AWS metadata over IPv6 */
			return true;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) ||
		    IN6_IS_ADDR_V4COMPAT(&in6->sin6_addr)) {
			struct sockaddr_in v4 = {.sin_family = AF_INET};

			memcpy(&v4.sin_addr, b + 12, 4);
			return copa_http_addr_forbidden((const struct sockaddr *)&v4);
		}
	}
	return false;
}

static void addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	const void *a =
	    sa->sa_family == AF_INET6
	        ? (const void *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr
	        : (const void *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;

	if (!inet_ntop(sa->sa_family, a, buf, (socklen_t)len))
		snprintf(buf, len, "(address)");
}

/*
 * Sees every address curl is about to connect to, after name resolution and
 * for every redirect hop (each hop is a request of its own): the only place
 * where "names that resolve to the metadata address" can be caught.
 */
static curl_socket_t on_opensocket(void *ctx, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct xfer *x = ctx;

	if (x->guard && copa_http_addr_forbidden(&a->addr)) {
		addr_str(&a->addr, x->refused, sizeof(x->refused));
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* The host of url, lowercase, without IPv6 brackets or zone; NULL when it does not parse. */
static char *url_host(const char *url)
{
	CURLU *u = curl_url();
	char *host = NULL, *out = NULL;

	if (u && curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host) {
		size_t n = strlen(host);
		const char *p = host;
		char *pct;

		if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
			p = host + 1;
			n -= 2;
		}
		out = copa_xasprintf("%.*s", (int)n, p);
		if ((pct = strchr(out, '%')))
			*pct = 0;
		for (char *c = out; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
	}
	curl_free(host);
	curl_url_cleanup(u);
	return out;
}

bool copa_http_host_forbidden(const char *host)
{
	struct sockaddr_in v4 = {.sin_family = AF_INET};
	struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};

	if (inet_pton(AF_INET, host, &v4.sin_addr) == 1)
		return copa_http_addr_forbidden((const struct sockaddr *)&v4);
	if (inet_pton(AF_INET6, host, &v6.sin6_addr) == 1)
		return copa_http_addr_forbidden((const struct sockaddr *)&v6);
	return false;
}

void copa_http_guard_link_local(struct copa_http *h, const char *const *trusted_urls)
{
	h->guard = true;
	for (const char *const *u = trusted_urls; u && *u; u++) {
		char *host = url_host(*u);

		if (!host)
			continue;
		h->trusted_hosts =
		    copa_xrealloc(h->trusted_hosts, (h->n_trusted + 1) * sizeof(*h->trusted_hosts));
		h->trusted_hosts[h->n_trusted++] = host;
	}
}

/* True when requests that started at url get the link-local guard. */
static bool guarded(const struct copa_http *h, const char *url)
{
	_cleanup_free_ char *host = NULL;

	if (!h->guard)
		return false;
	host = url_host(url);
	for (size_t i = 0; host && i < h->n_trusted; i++)
		if (!strcmp(h->trusted_hosts[i], host))
			return false;
	return true;
}

static int refuse_addr(struct copa_err *err, const char *url, const char *addr)
{
	return copa_err_set(err, COPA_E_NET,
	                    "refusing to connect to %s for '%s': link-local and cloud metadata "
	                    "addresses are not used for repositories an image declares (name the "
	                    "repository with --repo to use it anyway)",
	                    addr, url);
}

static bool curl_code_transient(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return true;
	default:
		return false;
	}
}

static bool status_transient(long s)
{
	return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

static struct curl_slist *build_headers(const struct copa_http_req *req, bool send_auth,
                                        bool has_body)
{
	struct curl_slist *l = NULL;
	_cleanup_free_ char *auth = NULL;

	if (req->headers)
		for (const char *const *p = req->headers; *p; p++)
			l = curl_slist_append(l, *p);
	if (send_auth && req->auth) {
		auth = copa_xasprintf("Authorization: %s", req->auth);
		l = curl_slist_append(l, auth);
	}
	if (has_body)
		l = curl_slist_append(l, "Expect:");
	return l;
}

static int one_request(struct copa_http *h, const struct copa_http_req *req, const char *method,
                       const char *url, bool send_auth, bool send_body, bool guard,
                       struct copa_http_resp *resp, struct copa_err *err)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hdrs;
	struct xfer x = {.h = h, .curl = c, .req = req, .resp = resp, .err = err};
	bool has_body = send_body && (req->body || req->has_body_fd);
	uint64_t body_len = req->has_body_fd ? req->body_fd_len : req->body_len;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode rc;
	long long now = copa_now_ms();
	int r = 0;

	if (!c)
		return copa_err_set(err, COPA_E_NET, "cannot create a libcurl handle");
	if (copa_runctl_check(err) < 0) {
		curl_easy_cleanup(c);
		return -1;
	}
	if (h->o.deadline_ms && now >= h->o.deadline_ms) {
		curl_easy_cleanup(c);
		return copa_err_set(err, COPA_E_TIMEOUT,
		                    "--timeout passed before requesting '%s' (raise --timeout)",
		                    url);
	}
	x.guard = guard;
	if (guard) {
		/* An address literal is refused here too: through a proxy no socket sees it. */
		_cleanup_free_ char *host = url_host(url);

		if (host && copa_http_host_forbidden(host)) {
			curl_easy_cleanup(c);
			return refuse_addr(err, url, host);
		}
	}
	resp_clear_headers(resp);
	resp->status = 0;
	resp->curl_code = 0;
	resp->transient = false;
	resp->plain_http = false;
	x.is_file = strncasecmp(url, "file:", 5) == 0;
	hdrs = build_headers(req, send_auth, has_body);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_SHARE, h->share);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_USERAGENT, h->user_agent);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	/* file:// only when asked for directly (offline mirrors), never via a redirect. */
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR,
	                 strncasecmp(url, "file:", 5) == 0 ? "file" : "http,https");
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->o.connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, h->o.stall_timeout_s);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, NULL);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_xferinfo);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, on_opensocket);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &x);
	if (h->o.deadline_ms)
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(h->o.deadline_ms - now));
	if (send_auth && req->ca_pem) {
		struct curl_blob cb = {.data = (void *)(uintptr_t)req->ca_pem,
		                       .len = strlen(req->ca_pem),
		                       .flags = CURL_BLOB_COPY};

		curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &cb);
	} else if (h->ca_file) {
		curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
	}
	if (send_auth && req->client_cert && req->client_key) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, req->client_cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, req->client_key);
	}
	if (h->o.tls_verify_off) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "PUT") == 0) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
		                 (curl_off_t)(has_body ? body_len : 0));
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		                 (curl_off_t)(has_body ? body_len : 0));
		if (strcmp(method, "POST") != 0)
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, &x);
		curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(c, CURLOPT_SEEKDATA, &x);
		if (!has_body)
			x.body_sent = 0;
	}
	if (req->progress_task && h->o.out)
		copa_progress(h->o.out, COPA_PROGRESS_UPDATE, req->progress_task, req->progress_id,
		              req->progress_base, req->progress_total);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	{
		char *eff = NULL;

		curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff);
		free(resp->url);
		resp->url = copa_xstrdup(eff ? eff : url);
	}
	if (x.is_file && !x.failed) {
		if (rc == CURLE_OK)
			resp->status = 200;
		else if (rc == CURLE_FILE_COULDNT_READ_FILE)
			resp->status = 404;
		if (resp->status)
			rc = CURLE_OK;
	}
	if (x.failed) {
		r = -1;
	} else if (rc != CURLE_OK && x.refused[0]) {
		r = refuse_addr(err, url, x.refused);
	} else if (rc != CURLE_OK) {
		resp->curl_code = (int)rc;
		resp->transient = curl_code_transient(rc);
		/*
		 * OpenSSL's words for a TLS hello answered in plain HTTP: the
		 * server will not start speaking TLS on a retry.
		 */
		if (rc == CURLE_SSL_CONNECT_ERROR && (strstr(errbuf, "wrong version number") ||
		                                      strstr(errbuf, "packet length too long"))) {
			resp->plain_http = true;
			resp->transient = false;
		}
		if (rc == CURLE_OPERATION_TIMEDOUT && h->o.deadline_ms &&
		    copa_now_ms() >= h->o.deadline_ms - 5)
			r = copa_err_set(
			    err, COPA_E_TIMEOUT,
			    "'%s': --timeout reached during the transfer (raise --timeout)", url);
		else
			r = copa_err_set(err, COPA_E_NET, "'%s': %s", url,
			                 errbuf[0] ? errbuf : curl_easy_strerror(rc));
	} else if (status_transient(resp->status)) {
		resp->transient = true;
	}
	free(resp->error_body);
	resp->error_body = x.errbody.len ? copa_buf_detach(&x.errbody, NULL) : NULL;
	copa_buf_release(&x.errbody);
	report_progress(&x, true);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return r;
}

int copa_http_do(struct copa_http *h, const struct copa_http_req *req, struct copa_http_resp *resp,
                 struct copa_err *err)
{
	_cleanup_free_ char *url = copa_xstrdup(req->url);
	const char *method = req->method ? req->method : "GET";
	_cleanup_free_ char *method_buf = NULL;
	bool send_body = true;
	size_t body_mark = req->resp_body ? req->resp_body->len : 0;
	/* Decided by where the request started: a trusted host's redirects stay trusted. */
	bool guard = guarded(h, req->url);

	for (int hops = 0;; hops++) {
		bool same = copa_url_same_origin(req->url, url);
		char *next;
		const char *loc;

		if (req->resp_body)
			copa_buf_truncate(req->resp_body, body_mark);
		if (one_request(h, req, method, url, same, send_body, guard, resp, err) < 0)
			return -1;
		if (!is_redirect_status(resp->status) || req->max_redirects <= 0)
			return 0;
		loc = copa_http_resp_header(resp, "Location");
		if (!loc)
			return 0;
		if (hops >= req->max_redirects)
			return copa_err_set(err, COPA_E_HTTP, "'%s': more than %d redirects",
			                    req->url, req->max_redirects);
		next = copa_url_resolve(url, loc);
		if (!next ||
		    (strncasecmp(next, "http://", 7) && strncasecmp(next, "https://", 8))) {
			free(next);
			return copa_err_set(
			    err, COPA_E_HTTP,
			    "'%s': refusing a redirect to '%s' (only http and https)", url, loc);
		}
		free(url);
		url = next;
		if (resp->status == 303 && strcmp(method, "HEAD") != 0) {
			method = "GET";
			send_body = false;
		}
	}
}

static long retry_after_ms(const struct copa_http_resp *resp)
{
	const char *ra = copa_http_resp_header(resp, "Retry-After");
	uint64_t secs;

	if (!ra)
		return -1;
	if (copa_blob_to_u64(copa_blob_str(ra), 3600, &secs) == 0)
		return (long)secs * 1000;
	{
		/* HTTP-date form. */
		time_t when = curl_getdate(ra, NULL);
		time_t now = time(NULL);

		if (when > 0)
			return when > now ? (long)(when - now) * 1000 : 0;
	}
	return -1;
}

bool copa_http_retry_wait(struct copa_http *h, unsigned attempt, const struct copa_http_resp *resp,
                          const char *what)
{
	long delay;
	long long now = copa_now_ms();

	if (!resp->transient || attempt >= h->o.max_retries)
		return false;
	delay = (long)h->o.backoff_ms << (attempt < 6 ? attempt : 6);
	if (delay > 30000)
		delay = 30000;
	if (resp->status == 429 || resp->status == 503) {
		long ra = retry_after_ms(resp);

		if (ra >= 0)
			delay = ra;
	}
	if (h->o.deadline_ms && now + delay >= h->o.deadline_ms)
		return false;
	if (resp->status)
		copa_warn(h->o.out,
		          "%s: server answered %ld, retrying in %.1f s (attempt %u of %u)", what,
		          resp->status, delay / 1000.0, attempt + 2, h->o.max_retries + 1);
	else
		copa_warn(h->o.out, "%s: transfer failed, retrying in %.1f s (attempt %u of %u)",
		          what, delay / 1000.0, attempt + 2, h->o.max_retries + 1);
	/* In slices, so that a signal or the deadline ends the wait promptly. */
	for (long long until = copa_now_ms() + delay; copa_now_ms() < until;) {
		long long left = until - copa_now_ms();
		struct timespec ts = {0, (left < 100 ? left : 100) * 1000000L};

		if (copa_runctl_stopped())
			return false;
		nanosleep(&ts, NULL);
	}
	return !copa_runctl_stopped();
}

/* State of one download across attempts. */
struct fetch_state {
	const struct copa_http_fetch *f;
	struct copa_hash hash;
	enum copa_hash_alg alg;
	uint64_t have; /* bytes written to fd (and hashed) so far */
	uint64_t limit;
	uint64_t attempt_from; /* offset this attempt's Range asked for */
	bool attempt_started;  /* the sink has seen this attempt's first byte */
	bool hashing;
};

static void fetch_restart(struct fetch_state *s)
{
	s->have = 0;
	/* Writes are positional from 0 again; a stale tail is cut at the end. */
	if (s->hashing) {
		copa_hash_release(&s->hash);
		copa_hash_init(&s->hash, s->alg);
	}
}

static int fetch_sink(void *ctx, long status, const void *data, size_t n, struct copa_err *err)
{
	struct fetch_state *s = ctx;

	if (s->f->cancel && atomic_load(s->f->cancel))
		return copa_err_set(err, COPA_E_CANCELED, "%s: download stopped", s->f->what);
	if (!s->attempt_started) {
		s->attempt_started = true;
		/* A 200 to a Range request is the whole body again. */
		if (status != 206 && s->have > 0)
			fetch_restart(s);
	}
	if (s->have + n > s->limit)
		return copa_err_set(err, COPA_E_VERIFY, "%s is larger than the expected %llu bytes",
		                    s->f->what, (unsigned long long)s->limit);
	if (copa_fs_pwrite_all(s->f->fd, data, n, s->have, err) < 0)
		return copa_err_wrap(err, "%s", s->f->what);
	if (s->hashing)
		copa_hash_update(&s->hash, data, n);
	s->have += n;
	return 0;
}

static int status_error(const struct copa_http_fetch *f, const struct copa_http_resp *resp,
                        struct copa_err *err)
{
	switch (resp->status) {
	case 404:
		return copa_err_set(err, COPA_E_NOTFOUND, "%s: not found at '%s' (HTTP 404)",
		                    f->what, f->url);
	case 401:
	case 403:
		return copa_err_set(err, COPA_E_AUTH, "%s: access denied by '%s' (HTTP %ld)",
		                    f->what, f->url, resp->status);
	default:
		return copa_err_set(err, COPA_E_HTTP, "%s: '%s' answered HTTP %ld", f->what, f->url,
		                    resp->status);
	}
}

int copa_http_fetch(struct copa_http *h, const struct copa_http_fetch *f,
                    struct copa_http_resp *resp_out, struct copa_err *err)
{
	struct fetch_state s = {.f = f, .alg = COPA_HASH_SHA256};
	struct copa_http_resp resp = {0};
	const char *expect_hex = NULL;
	_cleanup_free_ char *auth = f->auth ? copa_xstrdup(f->auth) : NULL;
	bool reauthed = false;
	unsigned attempt = 0;
	int r = -1;

	if (f->expect_digest && !copa_digest_parse(f->expect_digest, &s.alg, &expect_hex))
		return copa_err_set(err, COPA_E_INPUT, "%s: invalid digest '%s'", f->what,
		                    f->expect_digest);
	s.hashing = f->expect_digest != NULL;
	s.limit = f->expect_size >= 0 ? (uint64_t)f->expect_size
	                              : (f->max_size ? f->max_size : (1ULL << 30));
	if (s.hashing)
		copa_hash_init(&s.hash, s.alg);
	copa_progress(h->o.out, COPA_PROGRESS_START, "download", f->what, 0,
	              f->expect_size > 0 ? (uint64_t)f->expect_size : 0);
	for (;;) {
		char range[64];
		const char *extra[64];
		size_t ne = 0;
		struct copa_http_req req = {0};

		if (f->headers)
			for (const char *const *p = f->headers; *p && ne < 62; p++)
				extra[ne++] = *p;
		s.attempt_from = s.have;
		s.attempt_started = false;
		if (s.have > 0) {
			snprintf(range, sizeof(range), "Range: bytes=%llu-",
			         (unsigned long long)s.have);
			extra[ne++] = range;
		}
		extra[ne] = NULL;
		req.url = f->url;
		req.headers = extra;
		req.auth = auth;
		req.sink = fetch_sink;
		req.sink_ctx = &s;
		req.max_redirects = 10;
		req.progress_task = "download";
		req.progress_id = f->what;
		req.progress_base = s.have;
		req.progress_total = f->expect_size > 0 ? (uint64_t)f->expect_size : 0;
		req.ca_pem = f->ca_pem;
		req.client_cert = f->client_cert;
		req.client_key = f->client_key;
		if (copa_http_do(h, &req, &resp, err) < 0) {
			if (resp.transient && err->code == COPA_E_NET &&
			    copa_http_retry_wait(h, attempt++, &resp, f->what)) {
				copa_err_clear(err);
				continue;
			}
			copa_err_wrap(err, "%s", f->what);
			goto out;
		}
		if (resp.status == 401 && f->authorize && !reauthed) {
			char *fresh = f->authorize(f->authorize_ctx, &resp, err);

			if (!fresh)
				goto out;
			free(auth);
			auth = fresh;
			reauthed = true;
			continue;
		}
		if (resp.status == 200 || resp.status == 206)
			break;
		if (resp.status == 304 && f->not_modified_ok) {
			r = 0;
			goto out;
		}
		if (resp.status == 416 && s.have > 0) {
			fetch_restart(&s);
			continue;
		}
		if (copa_http_retry_wait(h, attempt++, &resp, f->what))
			continue;
		status_error(f, &resp, err);
		goto out;
	}
	if (ftruncate(f->fd, (off_t)s.have) < 0) {
		copa_err_sys(err, COPA_E_IO, errno, "%s: cannot truncate the download file",
		             f->what);
		goto out;
	}
	if (f->expect_size >= 0 && s.have != (uint64_t)f->expect_size) {
		copa_err_set(err, COPA_E_VERIFY, "%s: got %llu bytes, expected %lld", f->what,
		             (unsigned long long)s.have, (long long)f->expect_size);
		goto out;
	}
	if (s.hashing) {
		char hex[COPA_HASH_HEX_MAX];

		copa_hash_final_hex(&s.hash, hex);
		if (strcmp(hex, expect_hex) != 0) {
			copa_err_set(err, COPA_E_VERIFY,
			             "%s: content does not match its digest (got %s:%s)", f->what,
			             copa_hash_name(s.alg), hex);
			goto out;
		}
	}
	r = 0;
out:
	copa_hash_release(&s.hash);
	copa_progress_done(h->o.out, "download", f->what, r == 0);
	if (resp_out) {
		copa_http_resp_release(resp_out);
		*resp_out = resp;
	} else {
		copa_http_resp_release(&resp);
	}
	return r;
}

char *copa_url_resolve(const char *base, const char *ref)
{
	CURLU *u = curl_url();
	char *out = NULL;
	char *res = NULL;

	if (!u)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_URL, ref, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_URL, &out, 0) == CURLUE_OK) {
		res = copa_xstrdup(out);
		curl_free(out);
	}
	curl_url_cleanup(u);
	return res;
}

static bool url_parts(const char *url, char **scheme, char **host, char **port)
{
	CURLU *u = curl_url();
	bool ok;

	if (!u)
		return false;
	ok = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	     curl_url_get(u, CURLUPART_SCHEME, scheme, 0) == CURLUE_OK &&
	     curl_url_get(u, CURLUPART_HOST, host, 0) == CURLUE_OK &&
	     curl_url_get(u, CURLUPART_PORT, port, CURLU_DEFAULT_PORT) == CURLUE_OK;
	curl_url_cleanup(u);
	return ok;
}

bool copa_url_same_origin(const char *a, const char *b)
{
	char *sa = NULL, *ha = NULL, *pa = NULL, *sb = NULL, *hb = NULL, *pb = NULL;
	bool same = url_parts(a, &sa, &ha, &pa) && url_parts(b, &sb, &hb, &pb) &&
	            strcasecmp(sa, sb) == 0 && strcasecmp(ha, hb) == 0 && strcmp(pa, pb) == 0;

	curl_free(sa);
	curl_free(ha);
	curl_free(pa);
	curl_free(sb);
	curl_free(hb);
	curl_free(pb);
	return same;
}

char *copa_url_escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0);
	char *r;

	if (!e)
		COPA_BUG("cannot escape '%s'", s);
	r = copa_xstrdup(e);
	curl_free(e);
	return r;
}
