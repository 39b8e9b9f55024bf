/*
 * http.h: HTTP(S) client on libcurl, shared by the registry client and the
 * package repository fetchers.
 *
 * One `struct copa_http` per run holds the TLS settings, the deadline and a
 * connection/DNS/TLS-session cache shared by every request (thread-safe, so
 * downloads can run in parallel). Proxies come from the environment
 * (http_proxy, https_proxy, no_proxy), as curl reads them.
 *
 * Redirects are followed by this module, not by curl, so the rule is explicit
 * and tested: the Authorization value (`req.auth`) is sent only to the host
 * (scheme, host and port) the request was made to, never to a redirect target
 * elsewhere (registries redirect blob GETs to CDNs and presigned S3 URLs that
 * reject a second auth mechanism).
 *
 * copa_http_do() makes one attempt. copa_http_fetch() downloads into a file
 * with retries and backoff (429 with Retry-After, 5xx, dropped connections),
 * resumes an interrupted transfer with a Range request, caps the size, and
 * verifies the digest; callers then rename the file into place.
 */
#ifndef COPA_UTIL_HTTP_H
#define COPA_UTIL_HTTP_H

#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct copa_http;

struct copa_http_opts {
	const char *ca_file;     /* extra CA bundle (PEM); NULL: the system store */
	bool tls_verify_off;     /* only from an explicit user opt-in */
	long connect_timeout_ms; /* 0: 30 s */
	long stall_timeout_s;    /* abort a transfer that moves no byte for this long; 0: 60 s */
	unsigned max_retries;    /* attempts after the first; 0: default 5 (use -1u for none) */
	unsigned backoff_ms;     /* first retry delay, doubled each time, capped at 30 s; 0: 500 */
	long long deadline_ms;   /* absolute copa_now_ms() by which everything must end; 0: none */
	const char *user_agent;  /* NULL: "copa/<version>" */
	struct copa_out *out;    /* logs retries and download progress; may be NULL */
};

/* Creates a client. Returns NULL with err set when curl cannot be initialised. */
struct copa_http *copa_http_new(const struct copa_http_opts *opts, struct copa_err *err);
void copa_http_free(struct copa_http *h);
/* The options the client was created with (borrowed). */
const struct copa_http_opts *copa_http_options(const struct copa_http *h);

/* Monotonic clock in milliseconds (the time base of deadline_ms). */
long long copa_now_ms(void);

/*
 * Streaming body sink, called only for 2xx response bodies (status given):
 * return 0 to continue, -1 (with err set) to abort the transfer.
 */
typedef int (*copa_http_sink)(void *ctx, long status, const void *data, size_t n,
                              struct copa_err *err);

struct copa_http_req {
	const char *method; /* NULL: "GET"; "HEAD" sends no body back */
	const char *url;
	const char *const *headers; /* NULL-terminated "Name: value" lines; may be NULL */
	const char *auth;           /* Authorization value ("Bearer x"), same-host only */
	/* Request body: in memory, or a byte range of a file. */
	const void *body;
	size_t body_len;
	int body_fd; /* >= 0 with has_body_fd */
	bool has_body_fd;
	uint64_t body_off;
	uint64_t body_fd_len;
	/* Response body: collected into resp_body (its ceiling applies), or streamed. */
	struct copa_buf *resp_body;
	copa_http_sink sink;
	void *sink_ctx;
	int max_redirects; /* 0: do not follow redirects */
	/* Per-request TLS (per-host certs.d); apply to the request's own origin only. */
	const char *ca_pem;      /* PEM CA bundle in memory replacing ca_file; NULL: none */
	const char *client_cert; /* client certificate file (PEM) for mutual TLS */
	const char *client_key;  /* its key file */
	/* Progress reporting of the response body (task NULL: none). */
	const char *progress_task;
	const char *progress_id;
	uint64_t progress_base; /* bytes already done before this request (resume) */
	uint64_t progress_total;
};

struct copa_http_header {
	char *name;
	char *value;
};

struct copa_http_resp {
	long status; /* final HTTP status, 0 when no response arrived */
	struct copa_http_header *headers;
	size_t n_headers;
	size_t headers_cap;
	char *url;        /* URL the final response came from (after redirects) */
	int curl_code;    /* CURLcode of a transport failure, 0 otherwise */
	char *error_body; /* first 4 KiB of a non-2xx body when a sink was used */
	bool transient;   /* the failure is worth retrying (reset, timeout, 5xx, 429) */
	bool plain_http;  /* a TLS handshake got a plain-HTTP answer ("wrong version number") */
};

/*
 * Turns on the guard for untrusted URLs (repositories an image declares):
 * from now on a request refuses to connect to a link-local or cloud metadata
 * address (copa_http_addr_forbidden), checked on the resolved address of
 * every connection and redirect hop, and on an address literal in the URL
 * (which is all a proxy leaves to check). Requests that start at one of the
 * hosts of trusted_urls (NULL-terminated: the user's --repo, the registries
 * the user named) are exempt, their redirects included. Call before the
 * requests start (not thread-safe against them).
 */
void copa_http_guard_link_local(struct copa_http *h, const char *const *trusted_urls);

struct sockaddr;
/* 169.254.0.0/16, fe80::/10, their IPv4-mapped forms, and known metadata addresses. */
bool copa_http_addr_forbidden(const struct sockaddr *sa);
/* The same for an address literal ("169.254.169.254", "fe80::1"); false for names. */
bool copa_http_host_forbidden(const char *host);

/* Frees a response's contents; the struct can be reused. */
void copa_http_resp_release(struct copa_http_resp *r);
/* Case-insensitive header lookup on the final response; borrowed or NULL. */
const char *copa_http_resp_header(const struct copa_http_resp *r, const char *name);

/*
 * Makes one request (following redirects as allowed). Returns 0 when a
 * response arrived, whatever its status; -1 on a transport failure
 * (COPA_E_NET; resp->transient tells whether a retry may help), a body over
 * resp_body's ceiling (COPA_E_LIMIT), a sink abort (the sink's error), or
 * the deadline (COPA_E_TIMEOUT). resp must be zeroed or released first.
 */
int copa_http_do(struct copa_http *h, const struct copa_http_req *req, struct copa_http_resp *resp,
                 struct copa_err *err);

/*
 * Decides whether to retry after attempt number `attempt` (0-based) ended
 * with resp (status or transient transport failure). When yes, logs the
 * reason, sleeps the backoff or the server's Retry-After (bounded by the
 * deadline) and returns true.
 */
bool copa_http_retry_wait(struct copa_http *h, unsigned attempt, const struct copa_http_resp *resp,
                          const char *what);

/*
 * Asks for fresh credentials after a 401: given the challenge response,
 * return a malloc'd Authorization value, or NULL with err set. Used by the
 * registry client for token auth.
 */
typedef char *(*copa_http_authorize)(void *ctx, const struct copa_http_resp *challenge,
                                     struct copa_err *err);

struct copa_http_fetch {
	const char *url;
	const char *const *headers;
	const char *auth;              /* initial Authorization value; may be NULL */
	copa_http_authorize authorize; /* called once on 401; may be NULL */
	void *authorize_ctx;
	const char *expect_digest; /* "sha256:<hex>" / "sha512:<hex>" to verify; NULL: none */
	int64_t expect_size;       /* exact size to enforce; -1: unknown */
	uint64_t max_size;         /* cap when the size is unknown; 0: 1 GiB */
	int fd;                    /* destination, positioned at 0, truncated on restart */
	const char *what;          /* subject for messages and progress ("blob sha256:ab…") */
	const char *ca_pem;        /* as in copa_http_req (not sent to redirect targets) */
	const char *client_cert;
	const char *client_key;
	/* When it turns true, the transfer stops (COPA_E_CANCELED); may be NULL. */
	const atomic_bool *cancel;
	/*
	 * A conditional request (If-None-Match / If-Modified-Since in headers):
	 * a 304 answer ends the fetch successfully with nothing written, and
	 * resp_out->status is 304.
	 */
	bool not_modified_ok;
};

/*
 * Downloads f->url into f->fd with retries, resume and verification. On
 * success the file holds exactly the verified bytes. Errors: COPA_E_NOTFOUND
 * (404), COPA_E_AUTH (401/403), COPA_E_VERIFY (digest or size mismatch; not
 * retried), COPA_E_HTTP (other status), COPA_E_NET, COPA_E_TIMEOUT.
 * If `resp_out` is not NULL it receives the final response's headers.
 */
int copa_http_fetch(struct copa_http *h, const struct copa_http_fetch *f,
                    struct copa_http_resp *resp_out, struct copa_err *err);

/*
 * Resolves `ref` (absolute or relative URL, e.g. a Location header) against
 * `base`. Returns a malloc'd URL or NULL when either does not parse.
 */
char *copa_url_resolve(const char *base, const char *ref);

/* True when two URLs have the same scheme, host and port. */
bool copa_url_same_origin(const char *a, const char *b);

/* Percent-encodes s for use in a query value (caller frees). */
char *copa_url_escape(const char *s);

#endif
