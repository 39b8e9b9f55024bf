/*
 * output.c: the CLI's log/progress sinks (tty, plain, quiet, json).
 *
 * tty keeps a live block of one line per running task (what, how much, how
 * fast) at the bottom of stderr and prints log lines above it; plain prints
 * one line when a task starts and one when it ends; json prints one event per
 * line for machines; quiet prints only errors. All are thread-safe.
 */
#include "cli/cli.h"

#include "util/mem.h"
#include "util/runctl.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define MAX_TASKS  16
#define MAX_PHASES 64

struct task {
	char *task;
	char *id;
	uint64_t cur, total;
	long long start_ms;
};

/* A phase as the table at the end shows it: seconds since the sink was made. */
struct phase_rec {
	char *phase;
	char *id;
	double from, to;
	bool open, ok;
};

struct sink {
	struct copa_out out;
	enum copa_cli_progress mode;
	bool verbose;
	long long t0_us; /* when the sink was made: the start of the run */
	struct phase_rec phases[MAX_PHASES];
	size_t n_phases;
	pthread_mutex_t lock;
	struct task tasks[MAX_TASKS];
	size_t n_tasks;
	size_t drawn; /* lines of the live block currently on screen */
	long long last_draw;
};

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static double ms_round(double secs)
{
	return (double)(long long)(secs * 1000 + 0.5) / 1000.0;
}

/* Seconds since the start of the run, to the millisecond. */
static double run_seconds(const struct sink *s)
{
	return ms_round((double)(mono_us() - s->t0_us) / 1e6);
}

static const char *level_name(enum copa_log_level l)
{
	switch (l) {
	case COPA_LOG_DEBUG:
		return "debug";
	case COPA_LOG_INFO:
		return "info";
	case COPA_LOG_WARN:
		return "warning";
	case COPA_LOG_ERROR:
		return "error";
	}
	return "info";
}

static void human_size(uint64_t n, char *buf, size_t len)
{
	if (n >= 1024ULL * 1024 * 1024)
		snprintf(buf, len, "%.2f GiB", n / (1024.0 * 1024 * 1024));
	else if (n >= 1024 * 1024)
		snprintf(buf, len, "%.1f MiB", n / (1024.0 * 1024));
	else if (n >= 1024)
		snprintf(buf, len, "%.1f KiB", n / 1024.0);
	else
		snprintf(buf, len, "%llu B", (unsigned long long)n);
}

/* Shortens "sha256:<64 hex>" and long URLs for a one-line display. */
static void short_id(const char *id, char *buf, size_t len)
{
	size_t n = strlen(id);

	if (!strncmp(id, "sha256:", 7) && n > 7 + 12)
		snprintf(buf, len, "%.19s", id);
	else if (n > 60)
		snprintf(buf, len, "…%s", id + n - 59);
	else
		snprintf(buf, len, "%s", id);
}

static void clear_block(struct sink *s)
{
	for (size_t i = 0; i < s->drawn; i++)
		fputs("\033[1A\033[2K", stderr);
	s->drawn = 0;
}

/* Columns of the terminal on stderr ($COLUMNS, else 80, when it does not say). */
static size_t term_width(void)
{
	struct winsize ws;
	const char *env = getenv("COLUMNS");
	long n;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	n = env ? strtol(env, NULL, 10) : 0;
	return n > 0 && n < 10000 ? (size_t)n : 80;
}

/*
 * Bytes of the UTF-8 text s that fill fewer than `width` columns (one
 * column per character; the last column stays free so the cursor never
 * wraps).
 */
static size_t fit_columns(const char *s, size_t width)
{
	size_t cols = 0, i = 0;

	for (; s[i]; i++) {
		if (((unsigned char)s[i] & 0xC0) == 0x80)
			continue; /* a continuation byte: same column */
		if (cols + 1 >= width)
			break;
		cols++;
	}
	return i;
}

static void draw_block(struct sink *s)
{
	long long now = mono_ms();
	size_t width = term_width();
	char line[512];

	for (size_t i = 0; i < s->n_tasks; i++) {
		struct task *t = &s->tasks[i];
		char cur[32], total[32], id[80], rate[32] = "";
		double secs = (now - t->start_ms) / 1000.0;

		human_size(t->cur, cur, sizeof(cur));
		human_size(t->total, total, sizeof(total));
		short_id(t->id, id, sizeof(id));
		if (secs > 0.3) {
			char r[24];

			human_size((uint64_t)(t->cur / secs), r, sizeof(r));
			snprintf(rate, sizeof(rate), "%s/s", r);
		}
		if (t->total)
			snprintf(line, sizeof(line), "  %-8s %-40s %10s / %-10s %3d%% %s", t->task,
			         id, cur, total, (int)(t->cur * 100 / t->total), rate);
		else
			snprintf(line, sizeof(line), "  %-8s %-40s %10s %s", t->task, id, cur,
			         rate);
		/*
		 * A wrapped line would take two rows while clear_block() erases
		 * one per task: the block would pile up. Cut at the width.
		 */
		fprintf(stderr, "\033[2K%.*s\n", (int)fit_columns(line, width), line);
	}
	s->drawn = s->n_tasks;
	s->last_draw = now;
	fflush(stderr);
}

/* Prints one event, stamped with the time (RFC 3339, UTC, milliseconds). */
static void json_event(json_t *ev)
{
	struct timespec ts;
	struct tm tm;
	char stamp[48];
	char *line;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + strlen(stamp), sizeof(stamp) - strlen(stamp), ".%03ldZ",
	         ts.tv_nsec / 1000000);
	json_object_set_new(ev, "time", json_string(stamp));
	/* Times in seconds to the millisecond: 1.23, not 1.2299999999999999. */
	line = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));

	if (line) {
		fprintf(stderr, "%s\n", line);
		free(line);
	}
	json_decref(ev);
}

static void sink_log(struct copa_out *out, enum copa_log_level level, const char *msg)
{
	struct sink *s = (struct sink *)out;

	pthread_mutex_lock(&s->lock);
	switch (s->mode) {
	case COPA_CLI_PROGRESS_JSON:
		json_event(json_pack("{s:s, s:s, s:s}", "type", "log", "level", level_name(level),
		                     "message", msg));
		break;
	case COPA_CLI_PROGRESS_QUIET:
		if (level >= COPA_LOG_ERROR)
			fprintf(stderr, "copa: %s\n", msg);
		break;
	case COPA_CLI_PROGRESS_TTY:
		clear_block(s);
		/* fallthrough */
	default:
		if (level == COPA_LOG_INFO)
			fprintf(stderr, "%s\n", msg);
		else
			fprintf(stderr, "copa: %s: %s\n", level_name(level), msg);
		if (s->mode == COPA_CLI_PROGRESS_TTY)
			draw_block(s);
		break;
	}
	fflush(stderr);
	pthread_mutex_unlock(&s->lock);
}

static struct task *find_task(struct sink *s, const char *task, const char *id)
{
	for (size_t i = 0; i < s->n_tasks; i++)
		if (!strcmp(s->tasks[i].task, task) && !strcmp(s->tasks[i].id, id))
			return &s->tasks[i];
	return NULL;
}

static void drop_task(struct sink *s, struct task *t)
{
	size_t i = (size_t)(t - s->tasks);

	free(t->task);
	free(t->id);
	memmove(&s->tasks[i], &s->tasks[i + 1], (s->n_tasks - i - 1) * sizeof(*t));
	s->n_tasks--;
}

static void plain_done(const struct task *t, int ok)
{
	char size[32];
	double secs = (mono_ms() - t->start_ms) / 1000.0;

	human_size(t->cur, size, sizeof(size));
	if (!ok)
		fprintf(stderr, "%s %s: failed after %s\n", t->task, t->id, size);
	else if (secs >= 0.01)
		fprintf(stderr, "%s %s: %s in %.2f s (%.1f MiB/s)\n", t->task, t->id, size, secs,
		        t->cur / secs / (1024.0 * 1024));
	else
		fprintf(stderr, "%s %s: %s\n", t->task, t->id, size);
}

/*
 * One JSON progress event. Producers end a task with copa_progress_done(),
 * which carries no counts: a "done" event reports what the task's last
 * update said, so it tells how many bytes moved (tasks tracked as the
 * terminal modes track them).
 */
static void json_progress(struct sink *s, const struct copa_progress *ev)
{
	static const char *const kinds[] = {"start", "update", "done"};
	struct task *t = find_task(s, ev->task, ev->id);
	uint64_t cur = ev->cur, total = ev->total;
	json_t *j;

	if (!t && ev->kind != COPA_PROGRESS_DONE && s->n_tasks < MAX_TASKS) {
		t = &s->tasks[s->n_tasks++];
		t->task = copa_xstrdup(ev->task);
		t->id = copa_xstrdup(ev->id);
		t->cur = 0;
		t->total = ev->total;
		t->start_ms = mono_ms();
	}
	if (t && ev->kind == COPA_PROGRESS_UPDATE) {
		t->cur = ev->cur;
		if (ev->total)
			t->total = ev->total;
	}
	if (t && ev->kind == COPA_PROGRESS_DONE) {
		cur = t->cur;
		total = t->total;
	}
	j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "type", "progress", "event",
	              kinds[ev->kind], "task", ev->task, "id", ev->id, "current", (json_int_t)cur,
	              "total", (json_int_t)total);
	if (ev->kind == COPA_PROGRESS_DONE)
		json_object_set_new(j, "ok", json_boolean(ev->ok));
	json_event(j);
	if (t && ev->kind == COPA_PROGRESS_DONE)
		drop_task(s, t);
}

static void sink_progress(struct copa_out *out, const struct copa_progress *ev)
{
	struct sink *s = (struct sink *)out;
	struct task *t;

	if (s->mode == COPA_CLI_PROGRESS_QUIET || !ev->task || !ev->id)
		return;
	pthread_mutex_lock(&s->lock);
	if (s->mode == COPA_CLI_PROGRESS_JSON) {
		json_progress(s, ev);
		goto out;
	}
	t = find_task(s, ev->task, ev->id);
	if (!t && ev->kind != COPA_PROGRESS_DONE) {
		if (s->n_tasks == MAX_TASKS)
			goto out;
		t = &s->tasks[s->n_tasks++];
		t->task = copa_xstrdup(ev->task);
		t->id = copa_xstrdup(ev->id);
		t->cur = 0;
		t->total = ev->total;
		t->start_ms = mono_ms();
		if (s->mode == COPA_CLI_PROGRESS_PLAIN) {
			char size[32];

			human_size(ev->total, size, sizeof(size));
			fprintf(stderr, "%s %s%s%s%s\n", ev->task, ev->id, ev->total ? " (" : "",
			        ev->total ? size : "", ev->total ? ")" : "");
		}
	}
	if (!t)
		goto out;
	if (ev->kind == COPA_PROGRESS_UPDATE) {
		t->cur = ev->cur;
		if (ev->total)
			t->total = ev->total;
	}
	if (ev->kind == COPA_PROGRESS_DONE) {
		if (s->mode == COPA_CLI_PROGRESS_TTY)
			clear_block(s);
		plain_done(t, ev->ok);
		drop_task(s, t);
		if (s->mode == COPA_CLI_PROGRESS_TTY)
			draw_block(s);
	} else if (s->mode == COPA_CLI_PROGRESS_TTY && mono_ms() - s->last_draw >= 100) {
		clear_block(s);
		draw_block(s);
	}
	fflush(stderr);
out:
	pthread_mutex_unlock(&s->lock);
}

/* The open record of phase/id, latest first (a phase may run once per platform). */
static struct phase_rec *find_phase(struct sink *s, const char *phase, const char *id)
{
	for (size_t i = s->n_phases; i-- > 0;)
		if (s->phases[i].open && !strcmp(s->phases[i].phase, phase) &&
		    !strcmp(s->phases[i].id, id))
			return &s->phases[i];
	return NULL;
}

/*
 * A phase begins or ends: recorded for the table -v prints at the end, and
 * in json mode one event ("start" with `at`; "end" with `from`, `to`,
 * `seconds` and `ok`), times in seconds since the start of the run.
 */
static void sink_phase(struct copa_out *out, const struct copa_phase *ev)
{
	struct sink *s = (struct sink *)out;
	double now;
	struct phase_rec *p;
	json_t *j;

	if (!ev->phase || !ev->id)
		return;
	pthread_mutex_lock(&s->lock);
	now = run_seconds(s);
	if (ev->kind == COPA_PHASE_BEGIN) {
		if (s->n_phases < MAX_PHASES) {
			p = &s->phases[s->n_phases++];
			p->phase = copa_xstrdup(ev->phase);
			p->id = copa_xstrdup(ev->id);
			p->from = p->to = now;
			p->open = true;
			p->ok = false;
		}
		if (s->mode == COPA_CLI_PROGRESS_JSON)
			json_event(json_pack("{s:s, s:s, s:s, s:s, s:f}", "type", "phase", "event",
			                     "start", "phase", ev->phase, "id", ev->id, "at", now));
	} else {
		double from = now;

		p = find_phase(s, ev->phase, ev->id);
		if (p) {
			p->to = now;
			p->open = false;
			p->ok = ev->ok != 0;
			from = p->from;
		}
		if (s->mode == COPA_CLI_PROGRESS_JSON) {
			j = json_pack("{s:s, s:s, s:s, s:s, s:f, s:f, s:f, s:b}", "type", "phase",
			              "event", "end", "phase", ev->phase, "id", ev->id, "from",
			              from, "to", now, "seconds", ms_round(now - from), "ok",
			              ev->ok != 0);
			json_event(j);
		}
	}
	pthread_mutex_unlock(&s->lock);
}

void copa_cli_out_phases(struct copa_out *out)
{
	struct sink *s = (struct sink *)out;

	if (!s || !s->verbose || !s->n_phases || s->mode == COPA_CLI_PROGRESS_JSON ||
	    s->mode == COPA_CLI_PROGRESS_QUIET)
		return;
	pthread_mutex_lock(&s->lock);
	if (s->mode == COPA_CLI_PROGRESS_TTY)
		clear_block(s);
	fprintf(stderr, "%-14s %-16s %8s %8s %8s\n", "phase", "subject", "from", "to", "seconds");
	for (size_t i = 0; i < s->n_phases; i++) {
		const struct phase_rec *p = &s->phases[i];

		if (p->open)
			fprintf(stderr, "%-14s %-16s %8.3f %8s %8s (not ended)\n", p->phase, p->id,
			        p->from, "-", "-");
		else
			fprintf(stderr, "%-14s %-16s %8.3f %8.3f %8.3f%s\n", p->phase, p->id,
			        p->from, p->to, p->to - p->from, p->ok ? "" : " (failed)");
	}
	fflush(stderr);
	pthread_mutex_unlock(&s->lock);
}

int copa_cli_parse_progress(const char *str, enum copa_cli_progress *out)
{
	static const struct {
		const char *name;
		enum copa_cli_progress mode;
	} modes[] = {
	    {"auto", COPA_CLI_PROGRESS_AUTO},   {"tty", COPA_CLI_PROGRESS_TTY},
	    {"plain", COPA_CLI_PROGRESS_PLAIN}, {"quiet", COPA_CLI_PROGRESS_QUIET},
	    {"json", COPA_CLI_PROGRESS_JSON},   {"rawjson", COPA_CLI_PROGRESS_JSON},
	};

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (!strcmp(str, modes[i].name)) {
			*out = modes[i].mode;
			return 0;
		}
	return -1;
}

struct copa_out *copa_cli_out_new(enum copa_cli_progress mode, bool verbose)
{
	struct sink *s = copa_xcalloc(1, sizeof(*s));

	if (mode == COPA_CLI_PROGRESS_AUTO)
		mode = isatty(STDERR_FILENO) && getenv("TERM") && strcmp(getenv("TERM"), "dumb")
		           ? COPA_CLI_PROGRESS_TTY
		           : COPA_CLI_PROGRESS_PLAIN;
	s->mode = mode;
	s->verbose = verbose;
	s->t0_us = mono_us();
	pthread_mutex_init(&s->lock, NULL);
	s->out.log = sink_log;
	s->out.progress = sink_progress;
	s->out.phase = sink_phase;
	s->out.min_level = verbose ? COPA_LOG_DEBUG : COPA_LOG_INFO;
	s->out.ctx = s;
	return &s->out;
}

void copa_cli_out_free(struct copa_out *out)
{
	struct sink *s = (struct sink *)out;

	if (!s)
		return;
	if (s->mode == COPA_CLI_PROGRESS_TTY)
		clear_block(s);
	while (s->n_tasks)
		drop_task(s, &s->tasks[s->n_tasks - 1]);
	for (size_t i = 0; i < s->n_phases; i++) {
		free(s->phases[i].phase);
		free(s->phases[i].id);
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int copa_cli_fail(struct copa_out *out, const struct copa_err *err)
{
	struct sink *s = (struct sink *)out;

	if (s && s->mode == COPA_CLI_PROGRESS_JSON) {
		pthread_mutex_lock(&s->lock);
		json_event(json_pack("{s:s, s:s, s:s}", "type", "error", "code",
		                     copa_errcode_str(err->code), "message", err->msg));
		pthread_mutex_unlock(&s->lock);
	} else {
		if (s && s->mode == COPA_CLI_PROGRESS_TTY) {
			pthread_mutex_lock(&s->lock);
			clear_block(s);
			pthread_mutex_unlock(&s->lock);
		}
		fprintf(stderr, "copa: error: %s\n", err->msg[0] ? err->msg : "unknown error");
	}
	/* Interrupted: the shell's convention, 128 + the signal (130 SIGINT, 143 SIGTERM). */
	if (err->code == COPA_E_CANCELED && copa_runctl_signal())
		return 128 + copa_runctl_signal();
	return copa_err_exit_code(err);
}

int copa_cli_flush_stdout(const char *cmd)
{
	int e;

	if (fflush(stdout) == 0 && !ferror(stdout))
		return 0;
	/* After an earlier failed write errno still says why, unless a later call reset it. */
	e = errno ? errno : EIO;
	if (e == EPIPE)
		return 0;
	fprintf(stderr, "copa %s: cannot write standard output: %s\n", cmd, strerror(e));
	return 1;
}

int copa_cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "copa %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nRun 'copa %s --help' for usage.\n", cmd);
	return 2;
}

long long copa_cli_parse_duration_ms(const char *s)
{
	const long long max = 7LL * 24 * 3600 * 1000;
	long long total = 0;
	const char *p = s;

	if (!p || !*p)
		return -1;
	while (*p) {
		long long unit;
		unsigned long long v;
		char *end;

		if (*p < '0' || *p > '9')
			return -1;
		errno = 0;
		v = strtoull(p, &end, 10);
		if (errno || v > (unsigned long long)max)
			return -1;
		if (!strncmp(end, "ms", 2)) {
			unit = 1;
			end += 2;
		} else if (*end == 'h' || *end == 'm' || *end == 's') {
			unit = *end == 'h' ? 3600000 : *end == 'm' ? 60000 : 1000;
			end++;
		} else if (!*end && p == s) {
			unit = 1000; /* a bare number: seconds */
		} else {
			return -1;
		}
		if ((long long)v > (max - total) / unit)
			return -1;
		total += (long long)v * unit;
		p = end;
	}
	return total > 0 ? total : -1;
}

int copa_cli_timeout_opt(const char *cmd, const char *arg, long *seconds)
{
	long long ms = copa_cli_parse_duration_ms(arg);

	if (ms < 0)
		return copa_cli_usage_error(
		    cmd, "invalid --timeout '%s' (examples: 300, 90s, 5m, 1h)", arg);
	*seconds = (long)((ms + 999) / 1000);
	return 0;
}

int copa_cli_common_opt(const char *cmd, int c, const char *usage_text, bool *verbose)
{
	switch (c) {
	case 'v':
		*verbose = true;
		return -1;
	case 'h':
		fputs(usage_text, stdout);
		return 0;
	default:
		return copa_cli_usage_error(cmd, "invalid option");
	}
}

/*
 * The first SIGINT or SIGTERM cancels the run: the core sees it through
 * copa_runctl_check(), unwinds and removes what it staged. A second one
 * ends the process at once (the default action), for a run that hangs.
 */
static void on_signal(int sig)
{
	copa_runctl_cancel(sig);
	signal(sig, SIG_DFL);
}

void copa_cli_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

bool copa_cli_interrupted(void)
{
	return copa_runctl_signal() != 0;
}
