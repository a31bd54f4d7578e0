/* test_cmdq.c: the command workers (hostile first): bad configurations, a store that will not open, a full queue, a job whose channel died, stopping with a worker waiting for the loop; then real commands on a temp store with the audit chain intact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <poll.h>
#include <time.h>

#include "common/audit.h"
#include "common/err.h"
#include "common/limits.h"
#include "server/cmdq.h"
#include "store/store.h"
#include "testutil.h"

struct fix {
	char *dir;
	struct store *st;		/* the test's own connection, as the loop's */
	struct audit *audit;
	struct cmdq *q;
	struct cmdq_job *done[16];
	int ndone;
	int tunnels;			/* tunnel_send calls answered on "the loop" */
};

static void
on_done(void *arg, struct cmdq_job *job)
{
	struct fix *f = arg;

	assert_true(f->ndone < 16);
	f->done[f->ndone++] = job;
}

static int
on_tunnel(void *arg, const char *fleet, const char *name, const char *cmd, char *why, size_t whylen)
{
	struct fix *f = arg;

	(void)why; (void)whylen;
	assert_string_equal(fleet, "acme");
	assert_string_equal(name, "pi");
	assert_string_equal(cmd, "connect");
	f->tunnels++;
	return 0;
}

static struct cmdq_config
config(struct fix *f, const char *spec, int workers, size_t max, size_t per_session)
{
	return (struct cmdq_config){
		.store_spec = spec, .state_dir = f->dir, .audit = f->audit, .workers = workers,
		.max_jobs = max, .max_per_session = per_session, .done = on_done,
		.tunnel_send = on_tunnel, .arg = f,
	};
}

static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	int64_t id = 0;
	char fleet[LIM_LABEL + 1];

	assert_non_null(f);
	assert_non_null(f->dir = tu_mkdtemp());
	assert_int_equal(store_open(f->dir, &f->st), 0);
	assert_int_equal(store_fleet_add(f->st, "acme"), 0);
	struct pubkey k;
	assert_int_equal(pubkey_parse_line("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9/ruW0RCFUIcwbNDrSX1qCdfOMw8gsiW4rM376mkdA pi", &k), 0);
	assert_int_equal(store_device_add(f->st, "pi", "acme", &k), 0);
	pubkey_clear(&k);
	assert_int_equal(store_device_resolve(f->st, 0, "pi", "acme", &id, fleet), 0);
	assert_int_equal(store_device_set_ondemand(f->st, id, "standby", time(NULL)), 0);
	assert_int_equal(audit_open(f->dir, &f->audit), 0);
	assert_int_equal(audit_start_writer(f->audit, 0), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;

	cmdq_free(f->q);
	for (int i = 0; i < f->ndone; i++)
		cmdq_job_free(f->done[i]);
	audit_close(f->audit);
	store_close(f->st);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* A job for "admin" running line (split like an exec request). */
static struct cmdq_job *
job(const char *line, uint64_t session)
{
	struct cmdq_job *j = cmdq_job_new();

	assert_non_null(j);
	assert_int_equal(cmd_split(line, strlen(line), &j->argv, &j->argc, NULL), 0);
	j->role = CMD_ROLE_USER;
	j->admin = true;
	j->user_id = 1;
	j->user = strdup("admin");
	j->src = strdup("127.0.0.1:1");
	j->session = session;
	j->owner = j;	/* anything not NULL */
	return j;
}

/* Plays the loop: waits for the eventfd and runs cmdq_ready until n jobs are done. */
static void
loop_until(struct fix *f, int n)
{
	for (int turns = 0; f->ndone < n; turns++) {
		struct pollfd p = { .fd = cmdq_fd(f->q), .events = POLLIN };
		assert_true(turns < 1000);	/* 10 s */
		poll(&p, 1, 10);
		cmdq_ready(f->q);
	}
}

static bool
has(const struct jbuf *b, const char *s)
{
	return b->data != NULL && strstr(b->data, s) != NULL;
}

static void
test_config_hostile(void **state)
{
	struct fix *f = *state;
	struct cmdq *q = (struct cmdq *)1;
	struct cmdq_config c = config(f, NULL, 0, 4, 0);

	assert_int_equal(cmdq_new(&c, &q), ERR_INVAL);
	assert_null(q);
	c.workers = CMDQ_WORKERS_MAX + 1;
	assert_int_equal(cmdq_new(&c, &q), ERR_INVAL);
	c = config(f, NULL, 1, 0, 0);
	assert_int_equal(cmdq_new(&c, &q), ERR_INVAL);
	c = config(f, NULL, 1, 4, 0);
	c.done = NULL;
	assert_int_equal(cmdq_new(&c, &q), ERR_INVAL);
	/* an audit handle without a writer thread cannot be branched */
	struct audit *plain;
	assert_int_equal(audit_open(f->dir, &plain), 0);
	c = config(f, NULL, 1, 4, 0);
	c.audit = plain;
	assert_int_equal(cmdq_new(&c, &q), ERR_INVAL);
	assert_null(q);
	audit_close(plain);
	cmdq_free(NULL);
	cmdq_job_free(NULL);
	struct cmdq_stats s;
	cmdq_get_stats(NULL, &s);
	assert_int_equal(s.jobs, 0);
}

/* A worker whose store will not open: the client is told why, the command is not run. */
static void
test_store_open_fails(void **state)
{
	struct fix *f = *state;
	struct cmdq_config c = config(f, "sqlite:/nonexistent/outpost-test/x.db", 1, 4, 0);

	assert_int_equal(cmdq_new(&c, &f->q), 0);
	assert_int_equal(cmdq_submit(f->q, job("fleet add other", 1)), 0);
	assert_int_equal(cmdq_submit(f->q, job("ls", 1)), 0);
	loop_until(f, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(f->done[i]->status, CMD_FAIL);
		assert_true(has(&f->done[i]->err, "the store is not available now"));
		assert_true(has(&f->done[i]->err, "/nonexistent/outpost-test/x.db"));
		assert_int_equal(f->done[i]->out.len, 0);
	}
	struct cmdq_stats s;
	cmdq_get_stats(f->q, &s);
	assert_int_equal(s.store_failed, 2);
	assert_int_equal(s.jobs, 0);
	assert_int_equal(store_fleet_get(f->st, "other", NULL), ERR_NOTFOUND);
}

/*
 * One worker held by a `tunnel connect` that waits for the loop: the queue
 * fills, the next job is refused busy (and one session's cap likewise); a
 * queued job whose channel died is not run; all finish once the loop answers.
 */
static void
test_full_queue_and_orphan(void **state)
{
	struct fix *f = *state;
	struct cmdq_config c = config(f, NULL, 1, 3, 2);

	assert_int_equal(cmdq_new(&c, &f->q), 0);
	assert_int_equal(cmdq_submit(f->q, job("tunnel connect pi.acme", 1)), 0);
	/* the worker now waits for the loop's answer: nothing comes back */
	struct pollfd p = { .fd = cmdq_fd(f->q), .events = POLLIN };
	assert_int_equal(poll(&p, 1, 5000), 1);
	struct cmdq_job *orphan = job("fleet add never", 2);
	assert_int_equal(cmdq_submit(f->q, orphan), 0);
	struct cmdq_job *same = job("ls", 1);
	assert_int_equal(cmdq_submit(f->q, same), 0);
	/* session 1 has two: its cap */
	struct cmdq_job *over = job("ls", 1);
	assert_int_equal(cmdq_submit(f->q, over), ERR_BUSY);
	/* three queued or running: the queue's cap */
	struct cmdq_job *full = job("ls", 3);
	assert_int_equal(cmdq_submit(f->q, full), ERR_BUSY);
	cmdq_job_free(over);
	cmdq_job_free(full);
	struct cmdq_stats s;
	cmdq_get_stats(f->q, &s);
	assert_int_equal(s.busy, 2);
	assert_int_equal(s.jobs, 3);
	cmdq_job_orphan(orphan);	/* its channel closed */
	loop_until(f, 3);
	assert_int_equal(f->tunnels, 1);
	for (int i = 0; i < 3; i++) {
		struct cmdq_job *j = f->done[i];
		if (j == orphan) {
			assert_null(j->owner);
			assert_false(j->ran);
			assert_int_equal(j->out.len + j->err.len, 0);
		} else if (strcmp(j->argv[0], "tunnel") == 0) {
			assert_true(j->ran);
			assert_int_equal(j->status, CMD_OK);
			assert_true(has(&j->out, "connect sent to pi.acme"));
		} else {
			assert_int_equal(j->status, CMD_OK);
			assert_true(has(&j->out, "pi.acme"));
		}
	}
	assert_int_equal(store_fleet_get(f->st, "never", NULL), ERR_NOTFOUND);
	cmdq_get_stats(f->q, &s);
	assert_int_equal(s.jobs, 0);
	/* room again */
	assert_int_equal(cmdq_submit(f->q, job("ls", 1)), 0);
	loop_until(f, 4);
}

/* Stopping while a worker waits for the loop: it is told outpostd is stopping. */
static void
test_stop_while_waiting_for_loop(void **state)
{
	struct fix *f = *state;
	struct cmdq_config c = config(f, NULL, 1, 4, 0);

	assert_int_equal(cmdq_new(&c, &f->q), 0);
	struct cmdq_job *j = job("tunnel connect pi.acme", 1);
	assert_int_equal(cmdq_submit(f->q, j), 0);
	struct pollfd p = { .fd = cmdq_fd(f->q), .events = POLLIN };
	assert_int_equal(poll(&p, 1, 5000), 1);
	cmdq_job_orphan(j);
	cmdq_free(f->q);	/* joins the worker: no hang, no leak (ASan) */
	f->q = NULL;
	assert_int_equal(f->tunnels, 0);
}

/* Commands on the workers' own connections: the loop's connection sees them; one audit chain. */
static void
test_commands_and_audit(void **state)
{
	struct fix *f = *state;
	struct cmdq_config c = config(f, NULL, 2, 8, 0);
	struct audit_verify_result res;
	char path[4096];

	assert_int_equal(cmdq_new(&c, &f->q), 0);
	struct cmdq_job *metrics = job("metrics", 2);
	metrics->metrics = strdup("outpost_up 1\n");
	metrics->metrics_len = 13;
	assert_int_equal(cmdq_submit(f->q, job("fleet add beta", 1)), 0);
	assert_int_equal(cmdq_submit(f->q, metrics), 0);
	assert_int_equal(cmdq_submit(f->q, job("fleet add acme", 3)), 0);
	assert_int_equal(cmdq_submit(f->q, job("nosuchcommand", 4)), 0);
	loop_until(f, 4);
	for (int i = 0; i < 4; i++) {
		struct cmdq_job *j = f->done[i];
		if (strcmp(j->argv[0], "metrics") == 0) {
			assert_int_equal(j->status, CMD_OK);
			assert_string_equal(j->out.data, "outpost_up 1\n");
		} else if (strcmp(j->argv[0], "nosuchcommand") == 0)
			assert_int_equal(j->status, CMD_USAGE);
		else if (strcmp(j->argv[2], "beta") == 0)
			assert_int_equal(j->status, CMD_OK);
		else {
			assert_int_equal(j->status, CMD_FAIL);	/* acme exists */
			assert_true(has(&j->err, "outpost: "));
		}
	}
	assert_int_equal(store_fleet_get(f->st, "beta", NULL), 0);
	/* a record from the loop between the workers' */
	audit_begin(f->audit, "test");
	assert_int_equal(audit_commit(f->audit), 0);
	cmdq_free(f->q);
	f->q = NULL;
	audit_stop_writer(f->audit);
	snprintf(path, sizeof(path), "%s/audit.log", f->dir);
	assert_int_equal(audit_verify(path, &res), 0);
	char *log = tu_slurp(path);
	assert_non_null(log);
	assert_non_null(strstr(log, "\"event\":\"command\",\"session\":1,\"user\":\"admin\""));
	assert_non_null(strstr(log, "\"command\":\"fleet add beta\""));
	assert_non_null(strstr(log, "\"event\":\"admin\""));
	assert_true(res.records >= 6);	/* 4 command records, beta's admin record, the loop's */
	free(log);
}

/* Another process's `sqlite3 DB SQL`: its first output line into out. */
static void
other_process(const char *dir, const char *sql, char *out, size_t len)
{
	char cmd[8192];

	snprintf(cmd, sizeof(cmd), "sqlite3 '%s/outpost.db' \"%s\" 2>&1", dir, sql);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	out[0] = '\0';
	size_t n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	pclose(p);
}

/*
 * A worker's connection beside the loop's in one process: another process
 * opening and closing the database (the local CLI) must not take it for
 * unused and remove the WAL under the loop, whose later writes would then
 * be lost to everyone else.
 */
static void
test_two_connections_one_process(void **state)
{
	struct fix *f = *state;
	struct cmdq_config c = config(f, NULL, 1, 4, 0);
	char out[4096];

	if (system("command -v sqlite3 >/dev/null 2>&1") != 0)
		skip();
	assert_int_equal(cmdq_new(&c, &f->q), 0);
	assert_int_equal(cmdq_submit(f->q, job("fleet add beta", 1)), 0);
	loop_until(f, 1);
	assert_int_equal(f->done[0]->status, CMD_OK);
	other_process(f->dir, "SELECT count(*) FROM fleets", out, sizeof(out));
	assert_string_equal(out, "2\n");
	assert_int_equal(store_fleet_add(f->st, "gamma"), 0);	/* the loop's connection */
	other_process(f->dir, "SELECT name FROM fleets WHERE name = 'gamma'", out, sizeof(out));
	assert_string_equal(out, "gamma\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_open_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_queue_and_orphan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_while_waiting_for_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commands_and_audit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_connections_one_process, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
