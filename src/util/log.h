/*
 * log.h: the output sink through which the core reports (apk-tools' apk_out).
 *
 * The core never prints. It calls copa_log()/copa_progress() on a sink that
 * the front end provides: the CLI renders to a terminal, plain lines, JSON
 * events or nothing; tests capture. A NULL sink drops everything. Sinks must
 * be safe to call from several threads (parallel downloads).
 */
#ifndef COPA_UTIL_LOG_H
#define COPA_UTIL_LOG_H

#include <stdarg.h>
#include <stdint.h>

enum copa_log_level {
	COPA_LOG_DEBUG,
	COPA_LOG_INFO,
	COPA_LOG_WARN,
	COPA_LOG_ERROR,
};

enum copa_progress_kind {
	COPA_PROGRESS_START,  /* a task begins; total may be 0 (unknown) */
	COPA_PROGRESS_UPDATE, /* cur bytes/items done so far */
	COPA_PROGRESS_DONE,   /* finished (successfully or not: see ok) */
};

struct copa_progress {
	enum copa_progress_kind kind;
	const char *task; /* verb: "download", "upload", "unpack", "compress", "resolve" */
	const char *id;   /* subject: a digest, package name or URL; stable for one task */
	uint64_t cur;
	uint64_t total;
	int ok; /* for DONE: 1 success, 0 failure */
};

/*
 * A phase of a run (reading the base layers, loading the repository indexes,
 * planning, compressing the layer...): one BEGIN and one END per phase and
 * subject, in that order, from the thread that runs the pipeline. Phases are
 * what a user reads to see where the time of a run went; the sink stamps them.
 */
enum copa_phase_kind {
	COPA_PHASE_BEGIN,
	COPA_PHASE_END,
};

struct copa_phase {
	enum copa_phase_kind kind;
	const char *phase; /* a fixed name: "read-layers", "repositories", "plan"... */
	const char *id;    /* the subject: a platform ("linux/amd64") or "" for the run */
	int ok;            /* for END: 1 the phase completed, 0 it failed */
};

struct copa_out {
	void (*log)(struct copa_out *out, enum copa_log_level level, const char *msg);
	void (*progress)(struct copa_out *out, const struct copa_progress *ev);
	void (*phase)(struct copa_out *out, const struct copa_phase *ev); /* may be NULL */
	enum copa_log_level min_level;
	void *ctx;
};

/* Formats and sends a message at level when the sink accepts it. */
void copa_log(struct copa_out *out, enum copa_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void copa_vlog(struct copa_out *out, enum copa_log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#define copa_debug(out, ...) copa_log(out, COPA_LOG_DEBUG, __VA_ARGS__)
#define copa_info(out, ...)  copa_log(out, COPA_LOG_INFO, __VA_ARGS__)
#define copa_warn(out, ...)  copa_log(out, COPA_LOG_WARN, __VA_ARGS__)

/* Sends a progress event when the sink has a progress callback. */
void copa_progress(struct copa_out *out, enum copa_progress_kind kind, const char *task,
                   const char *id, uint64_t cur, uint64_t total);
void copa_progress_done(struct copa_out *out, const char *task, const char *id, int ok);

/* Sends a phase event when the sink has a phase callback; id NULL means "". */
void copa_phase_begin(struct copa_out *out, const char *phase, const char *id);
void copa_phase_end(struct copa_out *out, const char *phase, const char *id, int ok);

#endif
