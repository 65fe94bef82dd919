/* jitter.h - spread reconnection delays: base +-50 %, per call.
 *
 * Purpose: a server that tells every client the same "retry:" is hit by
 * all of them in the same second when they come back (after a refusal
 * for a limit, after a restart). Each answer gets its own delay instead,
 * drawn uniformly from [base/2, base*3/2].
 *
 * Threads: any. The generator is per thread (thread-local xorshift64*
 * state), seeded from getrandom() on the thread's first call, so there
 * is no shared state, no lock and no system call after the first; it is
 * not cryptographic, and need not be: it only spreads load.
 */
#ifndef SH_JITTER_H
#define SH_JITTER_H

#include <stdbool.h>

/* base_ms +-50 %, uniform over [base_ms - base_ms/2, base_ms + base_ms/2]
 * (whole milliseconds); base_ms itself when off is true (diagnostics:
 * the old fixed delay) or base_ms < 2. */
unsigned sh_jitter_ms(unsigned base_ms, bool off);

#endif /* SH_JITTER_H */
