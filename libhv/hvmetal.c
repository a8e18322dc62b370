#include <hvmetal/hvmetal.h>

bool hvmetal_present(void)
{
	uint32_t a, b, c, d;

	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
			 : "a"(HVMETAL_CPUID_SIGNATURE), "c"(0));
	return b == HVMETAL_CPUID_SIG_EBX && c == HVMETAL_CPUID_SIG_ECX &&
	       d == HVMETAL_CPUID_SIG_EDX && a >= HVMETAL_CPUID_FEATURES;
}

hv_return_t hvmetal_version(uint32_t *version)
{
	uint64_t v = 0;
	hv_return_t r = hvmetal_vmcall(HVMETAL_HC_VERSION, 0, 0, 0, &v);

	*version = (uint32_t)v;
	return r;
}

hv_return_t hvmetal_info(struct hvmetal_info *info)
{
	return hvmetal_vmcall(HVMETAL_HC_INFO, (uintptr_t)info, sizeof(*info), 0, 0);
}

hv_return_t hvmetal_selfcheck(struct hvmetal_selfcheck *sc)
{
	return hvmetal_vmcall(HVMETAL_HC_SELFCHECK, (uintptr_t)sc, 0, 0, 0);
}
