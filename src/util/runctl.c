/*
 * runctl.c: the cancel flag and the run's deadline (see runctl.h).
 *
 * Both live in lock-free atomics: a signal handler may store into them, and
 * fetch workers and compressor threads read them concurrently.
 */
#include "util/runctl.h"

#include <signal.h>
#include <stdio.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

static atomic_int canceled_by;
static atomic_llong deadline_ms;
static atomic_llong timeout_ms;

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void copa_runctl_cancel(int sig)
{
	int none = 0;

	atomic_compare_exchange_strong(&canceled_by, &none, sig);
}

int copa_runctl_signal(void)
{
	return atomic_load(&canceled_by);
}

void copa_runctl_set_timeout(long long ms)
{
	atomic_store(&timeout_ms, ms > 0 ? ms : 0);
	atomic_store(&deadline_ms, ms > 0 ? mono_ms() + ms : 0);
}

long long copa_runctl_deadline(void)
{
	return atomic_load(&deadline_ms);
}

static const char *signal_name(int sig)
{
	switch (sig) {
	case SIGINT:
		return "SIGINT";
	case SIGTERM:
		return "SIGTERM";
	case SIGHUP:
		return "SIGHUP";
	default:
		return "a signal";
	}
}

/* "5m", "90s", "1500ms": the --timeout as the user would write it. */
static void duration_str(long long ms, char *buf, size_t len)
{
	if (ms % 60000 == 0)
		snprintf(buf, len, "%lldm", ms / 60000);
	else if (ms % 1000 == 0)
		snprintf(buf, len, "%llds", ms / 1000);
	else
		snprintf(buf, len, "%lldms", ms);
}

int copa_runctl_check(struct copa_err *err)
{
	int sig = atomic_load_explicit(&canceled_by, memory_order_relaxed);
	long long dl = atomic_load_explicit(&deadline_ms, memory_order_relaxed);

	if (sig)
		return copa_err_set(err, COPA_E_CANCELED, "interrupted by %s", signal_name(sig));
	if (dl && mono_ms() >= dl) {
		char d[32];

		duration_str(atomic_load(&timeout_ms), d, sizeof(d));
		return copa_err_set(err, COPA_E_TIMEOUT,
		                    "the run took longer than --timeout %s (raise --timeout)", d);
	}
	return 0;
}

bool copa_runctl_stopped(void)
{
	return copa_runctl_check(NULL) < 0;
}

void copa_runctl_reset(void)
{
	atomic_store(&canceled_by, 0);
	atomic_store(&deadline_ms, 0);
	atomic_store(&timeout_ms, 0);
}
