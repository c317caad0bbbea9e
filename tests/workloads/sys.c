// sys: syscall-heavy, so kernel frames show beneath a known user frame.
//   sys [SECONDS]   default 3 s; prints nothing
// sys_spin() writes one byte to /dev/null in a tight loop. The syscall is
// issued inline rather than through libc's write(): libc has no frame
// pointers, so a frame-pointer walk from inside it would skip its caller,
// and the tests need main -> sys_spin -> (kernel: entry_SYSCALL_64 ...
// ksys_write) exactly.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifdef __clang__
#define HOT __attribute__((noinline, used))
#else
#define HOT __attribute__((noinline, noclone, used))
#endif

static inline __attribute__((always_inline)) long write1(int fd, const char *buf)
{
#if defined(__x86_64__)
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"((long)SYS_write), "D"((long)fd), "S"(buf), "d"(1L)
			 : "rcx", "r11", "memory");
	return ret;
#elif defined(__aarch64__)
	register long x8 __asm__("x8") = SYS_write;
	register long x0 __asm__("x0") = fd;
	register long x1 __asm__("x1") = (long)buf;
	register long x2 __asm__("x2") = 1;

	__asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
	return x0;
#else
	return syscall(SYS_write, fd, buf, 1);
#endif
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

HOT long sys_spin(int fd, double deadline)
{
	long n = 0;

	do {
		for (int i = 0; i < 1000; i++)
			n += write1(fd, "x") == 1;
	} while (now() < deadline);
	return n;
}

int main(int argc, char **argv)
{
	double seconds = 3;
	char *end;
	int fd;

	if (argc > 1) {
		errno = 0;
		seconds = strtod(argv[1], &end);
		if (argc > 2 || errno || end == argv[1] || *end || seconds < 0 || seconds > 86400) {
			fprintf(stderr, "usage: sys [SECONDS]\n");
			return 2;
		}
	}
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		perror("sys: /dev/null");
		return 1;
	}
	if (sys_spin(fd, now() + seconds) <= 0) {
		fprintf(stderr, "sys: write to /dev/null failed\n");
		return 1;
	}
	return 0;
}
