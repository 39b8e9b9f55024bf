/* Fuzz target: apt preferences files (records, pins, priorities) and pin matching. */
#include "pkg/deb/aptprefs.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct copa_apt_file files[] = {
	    {.status = true},
	    {.origin = "Debian",
	     .label = "Debian-Security",
	     .suite = "stable-security",
	     .codename = "bookworm-security",
	     .component = "main",
	     .arch = "amd64",
	     .host = "deb.debian.org"},
	    {.origin = "Debian Backports",
	     .suite = "bookworm-backports",
	     .component = "main",
	     .arch = "all",
	     .host = "127.0.0.1",
	     .not_automatic = true,
	     .but_automatic_upgrades = true},
	};
	static const char *const names[] = {"openssl", "libc6:i386", "libssl3", "a*b"};
	static const char *const versions[] = {"3.0.13-1~deb12u1", "1:2.36-9", "0", "*"};
	struct copa_err err = COPA_ERR_INIT;
	struct copa_apt_prefs p = {0};

	if (copa_apt_prefs_parse((const char *)data, size, "etc/apt/preferences", &p, NULL, &err) ==
	    0) {
		for (size_t i = 0; i < 4; i++)
			for (size_t k = 0; k < 3; k++) {
				const struct copa_apt_pin *why;

				(void)copa_apt_priority(&p, names[i], versions[i], &files[k], 3 - k,
				                        &why);
			}
	}
	copa_apt_prefs_release(&p);
	return 0;
}
