/*
 * The hostile control domain: what a caller that tries to crash, hang or read
 * hvmetal gets (issue 9). Each check names the defect it covers.
 */
#ifndef HVTEST_HOSTILE_H
#define HVTEST_HOSTILE_H

#include <hvmetal/abi.h>

void test_hostile_cd(const struct hvmetal_info *info);

#endif
