/* Fuzz target: the WWW-Authenticate parser (src/registry/auth.c). */
#include "registry/auth.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_auth_challenges c = {0};

	if (copa_www_authenticate_parse((const char *)data, size, &c, &err) == 0) {
		const struct copa_auth_challenge *b = copa_auth_challenge_find(&c, "bearer");

		if (b) {
			(void)copa_auth_challenge_param(b, "realm");
			(void)copa_auth_challenge_param(b, "service");
		}
		for (size_t i = 0; i < c.n; i++)
			for (size_t j = 0; j < c.v[i].n_params; j++)
				if (strlen(c.v[i].params[j].name) == 0)
					__builtin_trap(); /* a parameter always has a name */
	} else if (c.n != 0) {
		__builtin_trap(); /* a failed parse leaves the list as it was */
	}
	copa_auth_challenges_release(&c);
	return 0;
}
