/*
 * pgtest.h: one throw-away PostgreSQL per test binary (tests/pg/pg-start in
 * a temp dir, stopped and removed when the binary exits, even by a crash),
 * and a fresh schema per test (header-only).
 *
 * OUTPOST_TEST_PG=URI uses that server instead (each test still gets its
 * own schema; pgtest_restart then skips). Without PostgreSQL 15 the tests
 * that need it are skipped, loudly.
 */
#ifndef OUTPOST_PGTEST_H
#define OUTPOST_PGTEST_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#ifndef OUTPOST_PG_SCRIPTS
#error "meson passes -DOUTPOST_PG_SCRIPTS=<source>/tests/pg"
#endif

static char pgt_dir[64];		/* our cluster's directory, "" if none */
static char pgt_uri[256];		/* the base URI, "" until pgtest_uri() */
static int pgt_state;			/* 0 not tried, 1 up, -1 failed, 77 no PostgreSQL */
static pid_t pgt_watchdog;
static int pgt_pipe = -1;
static int pgt_schemas;

/* Runs tests/pg/SCRIPT DIR; its first stdout line into out. Returns its exit status. */
static inline int
pgt_script(const char *script, const char *dir, char *out, size_t len)
{
	char cmd[512];
	FILE *p;
	int st;

	snprintf(cmd, sizeof(cmd), "'%s/%s' '%s'", OUTPOST_PG_SCRIPTS, script, dir);
	if ((p = popen(cmd, "r")) == NULL)
		return -1;
	if (out != NULL && (fgets(out, (int)len, p) == NULL))
		out[0] = '\0';
	if (out != NULL)
		out[strcspn(out, "\n")] = '\0';
	while (fgetc(p) != EOF)
		;
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * A child that stops the cluster and removes its directory once we are
 * gone: it reads a pipe whose only writer is this process.
 */
static inline void
pgt_start_watchdog(void)
{
	int fds[2];

	if (pipe2(fds, O_CLOEXEC) != 0)
		return;
	pgt_watchdog = fork();
	if (pgt_watchdog == 0) {
		char c;
		close(fds[1]);
		setpgid(0, 0);	/* not in a ^C'd test's process group until it is time */
		while (read(fds[0], &c, 1) < 0 && errno == EINTR)
			;
		char cmd[512];
		snprintf(cmd, sizeof(cmd), "'%s/pg-stop' '%s' >/dev/null; rm -rf '%s'",
		    OUTPOST_PG_SCRIPTS, pgt_dir, pgt_dir);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(fds[0]);
	if (pgt_watchdog > 0)
		pgt_pipe = fds[1];
	else
		close(fds[1]);
}

static inline void
pgt_stop_at_exit(void)
{
	if (pgt_pipe >= 0) {
		close(pgt_pipe);
		pgt_pipe = -1;
		waitpid(pgt_watchdog, NULL, 0);
	}
}

/*
 * The base URI of the test PostgreSQL (postgresql://outpost@127.0.0.1:PORT/outpost),
 * started on first call; NULL if PostgreSQL 15 is not installed (a message
 * says so) or it failed to start (a message says why; pgtest_missing()
 * tells the two apart).
 */
static inline const char *
pgtest_uri(void)
{
	const char *env = getenv("OUTPOST_TEST_PG");

	if (pgt_state != 0)
		return pgt_state == 1 ? pgt_uri : NULL;
	if (env != NULL && env[0] != '\0') {
		snprintf(pgt_uri, sizeof(pgt_uri), "%s", env);
		pgt_state = 1;
		return pgt_uri;
	}
	snprintf(pgt_dir, sizeof(pgt_dir), "/tmp/outpost-pg-XXXXXX");
	if (mkdtemp(pgt_dir) == NULL) {
		fprintf(stderr, "pgtest: cannot make a temp dir: %s\n", strerror(errno));
		pgt_state = -1;
		return NULL;
	}
	pgt_start_watchdog();
	atexit(pgt_stop_at_exit);
	int rc = pgt_script("pg-start", pgt_dir, pgt_uri, sizeof(pgt_uri));
	if (rc == 77) {
		fprintf(stderr, "pgtest: *** PostgreSQL 15 is not installed: SKIPPING the PostgreSQL tests "
		    "(apt-get install postgresql-15) ***\n");
		pgt_state = 77;
		return NULL;
	}
	if (rc != 0 || strncmp(pgt_uri, "postgresql://", 13) != 0) {
		fprintf(stderr, "pgtest: tests/pg/pg-start %s failed (status %d); its logs are in that directory\n",
		    pgt_dir, rc);
		pgt_state = -1;
		return NULL;
	}
	pgt_state = 1;
	return pgt_uri;
}

/* True when PostgreSQL 15 is simply not installed (skip rather than fail). */
static inline bool
pgtest_missing(void)
{
	return pgt_state == 77;
}

/*
 * A new empty schema on the test server and a URI whose connections use
 * it (search_path), in out (len bytes). 0, or -1 with a message.
 */
static inline int
pgtest_fresh(char *out, size_t len)
{
	const char *base = pgtest_uri();
	char sql[128], schema[48];
	PGconn *c;
	int r = -1;

	if (base == NULL)
		return -1;
	snprintf(schema, sizeof(schema), "t%ld_%d", (long)getpid(), ++pgt_schemas);
	if ((c = PQconnectdb(base)) == NULL || PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "pgtest: cannot connect to %s: %s", base, c ? PQerrorMessage(c) : "?\n");
		PQfinish(c);
		return -1;
	}
	snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", schema);
	PGresult *res = PQexec(c, sql);
	if (PQresultStatus(res) == PGRES_COMMAND_OK)
		r = 0;
	else
		fprintf(stderr, "pgtest: %s: %s", sql, PQerrorMessage(c));
	PQclear(res);
	PQfinish(c);
	if (r == 0)
		snprintf(out, len, "%s%coptions=-csearch_path%%3D%s", base,
		    strchr(base, '?') != NULL ? '&' : '?', schema);
	return r;
}

/* Stops our PostgreSQL (fast shutdown): 0, or -1 if it is not ours to stop. */
static inline int
pgtest_stop(void)
{
	if (pgt_state != 1 || pgt_dir[0] == '\0')
		return -1;
	return pgt_script("pg-stop", pgt_dir, NULL, 0) == 0 ? 0 : -1;
}

/* Starts our stopped PostgreSQL again, on the same port. */
static inline int
pgtest_start_again(void)
{
	char uri[256];

	if (pgt_state != 1 || pgt_dir[0] == '\0')
		return -1;
	return pgt_script("pg-start", pgt_dir, uri, sizeof(uri)) == 0 ? 0 : -1;
}

#endif
