/*
 * rpmlib.c: the librpm session guard (see rpmlib.h).
 */
#include "pkg/rpm/rpmlib.h"

#include "util/mem.h"

#include <pthread.h>
#include <rpm/rpmlib.h>
#include <rpm/rpmlog.h>
#include <rpm/rpmmacro.h>
#include <string.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bool configured;

static int log_cb(rpmlogRec rec, rpmlogCallbackData data)
{
	struct copa_rpmlib *s = data;
	const char *msg = rpmlogRecMessage(rec);
	size_t n = msg ? strlen(msg) : 0;

	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		n--;
	if (rpmlogRecPriority(rec) <= RPMLOG_ERR) {
		if (s->errors++ == 0)
			snprintf(s->first_error, sizeof(s->first_error), "%.*s", (int)n,
			         msg ? msg : "");
		copa_log(s->out, COPA_LOG_WARN, "librpm: %.*s", (int)n, msg ? msg : "");
	} else {
		copa_log(s->out, COPA_LOG_DEBUG, "librpm: %.*s", (int)n, msg ? msg : "");
	}
	return 0; /* handled: nothing reaches stderr */
}

int copa_rpmlib_begin(struct copa_rpmlib *s, struct copa_out *out, struct copa_err *err)
{
	memset(s, 0, sizeof(*s));
	s->out = out;
	pthread_mutex_lock(&lock);
	rpmlogSetCallback(log_cb, s);
	if (!configured) {
		if (rpmReadConfigFiles(NULL, NULL) != 0) {
			rpmlogSetCallback(NULL, NULL);
			pthread_mutex_unlock(&lock);
			return copa_err_set(err, COPA_E_UNSUPPORTED,
			                    "cannot read librpm's configuration (rpmrc, macros): "
			                    "is the rpm package installed?");
		}
		configured = true;
	}
	return 0;
}

void copa_rpmlib_define(struct copa_rpmlib *s, const char *name, const char *value)
{
	if (s->npushed == COPA_RPMLIB_MACROS_MAX)
		COPA_BUG("too many librpm macros in one session");
	rpmPushMacro(NULL, name, NULL, value, RMIL_CMDLINE);
	s->pushed[s->npushed++] = name;
}

void copa_rpmlib_end(struct copa_rpmlib *s)
{
	while (s->npushed)
		rpmPopMacro(NULL, s->pushed[--s->npushed]);
	rpmlogSetCallback(NULL, NULL);
	pthread_mutex_unlock(&lock);
}
