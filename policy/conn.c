/*
 * conn.c - smilla-policyd's client connections: reading, buffered
 * writing, what epoll watches, the idle list and closing; the contract
 * is srv.h.
 *
 * A connection is watched for what it can take next (input when idle,
 * output when an answer is pending) and not at all while it waits for
 * DNS.  Input that epoll refuses (a regular file on stdin under -s) is
 * always ready: the loop polls those without waiting.  Answers are
 * queued in the write buffer and written as far as the socket takes
 * them; the rest goes on EPOLLOUT.  Connections that are not deciding a
 * request sit on the idle list, in the order of SINCE (when the last
 * answer went or the current request began), longest idle first, so
 * the cap and idle_timeout (accept.c) look at its head only.  A
 * connection that lookups still point at is freed by the last of them
 * (flight.c).
 *
 *   pol_conn_new(srv, in, out)    a connection, idle and watched;
 *                                 NULL when out of memory
 *   pol_conn_read(c)              read what came and decide it
 *   pol_conn_write(c, text, len)  queue and write (LEN 0: write on)
 *   pol_conn_watch(c)             watch C for what it can take next
 *   pol_conn_drop(c)              close in the middle of a round (its
 *                                 memory goes in the sweep)
 *   pol_conn_close(c)             close and free (unless waited for)
 *   pol_conn_unlink(c)            out of the server: descriptors closed
 *   pol_conn_free(c)              the memory only
 *   pol_idle_append(c), pol_idle_remove(c)   the idle list
 *   pol_nonblock(fd)              O_NONBLOCK
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "srv.h"

#define RBUF_MAX (1024 * 1024)	/* one request can never be larger */

void
pol_idle_remove(struct pol_conn *c)
{
	struct pol_server *srv = c->srv;

	if (!c->idle)
		return;
	if (c->idle_prev != NULL)
		c->idle_prev->idle_next = c->idle_next;
	else
		srv->idle_head = c->idle_next;
	if (c->idle_next != NULL)
		c->idle_next->idle_prev = c->idle_prev;
	else
		srv->idle_tail = c->idle_prev;
	c->idle_prev = c->idle_next = NULL;
	c->idle = 0;
}

/* C is idle from now on: to the tail, so the list stays in SINCE order. */
void
pol_idle_append(struct pol_conn *c)
{
	struct pol_server *srv = c->srv;

	pol_idle_remove(c);
	c->since = sm_now_ms();
	c->idle = 1;
	c->idle_prev = srv->idle_tail;
	if (srv->idle_tail != NULL)
		srv->idle_tail->idle_next = c;
	else
		srv->idle_head = c;
	srv->idle_tail = c;
}

/* Something went over C: its idle time starts again (if it is idle). */
static void
active(struct pol_conn *c)
{
	if (c->idle)
		pol_idle_append(c);
}

/*
 * Queue LEN octets of TEXT and write what the socket takes.  A closing
 * connection only flushes what it has; when the peer is gone, that is
 * dropped.
 */
void
pol_conn_write(struct pol_conn *c, const char *text, size_t len)
{
	ssize_t n;

	if (c->dead && len > 0)
		return;
	if (len > 0 && c->wlen + len > c->wcap) {
		size_t cap = c->wlen + len + 512;
		char *grown = realloc(c->wbuf, cap);

		if (grown == NULL) {
			c->dead = 1;
			return;
		}
		c->wbuf = grown;
		c->wcap = cap;
	}
	if (len > 0)
		memcpy(c->wbuf + c->wlen, text, len);
	c->wlen += len;
	if (c->wblocked && len > 0)
		return;		/* no write(2) until the socket has room */
	c->wblocked = 0;
	while (c->woff < c->wlen) {
		n = write(c->out, c->wbuf + c->woff, c->wlen - c->woff);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			c->wblocked = 1;	/* watched for EPOLLOUT */
			return;
		}
		if (n <= 0) {
			c->dead = 1;
			break;
		}
		c->woff += (size_t)n;
		active(c);
	}
	c->woff = c->wlen = 0;
}

int
pol_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Watch C for what it can take next; nothing while it waits. */
void
pol_conn_watch(struct pol_conn *c)
{
	struct epoll_event ev;
	uint32_t want = 0;
	int op;

	if (c->file || c->in < 0)
		return;
	if (pol_conn_wants_input(c))
		want |= EPOLLIN;
	/* stdout under spawn(8) stays blocking: answers are small. */
	if (c->wlen > 0 && c->out == c->in)
		want |= EPOLLOUT;
	if (want == c->mask)
		return;
	/* Not watched at all: epoll would report a hang-up again and again. */
	op = want == 0 ? EPOLL_CTL_DEL : c->mask == 0 ? EPOLL_CTL_ADD :
							EPOLL_CTL_MOD;
	memset(&ev, 0, sizeof(ev));
	ev.events = want;
	ev.data.ptr = &c->w;
	if (epoll_ctl(c->srv->epfd, op, c->in, &ev) == 0) {
		c->mask = want;
	} else if (op == EPOLL_CTL_ADD && errno == EPERM) {
		c->file = 1;	/* a regular file: always readable */
		c->srv->nfiles++;
	} else {
		sm_log(SM_LOG_WARNING, "epoll_ctl: %s: closing the connection",
		       strerror(errno));
		c->dead = 1;
		pol_conn_touch(c);
	}
}

struct pol_conn *
pol_conn_new(struct pol_server *srv, int in, int out)
{
	struct pol_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->w.kind = POL_W_CONN;
	c->w.fd = in;
	c->srv = srv;
	c->in = in;
	c->out = out;
	pol_nonblock(in);
	c->next = srv->conns;
	if (srv->conns != NULL)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;
	pol_idle_append(c);
	pol_conn_watch(c);
	return c;
}

void
pol_conn_unlink(struct pol_conn *c)
{
	struct pol_server *srv = c->srv;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	srv->nconns--;
	pol_idle_remove(c);
	if (c->mask != 0)
		epoll_ctl(srv->epfd, EPOLL_CTL_DEL, c->in, NULL);
	if (c->file)
		srv->nfiles--;
	c->mask = 0;
	c->file = 0;
	close(c->in);
	if (c->out != c->in)
		close(c->out);
	c->in = c->out = -1;
}

void
pol_conn_free(struct pol_conn *c)
{
	free(c->rbuf);
	free(c->wbuf);
	free(c);
}

/*
 * Close C; while lookups still point at it, the last one frees it.
 * One already closed (IN < 0) is only freed.
 */
void
pol_conn_close(struct pol_conn *c)
{
	if (c->in >= 0)
		pol_conn_unlink(c);
	c->dead = 1;
	if (c->waiting == 0)
		pol_conn_free(c);
}

/*
 * Close C in the middle of a round: its descriptor goes now, its memory
 * in sweep(), as this round's events may still point at it.
 */
void
pol_conn_drop(struct pol_conn *c)
{
	pol_conn_unlink(c);
	c->dead = 1;
	pol_conn_touch(c);
}

void
pol_conn_read(struct pol_conn *c)
{
	ssize_t n;

	/* Never while busy: the request being decided points into RBUF. */
	if (c->busy)
		return;
	if (c->roff > 0) {
		memmove(c->rbuf, c->rbuf + c->roff, c->rlen - c->roff);
		c->rlen -= c->roff;
		c->roff = 0;
	}
	if (c->rlen == c->rcap) {
		size_t cap = c->rcap ? 2 * c->rcap : 8192;
		char *grown;

		if (cap > RBUF_MAX || (grown = realloc(c->rbuf, cap)) == NULL) {
			sm_log(SM_LOG_WARNING, "request too large: closing");
			sm_metric_add(c->srv->ct.errors, POL_ERR_TOO_LARGE, 1);
			c->dead = 1;
			return;
		}
		c->rbuf = grown;
		c->rcap = cap;
	}
	n = read(c->in, c->rbuf + c->rlen, c->rcap - c->rlen);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		c->eof = 1;
	} else {
		/*
		 * A new request starts the clock; the rest of a half-read
		 * one does not, so a request sent an octet at a time still
		 * ends idle_timeout after its first.
		 */
		if (c->rlen == 0)
			active(c);
		c->rlen += (size_t)n;
	}
	pol_cycle_process(c);
	if (c->eof && !c->busy && c->rlen > c->roff && !c->dead) {
		sm_log(SM_LOG_WARNING, "connection closed inside a request");
		sm_metric_add(c->srv->ct.errors, POL_ERR_CLOSED, 1);
		c->dead = 1;
	}
}
