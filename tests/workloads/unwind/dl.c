// libunwind-dl.so: the library the unwind workload dlopens mid-run, built
// -O2 -fomit-frame-pointer like it: main;dl_main;dl_entry;dl_work;dl_leaf.
#define FN __attribute__((noinline, noclone, used))

static volatile unsigned long sink;

FN static unsigned long dl_leaf(unsigned long n)
{
	unsigned long acc = sink;

	for (unsigned long i = 0; i < n; i++)
		acc = acc * 31 + i;
	return acc;
}

FN static unsigned long dl_work(void) { return dl_leaf(1000000) + 1; }

FN unsigned long dl_entry(int (*done)(void))
{
	unsigned long acc = 0;

	while (!done())
		acc += dl_work();
	return acc;
}
