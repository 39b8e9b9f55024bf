/*
 * Fuzz target: reading a docker config.json / containers auth.json
 * (copa_cred_from_json, src/registry/auth.c) for a few hosts and
 * repositories. Credential helpers are never run: a stand-in answers for
 * them (a hit for helper names starting with 'h', a miss otherwise).
 */
#include "registry/auth.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fake_helper(const char *helper, const char *server, struct copa_cred *cred, bool *found,
                       struct copa_err *err)
{
	(void)err;
	if (!helper || !server)
		__builtin_trap();
	*found = helper[0] == 'h';
	if (*found) {
		free(cred->username);
		cred->username = strdup("helper-user");
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const hosts[][2] = {
	    {"docker.io", "library/debian"},
	    {"localhost:5000", "team/app"},
	    {"quay.io", "org/sub/img"},
	    {"registry.example.com:443", NULL},
	};

	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		struct copa_err err = COPA_ERR_INIT;
		struct copa_cred cred = {0};
		bool found = true;
		int r =
		    copa_cred_from_json((const char *)data, size, "fuzz/config.json", hosts[i][0],
		                        hosts[i][1], fake_helper, NULL, &cred, &found, &err);

		if (r == 0 && found && !cred.username && !cred.identity_token &&
		    !cred.registry_token)
			__builtin_trap(); /* found means something to send */
		if (r < 0 && (found || !err.msg[0]))
			__builtin_trap(); /* an error is a miss, with a message */
		if (r < 0 && cred.password && cred.password[0] && strstr(err.msg, cred.password))
			__builtin_trap(); /* secrets never reach messages */
		copa_cred_release(&cred);
	}
	return 0;
}
