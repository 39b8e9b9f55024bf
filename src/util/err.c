#include "util/err.h"

#include <errno.h>
#include <stdarg.h>

const char *copa_errcode_str(enum copa_errcode code)
{
	switch (code) {
	case COPA_OK:
		return "ok";
	case COPA_E_USAGE:
		return "usage";
	case COPA_E_IO:
		return "io";
	case COPA_E_INPUT:
		return "input";
	case COPA_E_LIMIT:
		return "limit";
	case COPA_E_NOTFOUND:
		return "not-found";
	case COPA_E_NET:
		return "network";
	case COPA_E_HTTP:
		return "http";
	case COPA_E_AUTH:
		return "auth";
	case COPA_E_VERIFY:
		return "verify";
	case COPA_E_UNSUPPORTED:
		return "unsupported";
	case COPA_E_TIMEOUT:
		return "timeout";
	case COPA_E_PACKAGE:
		return "package";
	case COPA_E_CANCELED:
		return "canceled";
	case COPA_E_EXEC:
		return "exec";
	case COPA_E_BUG:
		return "bug";
	}
	return "unknown";
}

static void vset(struct copa_err *err, int code, const char *fmt, va_list ap)
{
	err->code = code;
	err->sys_errno = 0;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

int copa_err_set(struct copa_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	va_start(ap, fmt);
	vset(err, code, fmt, ap);
	va_end(ap);
	return -1;
}

int copa_err_sys(struct copa_err *err, int code, int errnum, const char *fmt, ...)
{
	va_list ap;
	size_t len;

	if (!err)
		return -1;
	va_start(ap, fmt);
	vset(err, code, fmt, ap);
	va_end(ap);
	err->sys_errno = errnum;
	len = strlen(err->msg);
	if (len < sizeof(err->msg))
		snprintf(err->msg + len, sizeof(err->msg) - len, ": %s", strerror(errnum));
	return -1;
}

int copa_err_wrap(struct copa_err *err, const char *fmt, ...)
{
	char prefix[COPA_ERR_MSG_MAX];
	char old[COPA_ERR_MSG_MAX];
	va_list ap;

	if (!err)
		return -1;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	{
		/* prefix ": " old, truncated to the buffer. */
		size_t cap = sizeof(err->msg) - 1, len = 0;
		const char *parts[] = {prefix, ": ", old};

		for (size_t i = 0; i < 3 && len < cap; i++) {
			size_t n = strlen(parts[i]);

			if (n > cap - len)
				n = cap - len;
			memcpy(err->msg + len, parts[i], n);
			len += n;
		}
		err->msg[len] = '\0';
	}
	if (err->code == COPA_OK)
		err->code = COPA_E_BUG;
	return -1;
}

void copa_err_clear(struct copa_err *err)
{
	if (!err)
		return;
	err->code = COPA_OK;
	err->sys_errno = 0;
	err->msg[0] = '\0';
}

int copa_err_exit_code(const struct copa_err *err)
{
	if (!err || err->code == COPA_OK)
		return 0;
	return err->code == COPA_E_USAGE ? 2 : 1;
}
