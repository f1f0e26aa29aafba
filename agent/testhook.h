/*
 * testhook: named pause points for the crash tests. Only builds with
 * -DMCA_TEST_HOOKS (the ASan test build) contain them; in the release
 * build TEST_PAUSE() expands to nothing, so no environment variable can
 * stop a production agent.
 */
#ifndef MCA_TESTHOOK_H
#define MCA_TESTHOOK_H

#ifdef MCA_TEST_HOOKS
/*
 * If MCA_TEST_PAUSE_AT equals step, logs a test.paused event and sleeps
 * until killed (the test sends SIGKILL), or, when MCA_TEST_PAUSE_MS is
 * set, for that many milliseconds and then goes on (test.resumed): the
 * fault tests break the engine or the front during the pause.
 */
void testhook_pause(const char *step);
#define TEST_PAUSE(step) testhook_pause(step)
#else
#define TEST_PAUSE(step) ((void)0)
#endif

#endif
