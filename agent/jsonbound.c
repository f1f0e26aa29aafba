/*
 * jsonbound: see jsonbound.h.
 *
 * Why the count bounds jansson's tree: every value is the document, an
 * element of an array or the value of an object member, and a container
 * holding k > 0 of them holds k - 1 commas; so the values are at most
 * 1 + commas + containers, counted outside strings. Strings are told
 * apart as jansson's lexer does: from a '"' to the next '"' that is not
 * escaped, an escape being '\' and the byte after it (the four hex
 * digits of \uXXXX hold no '"' or '\'). Input jansson refuses is read
 * the same way up to the byte it refuses, and it frees what it built
 * then: the count of that prefix is at most the count of the whole.
 *
 * Why this and not the other ways to bound the parse: jsonscan.h could
 * count the values exactly, but it is a second full parse with memory
 * of its own (its duplicate-name check) and more to get right than one
 * loop; a jansson allocator budget (json_set_alloc_funcs) is
 * process-global, and acme_json.c already installs its wiping free
 * there. The count here allocates nothing and needs nothing of jansson
 * but its string syntax; of valid JSON it is exact but for one more for
 * each empty container, which errs on the safe side.
 */
#include <stdbool.h>

#include "jsonbound.h"

size_t
jsonbound_values(const char *buf, size_t len, size_t stop)
{
	size_t n = 1;
	bool in_string = false;

	for (size_t i = 0; i < len && n <= stop; i++) {
		if (in_string) {
			if (buf[i] == '\\')
				i++;	/* the escaped byte: never an end */
			else if (buf[i] == '"')
				in_string = false;
		} else if (buf[i] == '"')
			in_string = true;
		else if (buf[i] == ',' || buf[i] == '[' || buf[i] == '{')
			n++;
	}
	return n;
}
