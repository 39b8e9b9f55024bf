/*
 * manifest.c: the update manifest and the OS table.
 */
#include "report/manifest.h"

#include "util/mem.h"
#include "util/strmap.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------ OS table */

#define P COPA_OS_PATCHABLE
#define L COPA_OS_PLANNED
#define U COPA_OS_UNSUPPORTED

static const struct copa_os_info os_table[] = {
    {"debian", COPA_FAM_DEB, P, "debian", "Debian"},
    {"ubuntu", COPA_FAM_DEB, P, "ubuntu", "Ubuntu"},
    {"raspbian", COPA_FAM_DEB, U, "raspbian", "Raspbian"},
    {"echo", COPA_FAM_DEB, U, "echo", "Echo"},
    {"alpine", COPA_FAM_APK, P, "alpine", "Alpine Linux"},
    {"wolfi", COPA_FAM_APK, P, "wolfi", "Wolfi"},
    {"chainguard", COPA_FAM_APK, P, "chainguard", "Chainguard OS"},
    {"minimos", COPA_FAM_APK, U, "minimos", "MinimOS"},
    {"postmarketos", COPA_FAM_APK, U, "postmarketos", "postmarketOS"},
    {"redhat", COPA_FAM_RPM, P, "redhat", "Red Hat Enterprise Linux"},
    {"centos", COPA_FAM_RPM, P, "centos", "CentOS"},
    {"centos-stream", COPA_FAM_RPM, P, "centos", "CentOS Stream"},
    {"rocky", COPA_FAM_RPM, P, "rocky", "Rocky Linux"},
    {"alma", COPA_FAM_RPM, P, "alma", "AlmaLinux"},
    {"oracle", COPA_FAM_RPM, P, "oracle", "Oracle Linux"},
    {"amazon", COPA_FAM_RPM, P, "amazon", "Amazon Linux"},
    {"cbl-mariner", COPA_FAM_RPM, P, "cbl-mariner", "CBL-Mariner"},
    {"azurelinux", COPA_FAM_RPM, P, "azurelinux", "Azure Linux"},
    {"sles", COPA_FAM_RPM, L, "suse", "SUSE Linux Enterprise Server"},
    {"opensuse-leap", COPA_FAM_RPM, L, "opensuse", "openSUSE Leap"},
    {"opensuse-tumbleweed", COPA_FAM_RPM, L, "opensuse", "openSUSE Tumbleweed"},
    {"opensuse", COPA_FAM_RPM, L, "opensuse", "openSUSE"},
    {"slem", COPA_FAM_RPM, U, "suse", "SUSE Linux Enterprise Micro"},
    {"photon", COPA_FAM_RPM, U, "photon", "Photon OS"},
    {"fedora", COPA_FAM_RPM, P, "fedora", "Fedora"},
    {"coreos", COPA_FAM_RPM, U, "coreos", "Fedora CoreOS"},
    {"scientific", COPA_FAM_RPM, U, "scientific", "Scientific Linux"},
    /* Families without a fixed package format here: the report's package
     * types (Grype artifact.type, Trivy purls) decide, if there are any. */
    {"cleanstart", COPA_FAM_NONE, U, "cleanstart", "CleanStart"},
    {"secureos", COPA_FAM_NONE, U, "secureos", "SecureOS"},
    {"bottlerocket", COPA_FAM_NONE, U, "bottlerocket", "Bottlerocket"},
    {"activestate", COPA_FAM_NONE, U, "activestate", "ActiveState"},
    {"archlinux", COPA_FAM_NONE, U, "arch", "Arch Linux"},
    {"gentoo", COPA_FAM_NONE, U, "gentoo", "Gentoo"},
    {"busybox", COPA_FAM_NONE, U, "busybox", "BusyBox"},
    {"windows", COPA_FAM_NONE, U, "windows", "Windows"},
};

#undef P
#undef L
#undef U

/* Other spellings: Grype distro types, os-release IDs, old Trivy names. */
static const struct {
	const char *alias, *id;
} os_aliases[] = {
    {"debian gnu/linux", "debian"},
    {"alpine linux", "alpine"},
    {"rhel", "redhat"},
    {"red hat", "redhat"},
    {"red hat enterprise linux", "redhat"},
    {"centos stream", "centos-stream"},
    {"rockylinux", "rocky"},
    {"rocky linux", "rocky"},
    {"almalinux", "alma"},
    {"oraclelinux", "oracle"},
    {"ol", "oracle"},
    {"oracle linux", "oracle"},
    {"oracle linux server", "oracle"},
    {"amazonlinux", "amazon"},
    {"amzn", "amazon"},
    {"amazon linux", "amazon"},
    {"mariner", "cbl-mariner"},
    {"common base linux mariner", "cbl-mariner"},
    {"azure linux", "azurelinux"},
    {"microsoft azure linux", "azurelinux"},
    {"suse linux enterprise server", "sles"},
    {"opensuseleap", "opensuse-leap"},
    {"opensuse.leap", "opensuse-leap"},
    {"opensuse leap", "opensuse-leap"},
    {"opensuse.tumbleweed", "opensuse-tumbleweed"},
    {"opensuse tumbleweed", "opensuse-tumbleweed"},
    {"sle-micro", "slem"},
    {"sl-micro", "slem"},
    {"sle-micro-rancher", "slem"},
    {"suse linux enterprise micro", "slem"},
    {"vmware photon os", "photon"},
    {"fedora coreos", "coreos"},
    {"scientific linux", "scientific"},
    {"clnstrt", "cleanstart"},
    {"arch", "archlinux"},
    {"arch linux", "archlinux"},
};

/* copa's CanonicalOSType substring rules, in its order (pkg/utils/os.go). */
static const struct {
	const char *needle, *id;
} os_substrings[] = {
    {"opensuse-leap", "opensuse-leap"},
    {"opensuse leap", "opensuse-leap"},
    {"opensuse.leap", "opensuse-leap"},
    {"opensuse-tumbleweed", "opensuse-tumbleweed"},
    {"opensuse tumbleweed", "opensuse-tumbleweed"},
    {"opensuse.tumbleweed", "opensuse-tumbleweed"},
    {"sles", "sles"},
    {"suse linux enterprise server", "sles"},
    {"almalinux", "alma"},
    {"alma", "alma"},
    {"azurelinux", "azurelinux"},
    {"azure linux", "azurelinux"},
    {"cbl-mariner", "cbl-mariner"},
    {"mariner", "cbl-mariner"},
    {"redhat", "redhat"},
    {"red hat", "redhat"},
    {"alpine", "alpine"},
    {"debian", "debian"},
    {"ubuntu", "ubuntu"},
    {"amazon", "amazon"},
    {"centos", "centos"},
    {"rocky", "rocky"},
    {"oracle", "oracle"},
    {"archlinux", "archlinux"},
};

static const struct copa_os_info *by_id(const char *id)
{
	for (size_t i = 0; i < COPA_ARRAY_SIZE(os_table); i++)
		if (!strcmp(os_table[i].id, id))
			return &os_table[i];
	COPA_BUG("os alias names unknown id '%s'", id);
}

const struct copa_os_info *copa_os_lookup(const char *name)
{
	char low[128];
	size_t n;

	if (!name)
		return NULL;
	n = strlen(name);
	if (n == 0 || n >= sizeof(low))
		return NULL;
	for (size_t i = 0; i <= n; i++)
		low[i] = (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] - 'A' + 'a') : name[i];
	for (size_t i = 0; i < COPA_ARRAY_SIZE(os_table); i++)
		if (!strcmp(os_table[i].id, low))
			return &os_table[i];
	for (size_t i = 0; i < COPA_ARRAY_SIZE(os_aliases); i++)
		if (!strcmp(os_aliases[i].alias, low))
			return by_id(os_aliases[i].id);
	for (size_t i = 0; i < COPA_ARRAY_SIZE(os_substrings); i++)
		if (strstr(low, os_substrings[i].needle))
			return by_id(os_substrings[i].id);
	return NULL;
}

const char *copa_os_patchable_list(void)
{
	return "debian, ubuntu, alpine, wolfi, chainguard, and rpm images with an sqlite database: "
	       "the RHEL 9 family, fedora, amazon linux 2023, cbl-mariner and azurelinux";
}

/* ---------------------------------------------------------- manifests */

struct copa_update_manifest *copa_update_manifest_new(const char *source, const char *scanner)
{
	struct copa_update_manifest *m = copa_xcalloc(1, sizeof(*m));

	m->arena.block_size = 256 * 1024;
	m->source = copa_update_manifest_strdup(m, source);
	m->scanner = copa_update_manifest_strdup(m, scanner);
	m->os_type = m->os_version = m->arch = m->variant = m->artifact = "";
	m->fam = COPA_FAM_NONE;
	return m;
}

void copa_update_manifest_free(struct copa_update_manifest *m)
{
	if (!m)
		return;
	free(m->entries);
	free(m->unfixable);
	for (size_t i = 0; i < m->n_updates; i++)
		free(m->updates[i].vuln_ids);
	free(m->updates);
	copa_arena_release(&m->arena);
	free(m);
}

const char *copa_update_manifest_strdup(struct copa_update_manifest *m, const char *s)
{
	return copa_arena_strdup(&m->arena, s ? s : "");
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* GOARCH spellings of the architectures scanners and plugins write. */
static const struct {
	const char *from, *arch, *variant;
} arch_aliases[] = {
    {"x86_64", "amd64", NULL},      {"x86-64", "amd64", NULL},
    {"aarch64", "arm64", NULL},     {"armv8", "arm64", NULL},
    {"armv7l", "arm", "v7"},        {"armv7", "arm", "v7"},
    {"armv7hl", "arm", "v7"},       {"armhf", "arm", "v7"},
    {"armv6l", "arm", "v6"},        {"armv6", "arm", "v6"},
    {"armel", "arm", "v6"},         {"armv5l", "arm", "v5"},
    {"i386", "386", NULL},          {"i486", "386", NULL},
    {"i586", "386", NULL},          {"i686", "386", NULL},
    {"x86", "386", NULL},           {"ppc64el", "ppc64le", NULL},
    {"mips64el", "mips64le", NULL}, {"loongarch64", "loong64", NULL},
};

static int check_field(const char *what, const char *v, size_t max, struct copa_err *err)
{
	if (strlen(v) > max)
		return copa_err_set(err, COPA_E_LIMIT, "%s is longer than %zu bytes", what, max);
	if (has_control(v))
		return copa_err_set(err, COPA_E_INPUT, "%s '%s' contains a control character", what,
		                    v);
	return 0;
}

int copa_update_manifest_set_os(struct copa_update_manifest *m, const char *os_name,
                                const char *version, const char *arch, const char *variant,
                                enum copa_pkgfam pkg_hint, struct copa_err *err)
{
	const struct copa_os_info *os;
	char low[64];
	size_t n;

	if (!os_name || !*os_name)
		return copa_err_set(err, COPA_E_INPUT, "no OS type");
	if (check_field("OS type", os_name, 128, err) < 0)
		return -1;
	os = copa_os_lookup(os_name);
	if (!os)
		return copa_err_set(err, COPA_E_INPUT,
		                    "unknown OS family '%s' (copa knows debian, ubuntu, alpine, "
		                    "redhat, centos, rocky, alma, oracle, amazon, cbl-mariner, "
		                    "azurelinux, sles, opensuse-leap, opensuse-tumbleweed and "
		                    "other families Trivy and Grype report)",
		                    os_name);
	if (!version || !*version)
		return copa_err_set(err, COPA_E_INPUT, "no version for OS '%s'", os_name);
	if (check_field("OS version", version, 128, err) < 0)
		return -1;
	m->os = os;
	m->os_type = os->id;
	m->fam = os->fam != COPA_FAM_NONE ? os->fam : pkg_hint;
	m->os_version = copa_update_manifest_strdup(m, version);

	arch = arch ? arch : "";
	variant = variant ? variant : "";
	if (check_field("architecture", arch, 32, err) < 0 ||
	    check_field("variant", variant, 32, err) < 0)
		return -1;
	n = strlen(arch);
	for (size_t i = 0; i <= n; i++)
		low[i] = (arch[i] >= 'A' && arch[i] <= 'Z') ? (char)(arch[i] - 'A' + 'a') : arch[i];
	m->arch = copa_update_manifest_strdup(m, low);
	m->variant = copa_update_manifest_strdup(m, variant);
	for (size_t i = 0; i < COPA_ARRAY_SIZE(arch_aliases); i++)
		if (!strcmp(low, arch_aliases[i].from)) {
			m->arch = arch_aliases[i].arch;
			if (!*variant && arch_aliases[i].variant)
				m->variant = arch_aliases[i].variant;
			break;
		}
	return 0;
}

int copa_update_manifest_add(struct copa_update_manifest *m, const struct copa_entry *e,
                             struct copa_err *err)
{
	const char *fields[] = {e->name, e->installed, e->fixed, e->vuln_id, e->type, e->class};
	static const char *const names[] = {"package name",  "installed version",
	                                    "fixed version", "vulnerability ID",
	                                    "package type",  "package class"};
	struct copa_entry c;
	bool fixable;

	if (m->n_entries + m->n_unfixable >= COPA_MANIFEST_MAX_ENTRIES)
		return copa_err_set(err, COPA_E_LIMIT, "more than %d findings",
		                    COPA_MANIFEST_MAX_ENTRIES);
	for (size_t i = 0; i < COPA_ARRAY_SIZE(fields); i++)
		if (fields[i] && check_field(names[i], fields[i], COPA_MANIFEST_MAX_FIELD, err) < 0)
			return -1;
	if (!e->name || !*e->name)
		return copa_err_set(err, COPA_E_INPUT,
		                    "a finding (vulnerability '%s') has no package name",
		                    e->vuln_id ? e->vuln_id : "");
	if (!e->vuln_id || !*e->vuln_id)
		return copa_err_set(err, COPA_E_INPUT,
		                    "package '%s': a finding has no vulnerability ID", e->name);
	c.name = copa_update_manifest_strdup(m, e->name);
	c.installed = copa_update_manifest_strdup(m, e->installed);
	c.fixed = copa_update_manifest_strdup(m, e->fixed);
	c.vuln_id = copa_update_manifest_strdup(m, e->vuln_id);
	c.type = copa_update_manifest_strdup(m, e->type);
	c.class = copa_update_manifest_strdup(m, e->class);
	fixable = *c.fixed != '\0';
	if (fixable) {
		m->entries = copa_xgrow(m->entries, &m->cap_entries, m->n_entries + 1, sizeof(c));
		m->entries[m->n_entries++] = c;
	} else {
		m->unfixable =
		    copa_xgrow(m->unfixable, &m->cap_unfixable, m->n_unfixable + 1, sizeof(c));
		m->unfixable[m->n_unfixable++] = c;
	}
	return 0;
}

static int cmp_update(const void *a, const void *b)
{
	return strcmp(((const struct copa_update *)a)->name, ((const struct copa_update *)b)->name);
}

int copa_update_manifest_finish(struct copa_update_manifest *m, struct copa_err *err)
{
	struct copa_strmap by_name = COPA_STRMAP_INIT, seen = COPA_STRMAP_INIT;
	size_t *id_cap = NULL, upd_cap = 0;
	int rc = -1;

	if (!m->os)
		COPA_BUG("manifest finished before its OS was set");
	if (m->n_entries && m->fam == COPA_FAM_NONE) {
		copa_err_set(err, COPA_E_UNSUPPORTED,
		             "copa knows no package format or version ordering for OS '%s', so it "
		             "cannot order the fixed versions of its %zu findings",
		             m->os_type, m->n_entries);
		goto out;
	}
	for (size_t i = 0; i < m->n_entries; i++) {
		const struct copa_entry *e = &m->entries[i];
		const char *why;

		if (*e->installed && (why = copa_version_invalid_reason(m->fam, e->installed))) {
			copa_err_set(err, COPA_E_INPUT,
			             "package '%s' (%s): installed version '%s' is not a valid %s "
			             "version: %s",
			             e->name, e->vuln_id, e->installed, copa_pkgfam_tool(m->fam),
			             why);
			goto out;
		}
		if ((why = copa_version_invalid_reason(m->fam, e->fixed))) {
			copa_err_set(
			    err, COPA_E_INPUT,
			    "package '%s' (%s): fixed version '%s' is not a valid %s version: %s",
			    e->name, e->vuln_id, e->fixed, copa_pkgfam_tool(m->fam), why);
			goto out;
		}
	}
	for (size_t i = 0; i < m->n_entries; i++) {
		const struct copa_entry *e = &m->entries[i];
		size_t nlen = strlen(e->name), klen;
		struct copa_update *u;
		uint32_t idx;
		char *key;

		if (!copa_strmap_get(&by_name, e->name, nlen, &idx)) {
			idx = (uint32_t)m->n_updates;
			m->updates =
			    copa_xgrow(m->updates, &upd_cap, m->n_updates + 1, sizeof(*m->updates));
			id_cap = copa_xrealloc(id_cap, upd_cap * sizeof(*id_cap));
			u = &m->updates[m->n_updates++];
			memset(u, 0, sizeof(*u));
			id_cap[idx] = 0;
			u->name = e->name;
			u->installed = e->installed;
			u->fixed = e->fixed;
			u->type = e->type;
			u->class = e->class;
			copa_strmap_put(&by_name, e->name, nlen, idx);
		} else {
			int r;

			u = &m->updates[idx];
			if (copa_version_cmp(m->fam, e->fixed, u->fixed, &r, err) < 0)
				goto out;
			if (r > 0)
				u->fixed = e->fixed;
		}
		/* name NUL vuln: one arena key per (package, vulnerability). */
		klen = nlen + 1 + strlen(e->vuln_id);
		key = copa_arena_alloc(&m->arena, klen + 1);
		memcpy(key, e->name, nlen + 1);
		memcpy(key + nlen + 1, e->vuln_id, strlen(e->vuln_id) + 1);
		if (!copa_strmap_get(&seen, key, klen, &idx)) {
			copa_strmap_put(&seen, key, klen, 1);
			u->vuln_ids = copa_xgrow(u->vuln_ids, &id_cap[u - m->updates],
			                         u->n_vuln_ids + 1, sizeof(*u->vuln_ids));
			u->vuln_ids[u->n_vuln_ids++] = e->vuln_id;
		}
	}
	if (m->n_updates > 1)
		qsort(m->updates, m->n_updates, sizeof(*m->updates), cmp_update);
	rc = 0;
out:
	free(id_cap);
	copa_strmap_release(&by_name);
	copa_strmap_release(&seen);
	return rc;
}

void copa_update_manifest_platform(const struct copa_update_manifest *m, struct copa_buf *out)
{
	copa_buf_reset(out);
	copa_buf_adds(out, "linux");
	if (*m->arch) {
		copa_buf_addf(out, "/%s", m->arch);
		if (*m->variant)
			copa_buf_addf(out, "/%s", m->variant);
	}
}

const char *copa_pkg_arch(enum copa_pkgfam fam, const char *goarch, const char *variant)
{
	static const struct {
		const char *go, *variant, *deb, *rpm, *apk;
	} t[] = {
	    {"amd64", NULL, "amd64", "x86_64", "x86_64"},
	    {"arm64", NULL, "arm64", "aarch64", "aarch64"},
	    {"arm", "v6", "armel", "armv6hl", "armhf"},
	    {"arm", "v5", "armel", "armv5tel", "armhf"},
	    {"arm", NULL, "armhf", "armv7hl", "armv7"},
	    {"386", NULL, "i386", "i686", "x86"},
	    {"ppc64le", NULL, "ppc64el", "ppc64le", "ppc64le"},
	    {"s390x", NULL, "s390x", "s390x", "s390x"},
	    {"riscv64", NULL, "riscv64", "riscv64", "riscv64"},
	    {"mips64le", NULL, "mips64el", "mips64el", "mips64el"},
	    {"loong64", NULL, "loong64", "loongarch64", "loongarch64"},
	};

	if (!goarch)
		return "";
	for (size_t i = 0; i < COPA_ARRAY_SIZE(t); i++) {
		if (strcmp(t[i].go, goarch))
			continue;
		if (t[i].variant && (!variant || strcmp(t[i].variant, variant)))
			continue;
		switch (fam) {
		case COPA_FAM_DEB:
			return t[i].deb;
		case COPA_FAM_RPM:
			return t[i].rpm;
		case COPA_FAM_APK:
			return t[i].apk;
		case COPA_FAM_NONE:
			return goarch;
		}
	}
	return goarch;
}

void copa_update_manifest_list_release(struct copa_update_manifest_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		copa_update_manifest_free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void copa_update_manifest_list_push(struct copa_update_manifest_list *l,
                                    struct copa_update_manifest *m)
{
	l->v = copa_xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = m;
}

int copa_update_manifest_list_finish_push(struct copa_update_manifest_list *l,
                                          struct copa_update_manifest *m, struct copa_err *err)
{
	if (copa_update_manifest_finish(m, err) < 0) {
		copa_update_manifest_free(m);
		return -1;
	}
	copa_update_manifest_list_push(l, m);
	return 0;
}
