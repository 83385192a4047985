/*
 * numparse.h - the decimal number at the start of a setting's value, for
 * the parsers that then read a suffix of their own (config sizes, memory
 * budgets).  Contract: pure, any thread.
 */
#ifndef SC_NUMPARSE_H
#define SC_NUMPARSE_H

/* The digits at s (at least one, no sign, no space) into *out, *end after
 * them.  0, or -EINVAL (no digit, or more than an unsigned long long). */
int sc_parse_decimal(const char *s, unsigned long long *out, const char **end);

#endif
