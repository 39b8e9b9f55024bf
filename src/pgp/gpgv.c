#include "pgp/gpgv.h"

#include "util/blob.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/proc.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Copies a word (hex key ID or fingerprint) into a fixed buffer, uppercased. */
static void set_key(char *dst, size_t cap, struct copa_blob w)
{
	size_t n = w.n < cap - 1 ? w.n : cap - 1, j = 0;

	for (size_t i = 0; i < n; i++)
		if (isxdigit((unsigned char)w.p[i]))
			dst[j++] = (char)toupper((unsigned char)w.p[i]);
	dst[j] = 0;
}

static bool fpr_eq(struct copa_blob a, const char *b, size_t bn)
{
	return a.n == bn && strncasecmp(a.p, b, bn) == 0;
}

/* Does a signature by signing key `fpr` with primary key `primary` satisfy the allow list? */
static bool allowed(char *const *fps, struct copa_blob fpr, struct copa_blob primary)
{
	if (!fps)
		return true;
	for (; *fps; fps++) {
		size_t n = strlen(*fps);
		bool exact = n && (*fps)[n - 1] == '!';

		if (exact)
			n--;
		if (fpr_eq(fpr, *fps, n) || (!exact && fpr_eq(primary, *fps, n)))
			return true;
	}
	return false;
}

/* OpenPGP hash algorithm IDs (RFC 4880 9.4): 8 SHA256, 9 SHA384, 10 SHA512, 11 SHA224. */
static bool strong_digest(struct copa_blob algo)
{
	return copa_blob_eqs(algo, "8") || copa_blob_eqs(algo, "9") || copa_blob_eqs(algo, "10") ||
	       copa_blob_eqs(algo, "11") || copa_blob_eqs(algo, "12") || copa_blob_eqs(algo, "14");
}

void copa_gpgv_eval(const char *status, size_t n, char *const *fingerprints,
                    struct copa_gpgv_status *st)
{
	struct copa_blob rest = copa_blob(status, n), line;
	bool bad = false, good = false, unknown = false, not_allowed = false, expkey = false,
	     revkey = false, expsig = false, weak = false;
	char k_bad[72] = "", k_unknown[72] = "", k_na[72] = "", k_exp[72] = "", k_rev[72] = "",
	     k_expsig[72] = "", k_weak[72] = "";

	memset(st, 0, sizeof(*st));
	while (copa_blob_split(&rest, '\n', &line)) {
		struct copa_blob kw, a1;

		if (!copa_blob_starts(line, "[GNUPG:] "))
			continue;
		line.p += 9;
		line.n -= 9;
		if (!copa_blob_word(&line, &kw))
			continue;
		if (!copa_blob_word(&line, &a1))
			a1 = COPA_BLOB_NULL;
		if (copa_blob_eqs(kw, "BADSIG")) {
			bad = true;
			set_key(k_bad, sizeof(k_bad), a1);
		} else if (copa_blob_eqs(kw, "NO_PUBKEY")) {
			unknown = true;
			set_key(k_unknown, sizeof(k_unknown), a1);
		} else if (copa_blob_eqs(kw, "EXPKEYSIG")) {
			expkey = true;
			set_key(k_exp, sizeof(k_exp), a1);
		} else if (copa_blob_eqs(kw, "REVKEYSIG")) {
			revkey = true;
			set_key(k_rev, sizeof(k_rev), a1);
		} else if (copa_blob_eqs(kw, "EXPSIG")) {
			expsig = true;
			set_key(k_expsig, sizeof(k_expsig), a1);
		} else if (copa_blob_eqs(kw, "VALIDSIG")) {
			/* VALIDSIG fpr date ts expire ver reserved pkalgo hashalgo class primary */
			struct copa_blob w[9] = {{0}};
			size_t nw = 0;

			while (nw < 9 && copa_blob_word(&line, &w[nw]))
				nw++;
			if (nw < 7)
				continue;
			if (!strong_digest(w[6])) {
				weak = true;
				set_key(k_weak, sizeof(k_weak), a1);
				continue;
			}
			if (!allowed(fingerprints, a1, nw >= 9 ? w[8] : a1)) {
				not_allowed = true;
				set_key(k_na, sizeof(k_na), nw >= 9 ? w[8] : a1);
				continue;
			}
			if (!good)
				set_key(st->signer, sizeof(st->signer), nw >= 9 ? w[8] : a1);
			good = true;
		}
	}
	if (bad) {
		st->verdict = COPA_GPGV_BAD;
		memcpy(st->key, k_bad, sizeof(st->key));
	} else if (good) {
		st->verdict = COPA_GPGV_GOOD;
	} else if (not_allowed) {
		st->verdict = COPA_GPGV_NOT_ALLOWED;
		memcpy(st->key, k_na, sizeof(st->key));
	} else if (revkey) {
		st->verdict = COPA_GPGV_REVOKED_KEY;
		memcpy(st->key, k_rev, sizeof(st->key));
	} else if (expkey) {
		st->verdict = COPA_GPGV_EXPIRED_KEY;
		memcpy(st->key, k_exp, sizeof(st->key));
	} else if (expsig) {
		st->verdict = COPA_GPGV_EXPIRED_SIG;
		memcpy(st->key, k_expsig, sizeof(st->key));
	} else if (weak) {
		st->verdict = COPA_GPGV_WEAK_DIGEST;
		memcpy(st->key, k_weak, sizeof(st->key));
	} else if (unknown) {
		st->verdict = COPA_GPGV_UNKNOWN_KEY;
		memcpy(st->key, k_unknown, sizeof(st->key));
	} else {
		st->verdict = COPA_GPGV_NO_SIGNATURE;
	}
}

void copa_gpgv_describe(const struct copa_gpgv_status *st, char *buf, size_t cap)
{
	switch (st->verdict) {
	case COPA_GPGV_GOOD:
		snprintf(buf, cap, "good signature by %s", st->signer);
		return;
	case COPA_GPGV_BAD:
		snprintf(
		    buf, cap,
		    "bad signature by key %s: the file was modified or corrupted after signing",
		    st->key);
		return;
	case COPA_GPGV_UNKNOWN_KEY:
		snprintf(buf, cap, "signature by unknown key %s (add it with --keyring)", st->key);
		return;
	case COPA_GPGV_NOT_ALLOWED:
		snprintf(buf, cap, "signed by key %s, which its Signed-By does not allow", st->key);
		return;
	case COPA_GPGV_EXPIRED_KEY:
		snprintf(buf, cap,
		         "signed by key %s, which has expired (update the keyring, or add a "
		         "current key with --keyring)",
		         st->key);
		return;
	case COPA_GPGV_REVOKED_KEY:
		snprintf(buf, cap, "signed by key %s, which has been revoked", st->key);
		return;
	case COPA_GPGV_EXPIRED_SIG:
		snprintf(buf, cap, "the signature by key %s has expired", st->key);
		return;
	case COPA_GPGV_WEAK_DIGEST:
		snprintf(buf, cap, "signature by key %s uses a weak digest algorithm (not SHA-2)",
		         st->key);
		return;
	case COPA_GPGV_NO_SIGNATURE:
		snprintf(buf, cap, "no valid OpenPGP signature found");
		return;
	}
	snprintf(buf, cap, "unknown verdict");
}

int copa_gpgv_run(const struct copa_gpgv_req *req, struct copa_gpgv_status *st,
                  struct copa_err *err)
{
	_cleanup_free_ char *home = copa_xasprintf("%s/gnupg", req->workdir);
	_cleanup_free_ char *keyring = copa_xasprintf("%s/keyring.gpg", req->workdir);
	struct copa_buf out = COPA_BUF_INIT, errout = COPA_BUF_INIT;
	const char *argv[16];
	size_t a = 0;
	int status = 0, r = -1;

	copa_buf_init(&out, 1 << 20);
	copa_buf_init(&errout, 1 << 16);
	if (copa_fs_mkdir_p(AT_FDCWD, home, 0700, err) < 0 ||
	    copa_fs_write_atomic(AT_FDCWD, keyring, req->keyring ? req->keyring : "",
	                         req->keyring_len, 0600, err) < 0)
		goto out;
	argv[a++] = req->gpgv ? req->gpgv : "gpgv";
	argv[a++] = "--homedir";
	argv[a++] = home;
	argv[a++] = "--status-fd";
	argv[a++] = "1";
	argv[a++] = "--keyring";
	argv[a++] = keyring;
	if (req->output_path) {
		argv[a++] = "--output";
		argv[a++] = req->output_path;
	}
	argv[a++] = "--";
	argv[a++] = req->signed_path;
	if (req->data_path)
		argv[a++] = req->data_path;
	argv[a] = NULL;
	{
		static const char *const env[] = {"LC_ALL=C", "PATH=/usr/local/bin:/usr/bin:/bin",
		                                  NULL};
		struct copa_proc p = {
		    .argv = argv, .envp = env, .out = &out, .errout = &errout, .timeout_ms = 60000};

		if (copa_proc_run(&p, &status, err) < 0) {
			/*
			 * Not COPA_E_NOTFOUND: callers read that as "the signed file
			 * does not exist" (a repository without InRelease).
			 */
			if (err->code == COPA_E_NOTFOUND)
				copa_err_set(
				    err, COPA_E_EXEC,
				    "'%s' is not installed: copa runs it to check "
				    "repository signatures (Debian/Ubuntu: apt-get install "
				    "gpgv; Fedora: dnf install gnupg2; Alpine: apk add gpgv)",
				    argv[0]);
			else
				copa_err_wrap(err, "running gpgv to check signatures");
			goto out;
		}
	}
	copa_gpgv_eval(copa_buf_str(&out), out.len, req->fingerprints, st);
	if (st->verdict == COPA_GPGV_NO_SIGNATURE && status != 0 &&
	    !memmem(out.p ? out.p : "", out.len, "[GNUPG:] ", 9)) {
		/* Nothing parsed: gpgv failed on its own terms (unreadable input, bad keyring). */
		struct copa_blob msg = copa_blob_trim(copa_blob(copa_buf_str(&errout), errout.len));

		copa_err_set(err, COPA_E_EXEC, "gpgv failed (exit %d): %.*s", status,
		             (int)(msg.n > 300 ? 300 : msg.n), msg.p);
		goto out;
	}
	r = 0;
out:
	copa_buf_release(&out);
	copa_buf_release(&errout);
	return r;
}
