/*
 * pidcache.h: getpid() answered from memory after the first call (OpenSSL
 * asks it at every random draw); a forked child asks the kernel again.
 * See pidcache.c.
 */
#ifndef OUTPOST_PIDCACHE_H
#define OUTPOST_PIDCACHE_H

/* Arms the cache (registers the fork handler); call once, early in main. */
void pidcache_init(void);

#endif
