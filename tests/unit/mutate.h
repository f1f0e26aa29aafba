/*
 * mutate: the unit tests' cheap fuzzer. One byte of base is replaced,
 * deleted or inserted (from alphabet) where a fixed LCG says, so a run is
 * the same every time. s has room for len + 1 bytes; returns the new
 * length and sets *at to where the change is.
 */
#ifndef MCA_MUTATE_H
#define MCA_MUTATE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline size_t
mutate(char *s, const char *base, size_t len, uint32_t *seed,
    const char *alphabet, size_t alen, size_t *at)
{
	size_t n = len;
	int kind;

	memcpy(s, base, len);
	*seed = *seed * 1103515245 + 12345;
	*at = (*seed >> 8) % len;
	kind = (int)((*seed >> 4) % 3);
	*seed = *seed * 1103515245 + 12345;
	if (kind == 0) {		/* replace a byte */
		s[*at] = alphabet[(*seed >> 8) % alen];
	} else if (kind == 1) {		/* delete one */
		memmove(s + *at, s + *at + 1, len - *at - 1);
		n--;
	} else {			/* insert one */
		memmove(s + *at + 1, s + *at, len - *at);
		s[*at] = alphabet[(*seed >> 8) % alen];
		n++;
	}
	return n;
}

#endif
