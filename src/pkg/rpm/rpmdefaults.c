/*
 * rpmdefaults.c: the official repositories per distribution (see rpmdefaults.h).
 *
 * The texts follow the .repo files each distribution's release package
 * installs (azurelinux-repos, mariner-repos, fedora-repos, rocky-repos,
 * almalinux-repos, the UBI images' ubi.repo, centos-stream-repos,
 * amazonlinux-repos, oraclelinux-release-el9): the main repositories only,
 * no debuginfo, source or testing ones.
 */
#include "pkg/rpm/rpmdefaults.h"

#include "util/mem.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

struct dflt {
	const char *id;    /* os-release ID */
	const char *major; /* VERSION_ID up to the first '.', or NULL: any */
	const char *repo;
};

#define MSKEY "gpgkey=file:///etc/pki/rpm-gpg/MICROSOFT-RPM-GPG-KEY\n"

static const struct dflt table[] = {
    {"azurelinux", "3",
     "[azurelinux-official-base]\n"
     "name=Azure Linux Official Base $releasever $basearch\n"
     "baseurl=https://packages.microsoft.com/azurelinux/$releasever/prod/base/$basearch/\n"
     "gpgcheck=1\nrepo_gpgcheck=1\n" MSKEY},
    {"mariner", "2",
     "[mariner-official-base]\n"
     "name=CBL-Mariner Official Base $releasever $basearch\n"
     "baseurl=https://packages.microsoft.com/cbl-mariner/$releasever/prod/base/$basearch/\n"
     "gpgcheck=1\nrepo_gpgcheck=1\n" MSKEY},
    {"fedora", NULL,
     "[fedora]\nname=Fedora $releasever - $basearch\n"
     "metalink=https://mirrors.fedoraproject.org/metalink?repo=fedora-$releasever&arch=$basearch\n"
     "gpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-fedora-$releasever-$basearch\n"
     "[updates]\nname=Fedora $releasever - $basearch - Updates\n"
     "metalink=https://mirrors.fedoraproject.org/"
     "metalink?repo=updates-released-f$releasever&arch=$basearch\n"
     "gpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-fedora-$releasever-$basearch\n"},
    {"rocky", "9",
     "[baseos]\nname=Rocky Linux $releasever - BaseOS\n"
     "mirrorlist=https://mirrors.rockylinux.org/mirrorlist?arch=$basearch&repo=BaseOS-9\n"
     "gpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9\n"
     "[appstream]\nname=Rocky Linux $releasever - AppStream\n"
     "mirrorlist=https://mirrors.rockylinux.org/mirrorlist?arch=$basearch&repo=AppStream-9\n"
     "gpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9\n"},
    {"almalinux", "9",
     "[baseos]\nname=AlmaLinux $releasever - BaseOS\n"
     "mirrorlist=https://mirrors.almalinux.org/mirrorlist/9/baseos\n"
     "gpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-AlmaLinux-9\n"
     "[appstream]\nname=AlmaLinux $releasever - AppStream\n"
     "mirrorlist=https://mirrors.almalinux.org/mirrorlist/9/appstream\n"
     "gpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-AlmaLinux-9\n"},
    {"rhel", "9",
     "[ubi-9-baseos-rpms]\nname=Red Hat Universal Base Image 9 (RPMs) - BaseOS\n"
     "baseurl=https://cdn-ubi.redhat.com/content/public/ubi/dist/ubi9/9/$basearch/baseos/os/\n"
     "gpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-redhat-release\n"
     "[ubi-9-appstream-rpms]\nname=Red Hat Universal Base Image 9 (RPMs) - AppStream\n"
     "baseurl=https://cdn-ubi.redhat.com/content/public/ubi/dist/ubi9/9/$basearch/appstream/"
     "os/\n"
     "gpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-redhat-release\n"},
    {"rhel", "8",
     "[ubi-8-baseos-rpms]\nname=Red Hat Universal Base Image 8 (RPMs) - BaseOS\n"
     "baseurl=https://cdn-ubi.redhat.com/content/public/ubi/dist/ubi8/8/$basearch/baseos/os/\n"
     "gpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-redhat-release\n"
     "[ubi-8-appstream-rpms]\nname=Red Hat Universal Base Image 8 (RPMs) - AppStream\n"
     "baseurl=https://cdn-ubi.redhat.com/content/public/ubi/dist/ubi8/8/$basearch/appstream/"
     "os/\n"
     "gpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-redhat-release\n"},
    {"centos", "9",
     "[baseos]\nname=CentOS Stream 9 - BaseOS\n"
     "metalink=https://mirrors.centos.org/metalink?repo=centos-baseos-9-stream&arch=$basearch\n"
     "gpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-centosofficial\n"
     "[appstream]\nname=CentOS Stream 9 - AppStream\n"
     "metalink=https://mirrors.centos.org/"
     "metalink?repo=centos-appstream-9-stream&arch=$basearch\n"
     "gpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-centosofficial\n"},
    {"amzn", "2023",
     "[amazonlinux]\nname=Amazon Linux 2023 repository\n"
     "mirrorlist=https://cdn.amazonlinux.com/al2023/core/mirrors/$releasever/$basearch/"
     "mirror.list\n"
     "gpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-amazon-linux-2023\n"},
    {"ol", "9",
     "[ol9_baseos_latest]\nname=Oracle Linux 9 BaseOS Latest ($basearch)\n"
     "baseurl=https://yum.oracle.com/repo/OracleLinux/OL9/baseos/latest/$basearch/\n"
     "gpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-oracle\n"
     "[ol9_appstream]\nname=Oracle Linux 9 Application Stream Packages ($basearch)\n"
     "baseurl=https://yum.oracle.com/repo/OracleLinux/OL9/appstream/$basearch/\n"
     "gpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-oracle\n"},
};

const char *copa_rpm_default_repos(const char *id, const char *version_id)
{
	size_t vn = 0;

	if (!id)
		return NULL;
	if (version_id)
		vn = strcspn(version_id, ".");
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const struct dflt *d = &table[i];

		if (strcasecmp(d->id, id) != 0)
			continue;
		if (!d->major || (version_id && strlen(d->major) == vn &&
		                  strncmp(d->major, version_id, vn) == 0))
			return d->repo;
	}
	return NULL;
}

/* The length of "scheme://host[:port]" of an http(s) URL, or 0. */
static size_t origin_len(const char *url)
{
	size_t s;

	if (strncasecmp(url, "http://", 7) == 0)
		s = 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		s = 8;
	else
		return 0;
	s += strcspn(url + s, "/?#");
	return url[s - 1] == '/' ? 0 : s;
}

char *copa_rpm_default_rebase(const char *url, const char *mirror)
{
	size_t uo, mo, mn;

	if (!mirror || !*mirror)
		return copa_xstrdup(url);
	uo = origin_len(url);
	mo = origin_len(mirror);
	if (!uo || !mo)
		return NULL;
	mn = strlen(mirror);
	while (mn > mo && mirror[mn - 1] == '/')
		mn--;
	return copa_xasprintf("%.*s%s%s", (int)mn, mirror, url[uo] == '/' ? "" : "/", url + uo);
}
