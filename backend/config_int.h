/*
 * config_int.h - between config.c (the generic settings, the file, the
 * command line) and config_class.c (the class modules' part).  Same
 * threads and returns as config.h.
 */
#ifndef SC_CONFIG_INT_H
#define SC_CONFIG_INT_H

#include <getopt.h>
#include <stdio.h>

#include "config.h"

/* Takes the modules (checked: a bad list is -EINVAL + message), their
 * default blobs and default types into c. */
int sc_config_class_init(struct sc_config *c, const struct sc_class_module *const *modules,
                         char *err, size_t errlen);
/* The `types` setting: a comma list of the modules' types. */
int sc_config_set_types(struct sc_config *c, const char *value, char *err, size_t errlen);
/* A class setting ("<class>.<key>" or an alias): 0; -EINVAL or -ENOENT
 * with a message naming key; 1 if key is not a class's (nothing set). */
int sc_config_set_class(struct sc_config *c, const char *key, const char *value, char *err,
                        size_t errlen);
/* getopt_long's table: `generic`, then "--<class>.<key>" (with a value)
 * and each alias (a negated one as a flag).  Every entry whose val is
 * setting_val gets setting_val + its index instead.  One allocation (the
 * names after the table; free() it); NULL when out of memory. */
struct option *sc_config_class_options(const struct sc_config *c, const struct option *generic,
                                       size_t ngeneric, int setting_val);
/* getopt's "unknown option" for arg; for a dotted name, what is wrong. */
void sc_config_unknown_option(const struct sc_config *c, const char *arg, char *err,
                              size_t errlen);
/* --help lines of each module's settings and aliases. */
void sc_config_class_usage(FILE *out, const struct sc_class_module *const *modules);
/* Each module's "<class>.<key>" and aliases, one a line. */
void sc_config_class_list(FILE *out, const struct sc_class_module *const *modules);

/* A message into err (errlen bytes; NULL or 0: dropped), for every
 * setting's error in config.c and config_class.c. */
void sc_config_seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
