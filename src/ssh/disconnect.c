/*
 * disconnect.c: what a minimal SSH server says before hanging up (RFC 4253
 * 4.2, 6, 11.1): identification, then an unencrypted SSH_MSG_DISCONNECT.
 * outpostd answers a refused `ssh -J` with it inside the accepted channel,
 * the only way libssh 0.10 lets a reason reach the user (docs/LIBSSH.md,
 * "No reason text on a refused channel open").
 */
#include <stdio.h>
#include <string.h>

#include "ssh/disconnect.h"

#define SSH_MSG_DISCONNECT 1

static void
put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

void
disconnect_bytes(struct jbuf *out, const char *reason)
{
	static const char banner[] = DISCONNECT_BANNER;

	jbuf_add(out, banner, sizeof(banner) - 1);
	disconnect_packet(out, reason);
}

void
disconnect_packet(struct jbuf *out, const char *reason)
{
	unsigned char hdr[5 + 1 + 4 + 4], tail[4 + 16];
	size_t rlen = strlen(reason);
	size_t payload = 1 + 4 + 4 + rlen + 4;
	size_t pad = 8 - ((4 + 1 + payload) % 8);

	if (pad < 4)
		pad += 8;
	put_u32(hdr, (uint32_t)(1 + payload + pad));
	hdr[4] = (unsigned char)pad;
	hdr[5] = SSH_MSG_DISCONNECT;
	put_u32(hdr + 6, DISCONNECT_BY_APPLICATION);
	put_u32(hdr + 10, (uint32_t)rlen);
	memset(tail, 0, sizeof(tail));	/* empty language tag, then padding */
	jbuf_add(out, hdr, sizeof(hdr));
	jbuf_add(out, reason, rlen);
	jbuf_add(out, tail, 4 + pad);
}

static int
busy_clamp(long secs)
{
	return secs < 1 ? 1 : secs > DISCONNECT_BUSY_MAX_S ? DISCONNECT_BUSY_MAX_S : (int)secs;
}

void
disconnect_busy_reason(char *buf, size_t len, int secs)
{
	snprintf(buf, len, "outpostd is busy with a reconnect storm: " DISCONNECT_BUSY_TAG "%d s",
	    busy_clamp(secs));
}

void
disconnect_stop_reason(char *buf, size_t len, int secs)
{
	snprintf(buf, len, "server shutting down: " DISCONNECT_BUSY_TAG "%d s", busy_clamp(secs));
}

bool
disconnect_busy_parse(const char *err, int *secs)
{
	const char *tag = NULL;
	long v = 0;

	if (err == NULL)
		return false;
	/* the last tag: libssh puts its own words before the description */
	for (const char *p = strstr(err, DISCONNECT_BUSY_TAG); p != NULL;
	    p = strstr(p + 1, DISCONNECT_BUSY_TAG))
		tag = p;
	if (tag == NULL)
		return false;
	const char *d = tag + strlen(DISCONNECT_BUSY_TAG);
	size_t n = 0;
	for (; d[n] >= '0' && d[n] <= '9'; n++)
		if (n < 9)	/* more digits than that: past any clamp, and no overflow */
			v = v * 10 + (d[n] - '0');
	if (n == 0 || strcmp(d + n, " s") != 0)
		return false;
	*secs = busy_clamp(n > 9 ? DISCONNECT_BUSY_MAX_S : v);
	return true;
}
