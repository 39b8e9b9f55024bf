/*
 * Fuzz target: what the registry client parses from registry and token
 * service answers: error bodies ({"errors":[...]}), token answers, config
 * "auth" values and scope sets. The first byte picks the parser.
 */
#include "registry/auth.h"
#include "registry/registry.h"
#include "util/mem.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct copa_err err = COPA_ERR_INIT;
	const char *p = (const char *)data + 1;
	size_t n = size ? size - 1 : 0;
	char *s;

	if (size == 0)
		return 0;
	s = copa_xstrndup(p, n); /* NUL-terminated copy for the string APIs */
	switch (data[0] % 4) {
	case 0: {
		char out[300];

		copa_registry_error_text(p, n, out, sizeof(out));
		for (const char *q = out; *q; q++)
			if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f)
				__builtin_trap(); /* messages stay printable */
		break;
	}
	case 1: {
		char *tok = NULL;
		long exp = 0;

		if (copa_token_parse(p, n, &tok, &exp, &err) == 0 && (exp < 60 || exp > 86400))
			__builtin_trap();
		free(tok);
		break;
	}
	case 2: {
		struct copa_cred c = {0};

		(void)copa_cred_decode_auth(s, &c, &err);
		copa_cred_release(&c);
		break;
	}
	case 3: {
		char *half = copa_xstrndup(s, strlen(s) / 2);

		(void)copa_scopes_cover(half, s + strlen(half));
		(void)copa_registry_repo_valid(s);
		(void)copa_registry_host_valid(s);
		free(half);
		break;
	}
	}
	free(s);
	return 0;
}
