/*
 * ssh-guess.c: a password-guessing SSH client for the flood scenarios (a
 * real SSH implementation, libssh's client, since OpenSSH's ssh never sends
 * a password to a server that offers only public keys, and bots do).
 *
 *   ssh-guess SRC_ADDR PORT USER TRIES
 *
 * Connects from SRC_ADDR to 127.0.0.1:PORT (host key not checked: nothing
 * secret is sent) and sends up to TRIES password and keyboard-interactive
 * attempts on one connection. Prints "denied N" (attempts answered with a
 * refusal before the server closed); exits 0, 1 if it could not connect,
 * or 3 if the server let it in.
 */
#include <stdio.h>
#include <stdlib.h>

#include <libssh/libssh.h>

int
main(int argc, char **argv)
{
	ssh_session s;
	int tries, denied = 0, port, rc = 0, verbosity = SSH_LOG_NOLOG;
	long timeout = 10;
	char pw[32];

	if (argc != 5) {
		fprintf(stderr, "usage: ssh-guess SRC_ADDR PORT USER TRIES\n");
		return 2;
	}
	port = atoi(argv[2]);
	tries = atoi(argv[4]);
	if ((s = ssh_new()) == NULL)
		return 1;
	ssh_options_set(s, SSH_OPTIONS_HOST, "127.0.0.1");
	ssh_options_set(s, SSH_OPTIONS_PORT, &port);
	ssh_options_set(s, SSH_OPTIONS_USER, argv[3]);
	ssh_options_set(s, SSH_OPTIONS_BINDADDR, argv[1]);
	ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout);
	ssh_options_set(s, SSH_OPTIONS_LOG_VERBOSITY, &verbosity);
	ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, "/dev/null");
	ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null");
	if (ssh_connect(s) != SSH_OK) {
		printf("connect failed: %s\n", ssh_get_error(s));
		ssh_free(s);
		return 1;
	}
	for (int i = 0; i < tries; i++) {
		int r;
		if (i % 2 == 0) {
			snprintf(pw, sizeof(pw), "guess%d", i);
			r = ssh_userauth_password(s, NULL, pw);
		} else
			r = ssh_userauth_kbdint(s, NULL, NULL);
		if (r == SSH_AUTH_SUCCESS) {
			rc = 3;
			break;
		}
		if (r == SSH_AUTH_ERROR)
			break;
		denied++;
	}
	printf("denied %d\n", denied);
	ssh_disconnect(s);
	ssh_free(s);
	return rc;
}
