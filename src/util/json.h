/*
 * json.h: jansson helpers with caps for untrusted documents.
 *
 * Reports, manifests, configs and registry answers are parsed with a size
 * cap (checked before parsing) and accessed through typed getters that
 * return NULL for a missing key or a value of the wrong type, so callers
 * write one error path per required field. copa_json_get_ci() matches keys
 * case-insensitively when there is no exact match, as Go's encoding/json does
 * (scanner reports and copa's native format are written by Go programs).
 */
#ifndef COPA_UTIL_JSON_H
#define COPA_UTIL_JSON_H

#include "util/buf.h"
#include "util/err.h"

#include <jansson.h>
#include <stdbool.h>

/*
 * Parses data (n bytes) as one JSON document, refusing more than max bytes.
 * `what` names the document in errors ("report 'r.json'"). Returns a new
 * reference or NULL.
 */
json_t *copa_json_parse(const void *data, size_t n, size_t max, const char *what,
                        struct copa_err *err);

/* Reads and parses a file with copa_json_parse's caps. */
json_t *copa_json_load_file(const char *path, size_t max, const char *what, struct copa_err *err);

/* Object member by exact key, else by case-insensitive key. Borrowed or NULL. */
json_t *copa_json_get_ci(const json_t *obj, const char *key);

/* Typed getters: borrowed values, NULL when missing or of another type. */
const char *copa_json_str(const json_t *obj, const char *key);
json_t *copa_json_obj(const json_t *obj, const char *key);
json_t *copa_json_arr(const json_t *obj, const char *key);
/* Case-insensitive variants (see copa_json_get_ci). */
const char *copa_json_str_ci(const json_t *obj, const char *key);
json_t *copa_json_obj_ci(const json_t *obj, const char *key);
json_t *copa_json_arr_ci(const json_t *obj, const char *key);

/* Integer member; returns false when missing or not an integer. */
bool copa_json_int(const json_t *obj, const char *key, json_int_t *out);

/*
 * Serialises v into out (replacing its contents) compactly and with keys in
 * insertion order. `indent` > 0 pretty-prints with that many spaces.
 */
int copa_json_dump(const json_t *v, int indent, struct copa_buf *out, struct copa_err *err);

/* Sets obj[key] to a new string (no-op when value is NULL). */
void copa_json_set_str(json_t *obj, const char *key, const char *value);

#endif
