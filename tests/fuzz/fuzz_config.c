/*
 * Fuzzes the hvmetal.cfg parser (boot/config.c, its message through
 * kernel/log.c).  Input: one byte for the error buffer's size, then the text.
 * Text and error buffer are heap blocks of exactly their size, so ASan
 * catches any access past them.  The result must match a reference parser
 * written from config.h's contract: settings, and the first error's message.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/config.h"
#include "vmx/vmx_caps.h"

/* A broken invariant: say which, then abort (libFuzzer saves the input). */
#define CHECK(c)	do { if (!(c)) { fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c); \
				  abort(); } } while (0)

struct ref {
	char next[CONFIG_PATH_MAX];
	size_t next_len;
	char next_args[CONFIG_ARGS_MAX];
	size_t next_args_len;
	uint32_t pool_mib, max_cpus, vmx_hide;
	unsigned bad_line;	/* first line with a problem, 0 for none */
	const char *why;
};

static bool
blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* [*s, *e) without leading and trailing blanks. */
static void
strip(const char **s, const char **e)
{
	while (*s < *e && blank(**s))
		++*s;
	while (*e > *s && blank((*e)[-1]))
		--*e;
}

static bool
equals(const char *s, const char *e, const char *word)
{
	return (size_t)(e - s) == strlen(word) && !memcmp(s, word, e - s);
}

/* At most five digits, then within [min, max]. */
static const char *
ref_number(const char *v, const char *ve, uint32_t min, uint32_t max, uint32_t *out,
	   const char *bad, const char *range)
{
	uint32_t n = 0;

	if (ve - v < 1 || ve - v > 5)
		return bad;
	for (; v < ve; v++) {
		if (!memchr("0123456789", *v, 10))
			return bad;
		n = n * 10 + (uint32_t)(*v - '0');
	}
	if (n < min || n > max)
		return range;
	*out = n;
	return NULL;
}

/* vmx_hide: words separated by blanks, each one of the known names; all or nothing. */
static const char *
ref_hide(const char *v, const char *ve, uint32_t *out)
{
	static const char *const names[] = { "vpid", "ept_1g", "apic_access", "apicv" };
	static const uint32_t bits[] = { VMX_HIDE_VPID, VMX_HIDE_EPT_1G, VMX_HIDE_APIC_ACCESS,
					 VMX_HIDE_APICV };
	uint32_t hide = 0;

	while (v < ve) {
		const char *w = v;
		size_t n;

		while (v < ve && *v != ' ' && *v != '\t' && *v != '\r')
			v++;
		for (n = 0; n < sizeof(names) / sizeof(names[0]); n++)
			if ((size_t)(v - w) == strlen(names[n]) && memcmp(w, names[n], v - w) == 0)
				break;
		if (n == sizeof(names) / sizeof(names[0]))
			return "vmx_hide: expected vpid, ept_1g, apic_access or apicv";
		hide |= bits[n];
		while (v < ve && (*v == ' ' || *v == '\t' || *v == '\r'))
			v++;
	}
	*out = hide;
	return NULL;
}

static const char *
ref_setting(struct ref *r, const char *k, const char *ke, const char *v, const char *ve)
{
	size_t vn = ve - v;

	if (equals(k, ke, "next")) {
		if (vn >= CONFIG_PATH_MAX)
			return "next: path too long";
		r->next_len = equals(v, ve, "none") ? 0 : vn;
		memcpy(r->next, v, r->next_len);
		r->next[r->next_len] = 0;
		return NULL;
	}
	if (equals(k, ke, "next_args")) {
		if (vn >= CONFIG_ARGS_MAX)
			return "next_args: too long (at most 511 characters)";
		for (const char *c = v; c < ve; c++)
			if ((unsigned char)*c < ' ' || (unsigned char)*c > '~')
				return "next_args: only printable ASCII characters";
		r->next_args_len = vn;
		memcpy(r->next_args, v, vn);
		r->next_args[vn] = 0;
		return NULL;
	}
	if (equals(k, ke, "pool_mib"))
		return ref_number(v, ve, 4, 4096, &r->pool_mib, "pool_mib: expected a number of MiB",
				  "pool_mib: out of range (4..4096)");
	if (equals(k, ke, "max_cpus"))
		return ref_number(v, ve, 1, 64, &r->max_cpus, "max_cpus: expected a number of CPUs",
				  "max_cpus: out of range (1..64)");
	if (equals(k, ke, "vmx_hide"))
		return ref_hide(v, ve, &r->vmx_hide);
	return "unknown key";
}

static void
ref_parse(struct ref *r, const char *text, size_t len)
{
	const char *end = text + len;
	unsigned line = 1;

	r->next_len = strlen(CONFIG_DEFAULT_NEXT);
	memcpy(r->next, CONFIG_DEFAULT_NEXT, r->next_len + 1);
	r->next_args_len = 0;
	r->next_args[0] = 0;
	r->pool_mib = CONFIG_DEFAULT_POOL_MIB;
	r->max_cpus = CONFIG_MAX_CPUS;
	r->vmx_hide = 0;
	r->bad_line = 0;
	for (const char *s = text; s < end; line++) {
		const char *nl = memchr(s, '\n', end - s), *e = nl ? nl : end;
		const char *hash = memchr(s, '#', e - s), *eq, *why;

		if (hash)
			e = hash;
		strip(&s, &e);
		if (s < e) {
			eq = memchr(s, '=', e - s);
			if (!eq) {
				why = "expected key = value";
			} else {
				const char *ke = eq, *v = eq + 1;

				strip(&s, &ke);
				strip(&v, &e);
				why = ref_setting(r, s, ke, v, e);
			}
			if (why && !r->bad_line) {
				r->bad_line = line;
				r->why = why;
			}
		}
		s = nl ? nl + 1 : end;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hv_config cfg;
	struct ref want;
	size_t errlen;
	char *text, *err, msg[256];
	const char *rc;

	if (size < 1)
		return 0;
	errlen = 1 + data[0] % 128;
	size--;
	text = malloc(size ? size : 1);
	err = malloc(errlen);
	CHECK(text && err);
	memcpy(text, data + 1, size);
	memset(&cfg, 0xa5, sizeof(cfg));
	config_defaults(&cfg);

	rc = config_parse(&cfg, text, size, err, errlen);
	ref_parse(&want, text, size);

	CHECK(memcmp(text, data + 1, size) == 0);
	CHECK(cfg.pool_mib == want.pool_mib);
	CHECK(cfg.max_cpus == want.max_cpus);
	CHECK(cfg.vmx_hide == want.vmx_hide);
	CHECK(memcmp(cfg.next, want.next, want.next_len + 1) == 0);
	CHECK(memcmp(cfg.next_args, want.next_args, want.next_args_len + 1) == 0);
	if (!want.bad_line) {
		CHECK(rc == NULL);
	} else {
		/* The message, cut to the buffer and always terminated. */
		snprintf(msg, sizeof(msg), "hvmetal.cfg line %u: %s", want.bad_line, want.why);
		CHECK(rc == err);
		CHECK(strnlen(err, errlen) < errlen);
		CHECK(strncmp(err, msg, errlen - 1) == 0);
	}
	free(text);
	free(err);
	return 0;
}
