/*
 * rpmlib.h: one guarded session with librpm's process-global state.
 *
 * librpm keeps its configuration (macros such as %_dbpath, %_db_backend,
 * %_root) and its log callback in process globals. Every copa module that
 * calls librpm does so between copa_rpmlib_begin() and copa_rpmlib_end(),
 * which serialise those calls on one mutex, read librpm's configuration once
 * per process, and route librpm's log records to the caller's sink instead of
 * stderr: warnings and notes at debug level (librpm is chatty about missing
 * BDB index files), errors recorded in the session so the caller can fail on
 * them (librpm often logs an error and carries on, e.g. a skipped header).
 * Macros a session pushes are popped by copa_rpmlib_end().
 */
#ifndef COPA_PKG_RPM_RPMLIB_H
#define COPA_PKG_RPM_RPMLIB_H

#include "util/err.h"
#include "util/log.h"

#include <stdbool.h>
#include <stddef.h>

#define COPA_RPMLIB_MACROS_MAX 8

struct copa_rpmlib {
	struct copa_out *out;
	int errors;            /* error records librpm logged during the session */
	char first_error[256]; /* the first of them, for messages */
	const char *pushed[COPA_RPMLIB_MACROS_MAX];
	size_t npushed;
};

/*
 * Takes the librpm lock and starts a session logging to out (may be NULL).
 * Fails (COPA_E_UNSUPPORTED) only when librpm's configuration cannot be read.
 */
int copa_rpmlib_begin(struct copa_rpmlib *s, struct copa_out *out, struct copa_err *err);

/* Defines macro name (a static string) to value for the rest of the session. */
void copa_rpmlib_define(struct copa_rpmlib *s, const char *name, const char *value);

/* Pops the session's macros, restores the log callback and releases the lock. */
void copa_rpmlib_end(struct copa_rpmlib *s);

#endif
