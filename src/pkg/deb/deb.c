#include "pkg/deb/deb.h"

#include <stdlib.h>
#include <string.h>

void copa_deb_pkg_release(struct copa_deb_pkg *p)
{
	free(p->name);
	free(p->arch);
	free(p->version);
	free(p->multi_arch);
	free(p->old_version);
	free(p->url);
	free(p->filename);
	free(p->repo);
	free(p->deb_path);
	free(p->data_tar);
	memset(p, 0, sizeof(*p));
}
