/*
 * testhook: named pause points for the crash tests. Only builds with
 * -DMCA_TEST_HOOKS (the ASan test build) contain them; in the release
 * build TEST_PAUSE() expands to nothing, so no environment variable can
 * stop a production agent.
 *
 * A step's name is the phase (TEST_PHASE: "" in a rotation, "rollback."
 * while a failed rotation is undone, "drift." while drift is healed)
 * followed by the name at the pause point, so the same install or reload
 * step can be stopped in the rollback alone: "rollback.install.key_renamed".
 */
#ifndef MCA_TESTHOOK_H
#define MCA_TESTHOOK_H

#ifdef MCA_TEST_HOOKS
/*
 * If MCA_TEST_PAUSE_AT equals the phase + step, logs a test.paused event
 * and sleeps until killed (the test sends SIGKILL), or, when
 * MCA_TEST_PAUSE_MS is set, for that many milliseconds and then goes on
 * (test.resumed): the fault tests break the engine or the front, or
 * rewrite the files, during the pause.
 */
void testhook_pause(const char *step);
/* The same with a printf-formatted step ("cycle.reload_before.%zu"). */
void testhook_pausef(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Sets the phase prefix of every following step; "" or NULL: none. */
void testhook_phase(const char *phase);
#define TEST_PAUSE(step) testhook_pause(step)
#define TEST_PAUSEF(...) testhook_pausef(__VA_ARGS__)
#define TEST_PHASE(phase) testhook_phase(phase)
#else
#define TEST_PAUSE(step) ((void)0)
#define TEST_PAUSEF(...) ((void)0)
#define TEST_PHASE(phase) ((void)0)
#endif

#endif
