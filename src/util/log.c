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
