/*
 * pkeycache.h: the host key's and each key exchange's OpenSSL keys built
 * once, not again from their raw private halves (libssh 0.10 rebuilds them,
 * and OpenSSL derives each public half again). See pkeycache.c.
 */
#ifndef OUTPOST_PKEYCACHE_H
#define OUTPOST_PKEYCACHE_H

/* Starts keeping keys (until then every call is OpenSSL's alone). */
void pkeycache_init(void);
/* Drops every kept key and stops keeping them. */
void pkeycache_clear(void);
/* Rebuilds answered from what was kept, and those that were not. */
void pkeycache_stats(unsigned long *hits, unsigned long *misses);

#endif
