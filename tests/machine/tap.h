/* TAP on COM1 for the in-machine suite: "ok N - name" / "not ok N - name", plan last. */
#ifndef HVTEST_TAP_H
#define HVTEST_TAP_H

#include <stdbool.h>

bool tap_ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints the plan; returns the number of failed tests. */
unsigned tap_done(void);

#endif
