/*
 * runctl.h: run control: cancellation by a signal and the run's deadline.
 *
 * Owns two process-wide values: the signal that canceled the run (set from
 * a signal handler, async-signal-safe) and the deadline of the whole run
 * (--timeout). Long loops call copa_runctl_check() (a download's progress
 * callback, reading and decompressing tar streams, compressing the new
 * layer, copying blobs, the package apply loop, waiting for a helper
 * program) and unwind with its error; the caller's normal error path then
 * removes what was staged, so nothing reaches a destination.
 *
 * Invariants: the values only move one way during a run (a cancel is never
 * undone; the deadline is set once before the work starts). Callable from
 * any thread; copa_runctl_cancel() also from a signal handler.
 */
#ifndef COPA_UTIL_RUNCTL_H
#define COPA_UTIL_RUNCTL_H

#include "util/err.h"

#include <stdbool.h>

/* Records that signal sig canceled the run (async-signal-safe). The first signal wins. */
void copa_runctl_cancel(int sig);

/* The signal that canceled the run, 0 when none. */
int copa_runctl_signal(void);

/*
 * Sets the deadline of the run: timeout_ms from now (0: none). The value is
 * kept for messages ("--timeout 5m").
 */
void copa_runctl_set_timeout(long long timeout_ms);

/* The absolute deadline on copa_now_ms()'s clock, 0 when none. */
long long copa_runctl_deadline(void);

/*
 * 0 while the run may go on; -1 with err set to COPA_E_CANCELED ("interrupted
 * by SIGINT") or COPA_E_TIMEOUT (naming --timeout) once it must stop. Cheap
 * enough for per-block loops (an atomic load and a vDSO clock read).
 */
int copa_runctl_check(struct copa_err *err);

/* True when copa_runctl_check() would fail. */
bool copa_runctl_stopped(void);

/* Clears both values (tests, or a process that runs several commands). */
void copa_runctl_reset(void);

#endif
