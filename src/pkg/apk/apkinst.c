/* apkinst.c: installed-database records from packages (see apkinst.h). */
#include "pkg/apk/apkinst.h"

#include "pkg/apk/apkindex.h"
#include "util/mem.h"

#include <stdio.h>
#include <string.h>

struct hdr_ctx {
	struct copa_apkdb *db;
	struct copa_apkdb_pkg *p;
};

static int hdr_line(void *ctx, size_t line, char letter, struct copa_blob value,
                    struct copa_blob raw, struct copa_err *err)
{
	struct hdr_ctx *c = ctx;

	if (letter == 0)
		return 0;
	return copa_apk_pkg_set(&c->db->arena, &c->p->pkg, letter, value, err) < 0 ? -1 : 0;
}

static struct copa_apk_dir *find_dir(struct copa_apkdb_pkg *p, struct copa_blob name)
{
	/* newest first: files follow their directory closely */
	for (size_t i = p->ndirs; i-- > 0;)
		if (copa_blob_eqs(name, p->dirs[i].name))
			return &p->dirs[i];
	return NULL;
}

/*
 * "uid:gid:mode[:xattr checksum]" when it differs from apk's default for the
 * kind (root, dflt, no extended attributes), else NULL.
 */
static const char *acl(char *buf, size_t n, const struct copa_apkfile_entry *e, unsigned dflt)
{
	if (e->uid == 0 && e->gid == 0 && (e->mode & 07777) == dflt && !e->xattr_csum[0])
		return NULL;
	snprintf(buf, n, "%llu:%llu:%o%s%s", (unsigned long long)e->uid, (unsigned long long)e->gid,
	         e->mode & 07777, e->xattr_csum[0] ? ":" : "", e->xattr_csum);
	return buf;
}

static const char *hardlink_csum(struct copa_apkdb_pkg *p, const char *target)
{
	const char *slash = strrchr(target, '/');
	struct copa_blob dir =
	    slash ? copa_blob(target, (size_t)(slash - target)) : copa_blob("", 0);
	const char *base = slash ? slash + 1 : target;
	struct copa_apk_dir *d = find_dir(p, dir);

	for (size_t i = 0; d && i < d->n; i++)
		if (strcmp(d->files[i].name, base) == 0)
			return d->files[i].csum ? d->files[i].csum : "";
	return NULL;
}

int copa_apkinst_record(struct copa_apkdb *db, const struct copa_apkfile *f, uint64_t apk_size,
                        struct copa_apkdb_pkg **out, struct copa_err *err)
{
	struct copa_apkdb_pkg *p = copa_apkdb_pkg_new(db);
	struct copa_buf hdr = COPA_BUF_INIT;
	struct hdr_ctx hc = {db, p};
	char buf[96];
	int r;

	/* the header goes through its own text, so every string lands in db's arena */
	copa_apk_pkg_write(&f->pkg, true, &hdr);
	r = copa_apk_lines(hdr.p, hdr.len, hdr_line, &hc, err);
	copa_buf_release(&hdr);
	if (r < 0)
		return copa_err_wrap(err, "package '%s'", f->pkg.name);
	p->pkg.csum = copa_arena_strdup(&db->arena, f->csum);
	p->pkg.size = apk_size;

	for (size_t i = 0; i < f->n; i++) {
		const struct copa_apkfile_entry *e = &f->entries[i];
		struct copa_blob name = copa_blob_str(e->name);

		if (e->name[0] == '.')
			continue;
		if (e->type == '5') {
			while (name.n > 1 && name.p[name.n - 1] == '/')
				name.n--;
			struct copa_apk_dir *d = find_dir(p, name);
			char *dname = copa_blob_dup(name);

			if (!d)
				d = copa_apkdb_add_dir(db, p, dname, NULL);
			free(dname);
			const char *a = acl(buf, sizeof(buf), e, 0755);

			d->acl = a ? copa_arena_strdup(&db->arena, a) : NULL;
			continue;
		}
		const char *slash = strrchr(e->name, '/');
		struct copa_blob dir =
		    slash ? copa_blob(e->name, (size_t)(slash - e->name)) : copa_blob("", 0);
		const char *base = slash ? slash + 1 : e->name;
		struct copa_apk_dir *d;
		const char *csum = e->csum[0] ? e->csum : NULL;

		if (strncmp(base, ".keep_", 6) == 0 && strlen(base) > 6)
			continue;
		d = find_dir(p, dir);
		if (!d) {
			if (dir.n)
				return copa_err_set(
				    err, COPA_E_PACKAGE,
				    "package '%s': '%s' has no directory entry in the "
				    "archive",
				    f->pkg.name, e->name);
			d = copa_apkdb_add_dir(db, p, "", NULL);
		}
		if (e->type == '1') {
			csum = hardlink_csum(p, e->linkname);
			if (!csum)
				return copa_err_set(
				    err, COPA_E_PACKAGE,
				    "package '%s': hard link '%s' to '%s', which the "
				    "package does not have",
				    f->pkg.name, e->name, e->linkname);
			if (!*csum)
				csum = NULL;
		}
		copa_apkdb_add_file(db, d, base, acl(buf, sizeof(buf), e, 0644), csum);
	}
	*out = p;
	return 0;
}
