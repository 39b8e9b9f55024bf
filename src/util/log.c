#include "util/log.h"

#include <stdio.h>

void copa_vlog(struct copa_out *out, enum copa_log_level level, const char *fmt, va_list ap)
{
	char msg[2048];

	if (!out || !out->log || level < out->min_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	out->log(out, level, msg);
}

void copa_log(struct copa_out *out, enum copa_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	copa_vlog(out, level, fmt, ap);
	va_end(ap);
}

void copa_progress(struct copa_out *out, enum copa_progress_kind kind, const char *task,
                   const char *id, uint64_t cur, uint64_t total)
{
	struct copa_progress ev = {kind, task, id, cur, total, 1};

	if (out && out->progress)
		out->progress(out, &ev);
}

void copa_progress_done(struct copa_out *out, const char *task, const char *id, int ok)
{
	struct copa_progress ev = {COPA_PROGRESS_DONE, task, id, 0, 0, ok};

	if (out && out->progress)
		out->progress(out, &ev);
}

static void phase_event(struct copa_out *out, enum copa_phase_kind kind, const char *phase,
                        const char *id, int ok)
{
	struct copa_phase ev = {kind, phase, id ? id : "", ok};

	if (out && out->phase)
		out->phase(out, &ev);
}

void copa_phase_begin(struct copa_out *out, const char *phase, const char *id)
{
	phase_event(out, COPA_PHASE_BEGIN, phase, id, 1);
}

void copa_phase_end(struct copa_out *out, const char *phase, const char *id, int ok)
{
	phase_event(out, COPA_PHASE_END, phase, id, ok);
}
