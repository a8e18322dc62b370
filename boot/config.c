#include "config.h"
#include "kernel/log.h"
#include "kernel/string.h"
#include "vmx/vmx_caps.h"

void config_defaults(struct hv_config *cfg)
{
	memcpy(cfg->next, CONFIG_DEFAULT_NEXT, sizeof(CONFIG_DEFAULT_NEXT));
	cfg->next_args[0] = 0;
	cfg->pool_mib = CONFIG_DEFAULT_POOL_MIB;
	cfg->max_cpus = CONFIG_MAX_CPUS;
	cfg->vmx_hide = 0;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* [s, e) with surrounding blanks removed. */
static void trim(const char **s, const char **e)
{
	while (*s < *e && is_space(**s))
		(*s)++;
	while (*e > *s && is_space((*e)[-1]))
		(*e)--;
}

static int key_is(const char *k, size_t n, const char *want)
{
	size_t wn = 0;

	while (want[wn])
		wn++;
	return n == wn && memcmp(k, want, n) == 0;
}

static void report(char *err, size_t errlen, unsigned line, const char *what)
{
	log_snprintf(err, errlen, "hvmetal.cfg line %u: %s", line, what);
}

/*
 * A decimal number of at most five digits in [min, max] into *out: NULL, or
 * why not (*out kept): bad, or range when it is a number out of bounds.
 */
static const char *parse_number(const char *v, size_t vn, uint32_t min, uint32_t max,
				uint32_t *out, const char *bad, const char *range)
{
	uint32_t n = 0;

	if (vn == 0 || vn > 5)
		return bad;
	for (size_t i = 0; i < vn; i++) {
		if (v[i] < '0' || v[i] > '9')
			return bad;
		n = n * 10 + (uint32_t)(v[i] - '0');
	}
	if (n < min || n > max)
		return range;
	*out = n;
	return 0;
}

/* Blank-separated names of VMX features, all known, or the line is refused whole. */
static const char *parse_hide(const char *v, size_t vn, uint32_t *out)
{
	static const struct { const char *name; uint32_t bit; } names[] = {
		{ "vpid", VMX_HIDE_VPID }, { "ept_1g", VMX_HIDE_EPT_1G },
		{ "apic_access", VMX_HIDE_APIC_ACCESS }, { "apicv", VMX_HIDE_APICV },
	};
	uint32_t hide = 0;

	for (size_t i = 0; i < vn; ) {
		size_t j = i, n;

		while (j < vn && !is_space(v[j]))
			j++;
		for (n = 0; n < sizeof(names) / sizeof(names[0]); n++)
			if (key_is(v + i, j - i, names[n].name))
				break;
		if (n == sizeof(names) / sizeof(names[0]))
			return "vmx_hide: expected vpid, ept_1g, apic_access or apicv";
		hide |= names[n].bit;
		for (i = j; i < vn && is_space(v[i]); i++)
			;
	}
	*out = hide;
	return 0;
}

static const char *parse_line(struct hv_config *cfg, const char *k, const char *ke,
			      const char *v, const char *ve)
{
	size_t kn = ke - k, vn = ve - v;

	if (key_is(k, kn, "next")) {
		if (vn >= CONFIG_PATH_MAX)
			return "next: path too long";
		if (key_is(v, vn, "none"))
			vn = 0;
		memcpy(cfg->next, v, vn);
		cfg->next[vn] = 0;
		return 0;
	}
	if (key_is(k, kn, "next_args")) {
		/* Printable ASCII only: it becomes UCS-2 one character each. */
		if (vn >= CONFIG_ARGS_MAX)
			return "next_args: too long (at most 511 characters)";
		for (size_t i = 0; i < vn; i++)
			if (v[i] < 0x20 || v[i] > 0x7e)
				return "next_args: only printable ASCII characters";
		memcpy(cfg->next_args, v, vn);
		cfg->next_args[vn] = 0;
		return 0;
	}
	if (key_is(k, kn, "pool_mib"))
		return parse_number(v, vn, CONFIG_MIN_POOL_MIB, CONFIG_MAX_POOL_MIB, &cfg->pool_mib,
				    "pool_mib: expected a number of MiB", "pool_mib: out of range (4..4096)");
	if (key_is(k, kn, "vmx_hide"))
		return parse_hide(v, vn, &cfg->vmx_hide);
	if (key_is(k, kn, "max_cpus"))
		return parse_number(v, vn, 1, CONFIG_MAX_CPUS, &cfg->max_cpus,
				    "max_cpus: expected a number of CPUs", "max_cpus: out of range (1..64)");
	return "unknown key";
}

const char *config_parse(struct hv_config *cfg, const char *text, size_t len,
			 char *err, size_t errlen)
{
	const char *end = text + len, *first = 0;
	unsigned line = 0;

	for (const char *s = text; s < end; line++) {
		const char *e = s, *eq, *why;

		while (e < end && *e != '\n')
			e++;
		const char *next = e + (e < end);

		for (const char *h = s; h < e; h++)
			if (*h == '#')
				e = h;
		trim(&s, &e);
		if (s < e) {
			for (eq = s; eq < e && *eq != '='; eq++)
				;
			if (eq == e) {
				why = "expected key = value";
			} else {
				const char *ke = eq, *v = eq + 1;

				trim(&s, &ke);
				trim(&v, &e);
				why = parse_line(cfg, s, ke, v, e);
			}
			if (why && !first) {
				report(err, errlen, line + 1, why);
				first = err;
			}
		}
		s = next;
	}
	return first;
}
