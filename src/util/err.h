/*
 * err.h: copa's error value.
 *
 * Every fallible function takes `struct copa_err *err` as its last argument and
 * returns 0 / a negative number (or a pointer / NULL). The message is built
 * where the failure happens and wrapped with context on the way up
 * ("layer sha256:...: tar entry 'usr/x': ..."). The buffer is fixed so that
 * error paths never allocate. Messages are lowercase, name the subject in
 * quotes, give the cause after a colon and, where it helps, what to do.
 *
 * Codes are few and map to exit codes in the CLI; copa_errcode_str() is a
 * switch without `default`, so adding a code without a name fails -Wswitch.
 */
#ifndef COPA_UTIL_ERR_H
#define COPA_UTIL_ERR_H

#include <stdbool.h>

enum copa_errcode {
	COPA_OK = 0,
	COPA_E_USAGE,       /* bad command line: exit code 2 */
	COPA_E_IO,          /* local file system */
	COPA_E_INPUT,       /* malformed input: report, manifest, tar, control file */
	COPA_E_LIMIT,       /* an untrusted size or count exceeded its cap */
	COPA_E_NOTFOUND,    /* image, tag, blob, file or package does not exist */
	COPA_E_NET,         /* connection, DNS, TLS, transfer */
	COPA_E_HTTP,        /* a server answered with an error status */
	COPA_E_AUTH,        /* credentials missing or refused */
	COPA_E_VERIFY,      /* digest, checksum or signature mismatch */
	COPA_E_UNSUPPORTED, /* valid input copa cannot handle (yet) */
	COPA_E_TIMEOUT,     /* --timeout or a per-operation deadline passed */
	COPA_E_PACKAGE,     /* one package cannot be updated (skippable with --ignore-errors) */
	COPA_E_CANCELED,    /* interrupted by a signal */
	COPA_E_EXEC,        /* a helper program (plugin, gpgv, credential helper) failed */
	COPA_E_BUG,         /* broken internal invariant */
};

#define COPA_ERR_MSG_MAX 512

struct copa_err {
	int code;      /* enum copa_errcode */
	int sys_errno; /* errno at the failure, 0 when not a system error */
	char msg[COPA_ERR_MSG_MAX];
};

#define COPA_ERR_INIT                                                                              \
	{                                                                                          \
		0, 0,                                                                              \
		{                                                                                  \
			0                                                                          \
		}                                                                                  \
	}

/* Returns the stable short name of a code ("io", "input", ...). */
const char *copa_errcode_str(enum copa_errcode code);

/*
 * Sets err (when not NULL) to code and the formatted message, replacing any
 * earlier one. Always returns -1 so callers can `return copa_err_set(...)`.
 */
int copa_err_set(struct copa_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like copa_err_set, then appends ": <strerror(errnum)>" and records errnum. */
int copa_err_sys(struct copa_err *err, int code, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Prefixes the existing message with formatted context and ": ", keeping the
 * code. Truncates from the end when the result does not fit. Returns -1.
 */
int copa_err_wrap(struct copa_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Resets err to COPA_OK with an empty message. */
void copa_err_clear(struct copa_err *err);

/* True when err holds an error. */
static inline bool copa_err_is_set(const struct copa_err *err)
{
	return err && err->code != COPA_OK;
}

/* Process exit code for an error: 2 for usage errors, 1 for everything else. */
int copa_err_exit_code(const struct copa_err *err);

#endif
