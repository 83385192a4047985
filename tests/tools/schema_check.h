/*
 * schema_check.h - test helper: keeps a xenstore-schema/<class>.json true.
 * One checker for every device class; a class's test gives a table (struct
 * schema_check: its schema, its sources, the keys it must hold) and runs the
 * checks as cmocka tests:
 *   - the schema parses (duplicate JSON names refused) and every entry is
 *     complete and consistent (sctl_schema_entry_check, the same code
 *     `sidecorectl check-xenstore` loads a schema with); no (dir, path) twice;
 *   - the protocol's keys (must_have) are all there;
 *   - every key literal in the class's and the bus's sources is described.
 * Keys are taken from the sources as string literals of three shapes:
 *   "%s/<key>"                 a path format (<key> may hold '/', as in
 *                              "%s/queue-%u/tx-ring-ref");
 *   <dir>, "<key>"             a literal after a directory argument (bp, fp,
 *                              be, fe, dir, qdir, bdir, fdir, or a name
 *                              ending in _path or _dir);
 *   "feature-sg", ...          a hyphenated literal whose first word matches
 *                              key_words (NULL: any word), so that a class's
 *                              own setting names and log words are not taken
 *                              for keys.
 * Integer conversions are read as %u ("queue-%d" is "queue-%u"); a literal
 * holding %s is a composed path, not a key.  The tree is found from the
 * current directory or from $SC_BUILD/.. (the repository).
 * cmocka tests only: failures assert; main thread.
 */
#ifndef SC_TEST_SCHEMA_CHECK_H
#define SC_TEST_SCHEMA_CHECK_H

#include <stdbool.h>

#include "sctl_schema.h"

struct schema_check {
    /* the table, given by the test */
    const char *schema;                 /* "xenstore-schema/<class>.json" */
    const char *const *class_sources;   /* globs relative to the tree, NULL-ended */
    const char *const *bus_sources;     /* files relative to the tree, NULL-ended */
    const char *const *must_have;       /* "<dir> <path>", NULL-ended; may be NULL */
    const char *const *not_keys;        /* literals of a key's shape that are not keys;
                                           may be NULL */
    const char *key_words;              /* ERE alternation of a hyphenated key's first
                                           word ("feature|request"); NULL: any */
    unsigned min_entries;               /* the schema has at least this many keys */
    unsigned min_class_keys;            /* the scans find at least this many literals, */
    unsigned min_bus_keys;              /* so the scan itself is known to work */
    /* set by schema_check_load */
    char root[4096];
    struct sctl_schema s;
};

/* Loads c->schema (group setup): 0, or -1 with the reason on stderr. */
int schema_check_load(struct schema_check *c);
/* Drops it (group teardown). */
void schema_check_unload(struct schema_check *c);

/* The checks, each a whole cmocka test. */
void schema_check_entries(const struct schema_check *c);
void schema_check_must_have(const struct schema_check *c);
void schema_check_class_sources(const struct schema_check *c);
void schema_check_bus_sources(const struct schema_check *c);

/* A key from the code is described if some schema path is it, ends in
 * "/<key>" or begins with "<key>/". */
bool schema_check_described(const struct schema_check *c, const char *key);

/* A scan of some text (the scanner's own test): literals found, and the
 * undescribed ones as "\n#   <what>: \"<key>\"" lines. */
struct schema_scan {
    unsigned found;
    char missing[2048];
};
void schema_check_scan_text(const struct schema_check *c, const char *text, const char *what,
                            struct schema_scan *sc);

#endif
