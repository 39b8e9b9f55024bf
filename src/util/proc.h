/*
 * proc.h: running helper programs (scanner plugins, credential helpers, gpgv,
 * docker/podman load) without a shell.
 *
 * Arguments are passed as a vector, never through /bin/sh, so nothing from a
 * report, image or repository can be interpreted as shell syntax. The child
 * gets its own process group, and a timeout kills the whole group.
 */
#ifndef COPA_UTIL_PROC_H
#define COPA_UTIL_PROC_H

#include "util/buf.h"
#include "util/err.h"

#include <stddef.h>

struct copa_proc {
	const char *const *argv; /* argv[0] is searched in PATH unless it contains '/' */
	const char *const *envp; /* NULL: inherit copa's environment */
	const void *stdin_data;  /* written to the child's stdin, which is then closed */
	size_t stdin_len;
	int stdin_fd;            /* > 0: child's stdin is this fd; else stdin_data or empty */
	struct copa_buf *out;    /* captures stdout (its ceiling applies); NULL: /dev/null */
	struct copa_buf *errout; /* captures stderr; NULL: passes through to copa's stderr */
	int timeout_ms;          /* 0: no timeout */
	const char *cwd;         /* NULL: inherit */
};

/*
 * Runs p to completion. On return 0, *status is the exit code (0-255) or
 * 128 + signal number when it was killed by a signal. Fails (returns -1)
 * when the program cannot be started (COPA_E_NOTFOUND for a missing program),
 * on timeout (COPA_E_TIMEOUT, after killing it) or when its output exceeds
 * the capture buffer's ceiling (COPA_E_LIMIT, after killing it).
 */
int copa_proc_run(const struct copa_proc *p, int *status, struct copa_err *err);

#endif
