/*
 * qos_split.c - dividing a guest-wide rate among cores (qos_split.h).
 */
#include "qos_split.h"

void sc_qos_split(const double *served, const bool *held, const bool *present, unsigned n,
                  double *share)
{
    unsigned npresent = 0;
    double total = 0;
    for (unsigned i = 0; i < n; i++) {
        if (!present[i])
            continue;
        npresent++;
        total += served[i] > 0 ? served[i] * (held[i] ? 2 : 1) : 0;
    }
    if (!npresent) {
        for (unsigned i = 0; i < n; i++)
            share[i] = 1.0 / n;
        return;
    }
    /* nothing served anywhere: equal parts; else by service, over a floor */
    double floor = total > 0 ? total / (8.0 * npresent) : 1.0;
    double sum = 0;
    for (unsigned i = 0; i < n; i++) {
        share[i] = 0;
        if (!present[i])
            continue;
        share[i] = floor + (served[i] > 0 ? served[i] * (held[i] ? 2 : 1) : 0);
        sum += share[i];
    }
    for (unsigned i = 0; i < n; i++)
        share[i] /= sum;
}
