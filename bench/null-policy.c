/*
 * null-policy.c - the do-nothing baseline policy server.
 *
 *   null-policy (-u PATH | -t HOST:PORT)
 *
 * Socket handling in the style of smilla-policyd: one process, one
 * event loop, non-blocking sockets, per-connection input and output
 * buffers.  The loop is poll(2), where the daemon has epoll(7): with
 * eight connections the daemon runs as fast with either, but this
 * server, idle most of the time, ran at 0.5 to 0.95 of its poll speed
 * with epoll in runs on these machines.  The baseline is the faster
 * one.  Every request is read up to its empty line (the lines are
 * walked and checked for "name=value", as a real server must) and is
 * answered "action=DUNNO" at once: whatever a real policy server costs
 * beyond this is its own work.  SIGTERM/SIGINT: exit 0 (a unix socket
 * is removed).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>

#define RBUF_MAX (1024 * 1024)
#define ANSWER "action=DUNNO\n\n"

struct conn {
	int fd;
	int dead;
	char *rbuf, *wbuf;
	size_t rlen, rcap, wlen, woff, wcap;
};

static volatile sig_atomic_t got_term;
static const char *unix_path;

static void
on_signal(int sig)
{
	(void)sig;
	got_term = 1;
}

static void
die(const char *what)
{
	fprintf(stderr, "null-policy: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int
nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int
listen_unix(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "null-policy: %s: path too long\n", path);
		exit(1);
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, path);
	unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chmod(path, 0666) < 0 || listen(fd, 128) < 0)
		die(path);
	return fd;
}

static int
listen_inet(const char *spec)
{
	const char *colon = strrchr(spec, ':');
	struct addrinfo hints, *ai;
	char host[256];
	int fd, on = 1, rc;

	if (colon == NULL || colon == spec ||
	    (size_t)(colon - spec) >= sizeof(host)) {
		fprintf(stderr, "null-policy: -t wants HOST:PORT\n");
		exit(2);
	}
	snprintf(host, sizeof(host), "%.*s", (int)(colon - spec), spec);
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, colon + 1, &hints, &ai)) != 0) {
		fprintf(stderr, "null-policy: %s: %s\n", spec, gai_strerror(rc));
		exit(1);
	}
	if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0)
		die(spec);
	freeaddrinfo(ai);
	return fd;
}

/* Queue TEXT and write as much as the socket takes. */
static void
conn_write(struct conn *c, const char *text, size_t len)
{
	ssize_t n;

	if (c->wlen + len > c->wcap) {
		size_t cap = c->wlen + len + 512;
		char *grown = realloc(c->wbuf, cap);

		if (grown == NULL) {
			c->dead = 1;
			return;
		}
		c->wbuf = grown;
		c->wcap = cap;
	}
	memcpy(c->wbuf + c->wlen, text, len);
	c->wlen += len;
	while (c->woff < c->wlen) {
		n = write(c->fd, c->wbuf + c->woff, c->wlen - c->woff);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			c->dead = 1;
			return;
		}
		c->woff += (size_t)n;
	}
	c->woff = c->wlen = 0;
}

/*
 * Octets of the complete request at the start of BUF (through its empty
 * line), 0 when more input is needed, -1 when malformed.
 */
static long
scan(const char *buf, size_t len)
{
	size_t pos = 0, lines = 0;

	for (;;) {
		const char *line = buf + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t llen;

		if (nl == NULL)
			return 0;
		llen = (size_t)(nl - line);
		if (llen > 0 && line[llen - 1] == '\r')
			llen--;
		pos += (size_t)(nl - line) + 1;
		if (llen == 0)
			return lines ? (long)pos : -1;
		if (memchr(line, '=', llen) == NULL || line[0] == '=')
			return -1;
		lines++;
	}
}

static void
conn_read(struct conn *c)
{
	size_t off = 0;
	ssize_t n;
	long used;

	if (c->rlen == c->rcap) {
		size_t cap = c->rcap ? 2 * c->rcap : 8192;
		char *grown;

		if (cap > RBUF_MAX || (grown = realloc(c->rbuf, cap)) == NULL) {
			c->dead = 1;
			return;
		}
		c->rbuf = grown;
		c->rcap = cap;
	}
	n = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		c->dead = 1;
		return;
	}
	c->rlen += (size_t)n;
	while ((used = scan(c->rbuf + off, c->rlen - off)) > 0) {
		conn_write(c, ANSWER, sizeof(ANSWER) - 1);
		off += (size_t)used;
	}
	if (used < 0) {
		c->dead = 1;	/* malformed: close, no answer */
		return;
	}
	memmove(c->rbuf, c->rbuf + off, c->rlen - off);
	c->rlen -= off;
}

static void
usage(void)
{
	fputs("usage: null-policy (-u PATH | -t HOST:PORT)\n", stderr);
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *tcp = NULL;
	struct conn **conns = NULL;
	struct pollfd *pfd = NULL;
	size_t nconns = 0, cap = 0, i, n;
	struct sigaction sa;
	int lfd, opt, fd;

	while ((opt = getopt(argc, argv, "u:t:")) != -1) {
		switch (opt) {
		case 'u': unix_path = optarg; break;
		case 't': tcp = optarg; break;
		default: usage();
		}
	}
	if (optind != argc || (unix_path == NULL) == (tcp == NULL))
		usage();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	lfd = tcp != NULL ? listen_inet(tcp) : listen_unix(unix_path);
	nonblock(lfd);

	while (!got_term) {
		if (nconns + 1 > cap) {
			cap = 2 * (nconns + 1);
			if ((pfd = realloc(pfd, cap * sizeof(*pfd))) == NULL)
				die("realloc");
		}
		pfd[0].fd = lfd;
		pfd[0].events = POLLIN;
		for (i = 0; i < nconns; i++) {
			pfd[i + 1].fd = conns[i]->fd;
			pfd[i + 1].events = POLLIN |
					    (conns[i]->wlen > 0 ? POLLOUT : 0);
		}
		n = nconns + 1;
		if (poll(pfd, n, 1000) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		for (i = 1; i < n; i++) {
			struct conn *c = conns[i - 1];

			if (pfd[i].revents & POLLOUT)
				conn_write(c, "", 0);
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
				conn_read(c);
		}
		/* Close the dead ones, keeping the array dense. */
		for (i = 0; i < nconns;) {
			struct conn *c = conns[i];

			if (!c->dead) {
				i++;
				continue;
			}
			close(c->fd);
			free(c->rbuf);
			free(c->wbuf);
			free(c);
			conns[i] = conns[--nconns];
		}
		if (pfd[0].revents & POLLIN) {
			while ((fd = accept4(lfd, NULL, NULL,
					     SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
				struct conn *c = calloc(1, sizeof(*c));
				struct conn **grown =
					realloc(conns, (nconns + 1) * sizeof(*grown));

				if (c == NULL || grown == NULL) {
					free(c);
					if (grown != NULL)
						conns = grown;
					close(fd);
					continue;
				}
				conns = grown;
				c->fd = fd;
				conns[nconns++] = c;
			}
		}
	}
	for (i = 0; i < nconns; i++) {
		close(conns[i]->fd);
		free(conns[i]->rbuf);
		free(conns[i]->wbuf);
		free(conns[i]);
	}
	free(conns);
	free(pfd);
	close(lfd);
	if (unix_path != NULL)
		unlink(unix_path);
	return 0;
}
