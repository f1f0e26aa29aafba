/*
 * A tiny unit-test harness: TEST(name) functions registered in a table,
 * CHECK macros that report file:line and keep going, and a closing line
 * "N passed, N failed" that CI reads.
 */
#ifndef MCA_HARNESS_H
#define MCA_HARNESS_H

#include <stdio.h>
#include <string.h>

static int harness_failed_checks;

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
		harness_failed_checks++; \
	} \
} while (0)

#define CHECK_STR(a, b) do { \
	const char *a_ = (a), *b_ = (b); \
	if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) { \
		fprintf(stderr, "  %s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__, \
		    a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
		harness_failed_checks++; \
	} \
} while (0)

#define CHECK_INT(a, b) do { \
	long long a_ = (long long)(a), b_ = (long long)(b); \
	if (a_ != b_) { \
		fprintf(stderr, "  %s:%d: %s == %lld, expected %lld\n", __FILE__, \
		    __LINE__, #a, a_, b_); \
		harness_failed_checks++; \
	} \
} while (0)

struct harness_test {
	const char *name;
	void (*fn)(void);
};

#define TEST(name) static void name(void)
#define RUN(name) { #name, name }

static inline int
harness_main(const char *suite, const struct harness_test *tests, size_t n)
{
	int passed = 0, failed = 0;

	for (size_t i = 0; i < n; i++) {
		int before = harness_failed_checks;

		tests[i].fn();
		if (harness_failed_checks == before) {
			passed++;
		} else {
			failed++;
			fprintf(stderr, "FAIL %s.%s\n", suite, tests[i].name);
		}
	}
	printf("%s: %d passed, %d failed\n", suite, passed, failed);
	return failed == 0 ? 0 : 1;
}

#define HARNESS_MAIN(suite, ...) \
	int main(void) { \
		static const struct harness_test t_[] = { __VA_ARGS__ }; \
		return harness_main(suite, t_, sizeof(t_) / sizeof(t_[0])); \
	}

#endif
