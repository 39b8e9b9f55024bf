/* testutil.h: small helpers shared by the cmocka unit tests. */
#ifndef COPA_TEST_UTIL_H
#define COPA_TEST_UTIL_H

/* Asserts that a copa call returned >= 0, printing err.msg (an err in scope) otherwise. */
#define assert_ok(expr)                                                                            \
	do {                                                                                       \
		if ((expr) < 0)                                                                    \
			fail_msg("%s failed: [%d] %s", #expr, err.code, err.msg);                  \
	} while (0)

#endif
