/*
 * gpgv.h: OpenPGP signature checks of repository metadata with gpgv, as apt
 * does them.
 *
 * gpgv runs through copa_proc_run (no shell, own process group, timeout)
 * with a private --homedir, the keys written to a private keyring file and
 * --status-fd output parsed here: a signature counts only with VALIDSIG
 * (GOODSIG alone is not enough), made with a strong digest (SHA-2), by an
 * allowed key when the source names fingerprints. Any BADSIG fails the
 * check even when another signature is good. The verified content is what
 * gpgv writes with --output, so what copa parses is exactly what was
 * signed. Callers: repo/debrepo.c; the status evaluation is pure and unit
 * tested on its own.
 */
#ifndef COPA_PGP_GPGV_H
#define COPA_PGP_GPGV_H

#include "util/buf.h"
#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>

enum copa_gpgv_verdict {
	COPA_GPGV_GOOD,
	COPA_GPGV_BAD,         /* a signature does not match the data: tampered or corrupt */
	COPA_GPGV_UNKNOWN_KEY, /* signed only by keys not in the keyring */
	COPA_GPGV_NOT_ALLOWED, /* valid, but by a key the Signed-By fingerprints do not name */
	COPA_GPGV_EXPIRED_KEY,
	COPA_GPGV_REVOKED_KEY,
	COPA_GPGV_EXPIRED_SIG,
	COPA_GPGV_WEAK_DIGEST,  /* MD5, SHA-1, RIPEMD-160 */
	COPA_GPGV_NO_SIGNATURE, /* no signature at all */
};

struct copa_gpgv_status {
	enum copa_gpgv_verdict verdict;
	char key[72];    /* the key ID or fingerprint the verdict is about ("" when none) */
	char signer[72]; /* fingerprint of the good signature's primary key */
};

/*
 * Evaluates gpgv --status-fd output (n bytes). `fingerprints` (NULL or
 * NULL-terminated) restricts which keys may sign: a fingerprint matches the
 * signing (sub)key or its primary key; with a trailing '!' only the exact
 * signing key. Pure.
 */
void copa_gpgv_eval(const char *status, size_t n, char *const *fingerprints,
                    struct copa_gpgv_status *st);

/* A short phrase for a failed verdict ("signature by unknown key 6ED0E7B82643E131 (add it with
 * --keyring)"). */
void copa_gpgv_describe(const struct copa_gpgv_status *st, char *buf, size_t cap);

struct copa_gpgv_req {
	const char *gpgv;    /* program; NULL: "gpgv" from PATH */
	const char *workdir; /* private directory for the homedir and keyring */
	const void *keyring; /* binary OpenPGP keys */
	size_t keyring_len;
	char *const *fingerprints; /* allowed signers, or NULL */
	const char *signed_path;   /* clearsigned file, or the detached signature (Release.gpg) */
	const char *data_path;   /* the signed data (Release) for a detached signature; else NULL */
	const char *output_path; /* clearsigned only: where gpgv writes the verified content */
};

/*
 * Runs gpgv on a request. Returns 0 with *st filled in (whatever the
 * verdict), or -1 when gpgv cannot run or says nothing usable
 * (COPA_E_NOTFOUND: gpgv is not installed; COPA_E_EXEC; COPA_E_TIMEOUT).
 */
int copa_gpgv_run(const struct copa_gpgv_req *req, struct copa_gpgv_status *st,
                  struct copa_err *err);

#endif
