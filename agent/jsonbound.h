/*
 * jsonbound: how large a tree jansson's json_loadb() could build from a
 * buffer, known before it builds it. A tree costs up to ~160 bytes a
 * value (an object member holding {}), so the bytes alone do not bound
 * it: 1 MiB of [{},{},...] is ~80 MiB of tree. Counting the values
 * first, without allocating, lets a caller refuse such a body at once.
 */
#ifndef MCA_JSONBOUND_H
#define MCA_JSONBOUND_H

#include <stddef.h>

/*
 * An upper bound on the values (objects, arrays, strings, numbers,
 * literals; member names not counted) json_loadb() builds from len
 * bytes at buf before it finishes or fails, whatever the bytes: 1 plus
 * the commas, '[' and '{' outside strings. Counting stops once the
 * count passes stop (then stop + 1 is returned), so a huge body costs
 * no more than the first bytes that pass it. buf may be NULL if len is 0.
 */
size_t jsonbound_values(const char *buf, size_t len, size_t stop);

#endif
