/*
 * sctl_schema.h - a xenstore-schema/<class>.json in memory: loaded (duplicate
 * JSON names refused), its entries checked for completeness and consistency,
 * and live keys matched against it (a key's path, its value by format, range
 * and values, whether the device's state requires it).  The one
 * implementation behind `sidecorectl check-xenstore` (sctl_xscheck.c) and the
 * schema unit tests (tests/tools/schema_check.c).
 *
 * Paths are relative to an entry's dir ("backend", "frontend", "home");
 * "%u" in a schema path matches one or more decimal digits.
 * Single-threaded; results point into the schema or into the caller's
 * buffer and live as long as those.
 */
#ifndef SCTL_SCHEMA_H
#define SCTL_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct sctl_schema {
    json_t *json;     /* the whole file */
    json_t *keys;     /* its "keys" array (borrowed from json) */
    const char *device;  /* "vbd", "vif" (borrowed from json) */
};

/* Loads `file`: 0, or a negative errno with the reason in err
 * ("<file>:<line>: <text>"; -EINVAL for a file that is no schema). */
int sctl_schema_load(struct sctl_schema *s, const char *file, char *err, size_t errlen);
void sctl_schema_free(struct sctl_schema *s);

/* An entry's field as a string, NULL when absent or not a string. */
const char *sctl_schema_str(json_t *entry, const char *field);

/* Whether entry `k` is complete and consistent (dir of "dirs", writer and
 * reader roles, required, a known format, an enum's values, a range
 * [low, high] whose high may name a key, a default only on optional keys,
 * required_from a XenbusState on required keys only, a meaning): 0, or
 * -EINVAL with "<dir>/<path>: <what is wrong>" in msg. */
int sctl_schema_entry_check(const struct sctl_schema *s, json_t *k, char *msg, size_t len);

/* sctl_schema_entry_check over every entry, and no (dir, path) twice: 0,
 * or -EINVAL with the first problem in msg. */
int sctl_schema_check_all(const struct sctl_schema *s, char *msg, size_t len);

/* The entry of `dir` whose path matches `rel` ("queue-0/ring-ref" matches
 * "queue-%u/ring-ref"), or NULL. */
json_t *sctl_schema_find(const struct sctl_schema *s, const char *dir, const char *rel);
/* `rel` is a directory on the way to some entry of `dir` ("queue-1"). */
bool sctl_schema_is_parent(const struct sctl_schema *s, const char *dir, const char *rel);

/* A key from the code (with %u for numbers) is described if some schema
 * path is it, ends in "/<key>" or begins with "<key>/". */
bool sctl_schema_described(const struct sctl_schema *s, const char *key);

/* Whether `value` is a valid value of entry `k`: 0, or -EINVAL with what
 * was expected in `expected` ("uint in [1, 6]", "one of r, w, w!, rw").
 * `high` is the bound of a range whose high names another key (its value,
 * read by the caller; NULL: that bound is not checked). */
int sctl_schema_value_check(json_t *k, const char *value, const char *high,
                            char *expected, size_t len);

/* Whether a required entry must be present in a device whose side (the
 * entry's dir) is in XenbusState `state`: from the entry's required_from
 * state on (default 1, Initialising); in Closing and Closed (5, 6) only
 * the keys required from InitWait (2) or earlier, since a device that
 * closes before connecting never had the others. */
bool sctl_schema_required_in(json_t *k, unsigned state);

/* A XenbusState's name ("Connected"), "?" for others. */
const char *sctl_schema_state_name(unsigned state);

#endif
