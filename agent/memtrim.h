/*
 * memtrim: give the kernel back the code pages start-up and a cycle
 * touched, once the daemon goes idle. A static binary's text is mapped
 * from the file, and fault-around maps 64 KiB around every page used, so
 * after the first verify most of the ~4 MB binary counts as resident
 * though an idle tick runs a few KiB of it. The pages stay in the page
 * cache; the next cycle maps them again with minor faults.
 */
#ifndef MCA_MEMTRIM_H
#define MCA_MEMTRIM_H

/*
 * Drops the executable's read-only, file-backed segments from the
 * resident set (never writable ones: their pages may be private copies).
 * Returns how many bytes were advised (0: nothing trimmable). Never
 * fails the caller.
 */
unsigned long memtrim_code(void);

#endif
