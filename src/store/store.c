/*
 * store.c: the store's common half: opening a store by its spec, the
 * engine-independent db_* calls the record files run their queries through
 * (db.h), transactions, and the checks every record shares.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/err.h"
#include "common/names.h"
#include "store/db.h"
#include "store/store.h"

/* Slots handed out so far, over every store of the process. */
static atomic_int slots_used;

void
db_set_err(struct store *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->errmsg, sizeof(st->errmsg), fmt, ap);
	va_end(ap);
}

int
db_check_label(struct store *st, const char *what, const char *s)
{
	if (s != NULL && names_label_valid(s, strnlen(s, LIM_LABEL + 1)))
		return 0;
	db_set_err(st, "invalid %s name", what);
	return ERR_NAME;
}

int
db_check_key(struct store *st, const struct pubkey *key)
{
	if (key != NULL && key->blob != NULL && key->type[0] != '\0' &&
	    strncmp(key->fp, "SHA256:", 7) == 0 && key->blob[0] != '\0')
		return 0;
	db_set_err(st, "not a usable public key");
	return ERR_KEY;
}

/* ---- queries ---- */

/*
 * Two threads may meet here with the same query: the first to swap its
 * fresh number into q->slot wins; the loser hands its number back if no one
 * took another meanwhile (else that one slot stays unused).
 */
int
db_query_slot(struct query *q)
{
	int slot = atomic_load_explicit(&q->slot, memory_order_acquire), expected = 0;

	if (slot != 0)
		return slot;
	int mine = atomic_fetch_add(&slots_used, 1) + 1;
	if (mine > DB_MAX_QUERIES) {
		atomic_fetch_sub(&slots_used, 1);
		return ERR_STORE;
	}
	if (atomic_compare_exchange_strong(&q->slot, &expected, mine))
		return mine;
	int back = mine;
	atomic_compare_exchange_strong(&slots_used, &back, mine - 1);
	return expected;
}

int
db_prepare(struct store *st, struct query *q, struct db_stmt **out)
{
	*out = NULL;
	if (db_query_slot(q) < 0) {
		db_set_err(st, "more than %d queries: raise DB_MAX_QUERIES", DB_MAX_QUERIES);
		st->failures++;
		return ERR_STORE;
	}
	return st->be->prepare(st, q, out);
}

/* The backend of a statement: every backend's struct db_stmt begins with its store. */
static const struct db_backend *
be_of(struct db_stmt *s)
{
	return (*(struct store **)s)->be;
}

void
db_bind_int(struct db_stmt *s, int idx, int64_t v)
{
	(void)be_of(s)->bind_int(s, idx, v);
}

void
db_bind_text(struct db_stmt *s, int idx, const char *v)
{
	(void)be_of(s)->bind_text(s, idx, v);
}

int
db_step(struct db_stmt *s)
{
	return be_of(s)->step(s);
}

int
db_step_one(struct db_stmt *s)
{
	int r = db_step(s);

	return r == DB_ROW ? 0 : r == DB_DONE ? ERR_NOTFOUND : r;
}

int
db_exec(struct db_stmt *s, int *changes)
{
	int r = be_of(s)->step(s);

	if (changes != NULL)
		*changes = r >= 0 ? be_of(s)->changes(s) : 0;
	return r < 0 ? r : 0;
}

int64_t
db_col_int(struct db_stmt *s, int col)
{
	return be_of(s)->col_int(s, col);
}

const char *
db_col_text(struct db_stmt *s, int col)
{
	return be_of(s)->col_text(s, col);
}

bool
db_col_null(struct db_stmt *s, int col)
{
	return be_of(s)->col_null(s, col);
}

void
db_release(struct db_stmt *s)
{
	if (s != NULL)
		be_of(s)->release(s);
}

int
db_run(struct store *st, struct query *q, int *changes)
{
	struct db_stmt *s;
	int r;

	if (changes != NULL)
		*changes = 0;
	if ((r = db_prepare(st, q, &s)) != 0)
		return r;
	r = db_exec(s, changes);
	db_release(s);
	return r;
}

int
db_for_each_row(struct db_stmt *s, db_row_fn each, void *cb, void *arg)
{
	int r;

	while ((r = db_step(s)) == DB_ROW)
		if ((r = each(s, cb, arg)) != 0)
			return r;
	return r;
}

int
db_list_rows(struct store *st, struct query *q, db_row_fn each, void *cb, void *arg)
{
	struct db_stmt *s;
	int r;

	if ((r = db_prepare(st, q, &s)) != 0)
		return r;
	r = db_for_each_row(s, each, cb, arg);
	db_release(s);
	return r;
}

int
db_tx_begin(struct store *st)
{
	return st->be->begin(st);
}

int
db_tx_end(struct store *st, int r)
{
	if (r != 0) {
		char keep[sizeof(st->errmsg)];
		memcpy(keep, st->errmsg, sizeof(keep));
		st->be->rollback(st);
		memcpy(st->errmsg, keep, sizeof(keep));
		return r;
	}
	if ((r = st->be->commit(st)) != 0) {
		st->be->rollback(st);
		return r;
	}
	st->own_writes++;
	return 0;
}

/* ---- opening ---- */

/* Creates the state directory if missing and checks that we may write it. */
static int
prepare_dir(const char *dir, char *why, size_t whylen)
{
	struct statvfs vfs;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		int e = errno;
		snprintf(why, whylen, "cannot create %s: %s", dir, strerror(e));
		return (e == EROFS || e == EACCES || e == EPERM) ? ERR_READONLY : ERR_IO;
	}
	if (access(dir, R_OK | X_OK) != 0) {
		snprintf(why, whylen, "cannot read %s: %s", dir, strerror(errno));
		return ERR_IO;
	}
	if (access(dir, W_OK) != 0 || (statvfs(dir, &vfs) == 0 && (vfs.f_flag & ST_RDONLY))) {
		snprintf(why, whylen, "state directory %s is read-only; outpost needs to write %s there",
		    dir, DB_SQLITE_NAME);
		return ERR_READONLY;
	}
	return 0;
}

/* Opens target on be; dir, when not NULL, is created first (the state directory). */
static int
open_on(const struct db_backend *be, const char *dir, const char *target, struct store **out,
    char *why, size_t whylen)
{
	struct store *st;
	int r;

	if (dir != NULL && (r = prepare_dir(dir, why, whylen)) != 0)
		return r;
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		snprintf(why, whylen, "out of memory");
		return ERR_NOMEM;
	}
	st->be = be;
	if ((r = be->open(st, target, why, whylen)) != 0) {
		free(st);
		return r;
	}
	*out = st;
	return 0;
}

/* sqlite:PATH: a directory's outpost.db, ":memory:" a private database in memory, else the file. */
static int
open_sqlite_spec(const char *p, struct store **out, char *why, size_t whylen)
{
	char path[PATH_MAX];
	struct stat sb;

	if (strcmp(p, ":memory:") == 0)
		return open_on(&db_sqlite, NULL, p, out, why, whylen);
	if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		if (snprintf(path, sizeof(path), "%s/%s", p, DB_SQLITE_NAME) >= (int)sizeof(path)) {
			snprintf(why, whylen, "store path too long");
			return ERR_TOOLONG;
		}
		return open_on(&db_sqlite, p, path, out, why, whylen);
	}
	if (strlen(p) >= sizeof(path)) {
		snprintf(why, whylen, "store path too long");
		return ERR_TOOLONG;
	}
	return open_on(&db_sqlite, NULL, p, out, why, whylen);
}

int
store_open_spec(const char *spec, const char *state_dir, struct store **out, char *why, size_t whylen)
{
	char path[PATH_MAX];
	char scratch[256];

	*out = NULL;
	if (why == NULL || whylen == 0) {
		why = scratch;
		whylen = sizeof(scratch);
	}
	why[0] = '\0';
	const char *p;
	switch (spec_form(spec, &p)) {
	case SPEC_STATE_DIR:
		if (state_dir == NULL || state_dir[0] == '\0') {
			snprintf(why, whylen, "no state directory given");
			return ERR_INVAL;
		}
		if (snprintf(path, sizeof(path), "%s/%s", state_dir, DB_SQLITE_NAME) >= (int)sizeof(path)) {
			snprintf(why, whylen, "state directory path too long");
			return ERR_TOOLONG;
		}
		return open_on(&db_sqlite, state_dir, path, out, why, whylen);
	case SPEC_SQLITE_PATH:
		return open_sqlite_spec(p, out, why, whylen);
	case SPEC_PG:
#ifdef HAVE_LIBPQ
		return open_on(&db_pg, NULL, spec, out, why, whylen);
#else
		store_spec_redact(spec, path, sizeof(path));
		snprintf(why, whylen, "%.200s: this outpost was built without PostgreSQL (meson -Dpostgresql)", path);
		return ERR_CONFIG;
#endif
	default:
		return store_spec_check(spec, why, whylen);	/* its sentence says which forms there are */
	}
}

int
store_open_why(const char *state_dir, struct store **out, char *why, size_t whylen)
{
	return store_open_spec(NULL, state_dir, out, why, whylen);
}

int
store_open(const char *state_dir, struct store **out)
{
	return store_open_spec(NULL, state_dir, out, NULL, 0);
}

/* Masks the password of a URI's userinfo (scheme://user:PASSWORD@host) and of password= parameters. */
void
store_spec_redact(const char *spec, char *out, size_t len)
{
	size_t n = 0;
	const char *p = spec != NULL ? spec : "";
	const char *auth_end = NULL, *colon = NULL;

	if (len == 0)
		return;
	const char *slashes = strstr(p, "://");
	if (slashes != NULL) {
		const char *host = slashes + 3;
		size_t span = strcspn(host, "/?#");
		const char *at = memrchr(host, '@', span);
		if (at != NULL) {
			colon = memchr(host, ':', (size_t)(at - host));
			auth_end = at;
		}
	}
	while (*p != '\0' && n + 1 < len) {
		if (colon != NULL && p == colon + 1) {
			for (const char *m = "***"; *m != '\0' && n + 1 < len; m++)
				out[n++] = *m;
			p = auth_end;
			continue;
		}
		if ((p == spec || p[-1] == '?' || p[-1] == '&' || p[-1] == ' ') &&
		    strncmp(p, "password=", 9) == 0) {
			for (const char *m = "password=***"; *m != '\0' && n + 1 < len; m++)
				out[n++] = *m;
			p += 9 + strcspn(p + 9, "& ");
			continue;
		}
		out[n++] = *p++;
	}
	out[n] = '\0';
}

const char *
store_engine(const struct store *st)
{
	return st != NULL ? st->be->name : "sqlite";
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	st->be->close(st);
	free(st);
}

const char *
store_errmsg(struct store *st)
{
	if (st == NULL)
		return "no state store";
	return st->errmsg;
}

int64_t
store_failures(const struct store *st)
{
	return st != NULL ? st->failures : 0;
}

void
store_set_timer(struct store *st, void (*fn)(void *arg, int64_t ns), void *arg)
{
	st->timer = fn;
	st->timer_arg = arg;
}

int64_t
store_change_counter(struct store *st)
{
	int64_t v = st->be->change_counter(st);

	return v < 0 ? -1 : v + st->own_writes;
}

int
store_listen(struct store *st)
{
	if (st->be->listen == NULL) {
		snprintf(st->errmsg, sizeof(st->errmsg), "the %s store has no notifications", st->be->name);
		return ERR_INVAL;
	}
	return st->be->listen(st);
}

int
store_wait_notify(struct store *st, int wake_fd, int timeout_ms, unsigned *which)
{
	*which = 0;
	if (st->be->wait_notify == NULL) {
		snprintf(st->errmsg, sizeof(st->errmsg), "the %s store has no notifications", st->be->name);
		return ERR_INVAL;
	}
	return st->be->wait_notify(st, wake_fd, timeout_ms, which);
}

/* ---- outpostd's batches of its own writes (storeq.c) ---- */

int
store_batch_begin(struct store *st)
{
	return st->be->begin(st);
}

/* Like db_tx_end, without bumping own_writes: presence and sessions are not access changes. */
int
store_batch_commit(struct store *st)
{
	int r = st->be->commit(st);

	if (r != 0)
		store_batch_rollback(st);
	return r;
}

void
store_batch_rollback(struct store *st)
{
	char keep[sizeof(st->errmsg)];

	memcpy(keep, st->errmsg, sizeof(keep));
	st->be->rollback(st);
	memcpy(st->errmsg, keep, sizeof(keep));
}
