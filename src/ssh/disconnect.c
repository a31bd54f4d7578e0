/*
 * disconnect.c: what a minimal SSH server says before hanging up (RFC 4253
 * 4.2, 6, 11.1): identification, then an unencrypted SSH_MSG_DISCONNECT.
 * outpostd answers a refused `ssh -J` with it inside the accepted channel,
 * the only way libssh 0.10 lets a reason reach the user (docs/LIBSSH.md,
 * "No reason text on a refused channel open").
 */
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
	jbuf_add(out, banner, sizeof(banner) - 1);
	jbuf_add(out, hdr, sizeof(hdr));
	jbuf_add(out, reason, rlen);
	jbuf_add(out, tail, 4 + pad);
}
