/*
 * memtrim: see memtrim.h. Walks the main program's PT_LOAD segments
 * (dl_iterate_phdr works in static musl and glibc binaries alike).
 *
 * MADV_DONTNEED on a private file mapping drops our page-table entries;
 * a later touch maps the page again from the page cache (a minor fault).
 * That is only lossless for pages never written, so only segments
 * without PF_W qualify, and not at all in an object with text
 * relocations (the loader wrote into its "read-only" pages). Not
 * MADV_PAGEOUT: it also evicts from the page cache, so the next drift
 * check would read the binary from disk again.
 */
#include <link.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "memtrim.h"

static bool
has_text_relocations(const struct dl_phdr_info *info)
{
	for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_DYNAMIC)
			continue;
		for (const ElfW(Dyn) *d = (const ElfW(Dyn) *)(info->dlpi_addr +
		    ph->p_vaddr); d->d_tag != DT_NULL; d++)
			if (d->d_tag == DT_TEXTREL || (d->d_tag == DT_FLAGS &&
			    (d->d_un.d_val & DF_TEXTREL) != 0))
				return true;
	}
	return false;
}

static int
trim_program(struct dl_phdr_info *info, size_t size, void *data)
{
	unsigned long *advised = data;
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);

	(void)size;
	if (has_text_relocations(info))
		return 1;
	for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t start, end;

		if (ph->p_type != PT_LOAD || (ph->p_flags & PF_W) != 0)
			continue;
		start = (info->dlpi_addr + ph->p_vaddr) & ~(page - 1);
		end = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz + page - 1) &
		    ~(page - 1);
		if (end > start && madvise((void *)start, end - start,
		    MADV_DONTNEED) == 0)
			*advised += (unsigned long)(end - start);
	}
	return 1;	/* the first object is the program itself: done */
}

unsigned long
memtrim_code(void)
{
	unsigned long advised = 0;

	dl_iterate_phdr(trim_program, &advised);
	return advised;
}
