#include "util/json.h"

#include "util/fs.h"
#include "util/mem.h"

#include <fcntl.h>
#include <strings.h>

json_t *copa_json_parse(const void *data, size_t n, size_t max, const char *what,
                        struct copa_err *err)
{
	json_error_t je;
	json_t *v;

	if (n == 0) {
		copa_err_set(err, COPA_E_INPUT, "%s is empty", what);
		return NULL;
	}
	if (max && n > max) {
		copa_err_set(err, COPA_E_LIMIT, "%s is %zu bytes, more than the %zu allowed", what,
		             n, max);
		return NULL;
	}
	v = json_loadb(data, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
	if (!v) {
		copa_err_set(err, COPA_E_INPUT, "%s is not valid JSON: %s at line %d column %d",
		             what, je.text, je.line, je.column);
		return NULL;
	}
	return v;
}

json_t *copa_json_load_file(const char *path, size_t max, const char *what, struct copa_err *err)
{
	struct copa_buf b = COPA_BUF_INIT;
	json_t *v;

	if (copa_fs_read_file(AT_FDCWD, path, max, &b, err) < 0) {
		copa_buf_release(&b);
		return NULL;
	}
	v = copa_json_parse(b.p, b.len, max, what, err);
	copa_buf_release(&b);
	return v;
}

json_t *copa_json_get_ci(const json_t *obj, const char *key)
{
	const char *k;
	json_t *v;

	if (!json_is_object(obj))
		return NULL;
	v = json_object_get(obj, key);
	if (v)
		return v;
	json_object_foreach((json_t *)(uintptr_t)obj, k, v)
	{
		if (strcasecmp(k, key) == 0)
			return v;
	}
	return NULL;
}

const char *copa_json_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

json_t *copa_json_obj(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_object(v) ? v : NULL;
}

json_t *copa_json_arr(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_array(v) ? v : NULL;
}

const char *copa_json_str_ci(const json_t *obj, const char *key)
{
	return json_string_value(copa_json_get_ci(obj, key));
}

json_t *copa_json_obj_ci(const json_t *obj, const char *key)
{
	json_t *v = copa_json_get_ci(obj, key);

	return json_is_object(v) ? v : NULL;
}

json_t *copa_json_arr_ci(const json_t *obj, const char *key)
{
	json_t *v = copa_json_get_ci(obj, key);

	return json_is_array(v) ? v : NULL;
}

bool copa_json_int(const json_t *obj, const char *key, json_int_t *out)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_integer(v))
		return false;
	*out = json_integer_value(v);
	return true;
}

static int dump_cb(const char *buffer, size_t size, void *data)
{
	return copa_buf_add(data, buffer, size);
}

int copa_json_dump(const json_t *v, int indent, struct copa_buf *out, struct copa_err *err)
{
	size_t flags = JSON_ENCODE_ANY | JSON_PRESERVE_ORDER;

	flags |= indent > 0 ? JSON_INDENT(indent) : JSON_COMPACT;
	copa_buf_reset(out);
	if (json_dump_callback(v, dump_cb, out, flags) < 0 || out->overflow)
		return copa_err_set(err, out->overflow ? COPA_E_LIMIT : COPA_E_BUG,
		                    "cannot serialise JSON");
	if (!out->p)
		copa_buf_add(out, "", 0);
	return 0;
}

void copa_json_set_str(json_t *obj, const char *key, const char *value)
{
	if (value)
		json_object_set_new(obj, key, json_string(value));
}
