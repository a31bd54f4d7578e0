/*
 * pidcache.c: the process id from the kernel once, not at every getpid().
 *
 * OpenSSL 3 calls getpid() in every RAND_bytes (its check for a fork since
 * the last draw), and libssh draws each packet's padding from it: seven
 * getpid(2) per device registration in outpostd, five in the loadgen
 * (perf stat, docs/BENCHMARKS.md), each a system call since glibc 2.25
 * stopped caching the value. Defining getpid() here binds libssh's and
 * libcrypto's calls to this one (the executable's symbols come first, as
 * with sockbuf.c's recv/poll/send).
 *
 * The fork check stays sound: a pthread_atfork child handler forgets the
 * value, so a child made by fork(2) asks the kernel again and OpenSSL sees
 * the new pid. posix_spawn(3) and vfork(2) children exec before they could
 * call getpid(). Until pidcache_init every call asks the kernel.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "common/pidcache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <unistd.h>

static atomic_int cached;	/* 0: ask the kernel */
static atomic_bool armed;	/* pidcache_init ran */

static void
forget(void)
{
	atomic_store_explicit(&cached, 0, memory_order_relaxed);
}

void
pidcache_init(void)
{
	if (atomic_exchange(&armed, true))
		return;
	if (pthread_atfork(NULL, NULL, forget) != 0)
		atomic_store(&armed, false);	/* no handler: never cache */
}

pid_t
getpid(void)
{
	int pid = atomic_load_explicit(&cached, memory_order_relaxed);

	if (pid != 0)
		return (pid_t)pid;
	pid = (int)syscall(SYS_getpid);
	if (atomic_load_explicit(&armed, memory_order_relaxed))
		atomic_store_explicit(&cached, pid, memory_order_relaxed);
	return (pid_t)pid;
}
