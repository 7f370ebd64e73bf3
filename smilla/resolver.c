/*
 * resolver.c - one thread drives the libunbound context for everyone.
 * The contract is resolver.h.
 *
 *   mil_resolver_new(dns, why, whylen) / mil_resolver_free(r)
 *   mil_resolve_all(r, names, types, n, res)	one or several at once
 *
 * A caller queues a request on its own stack and sleeps on the shared
 * condition variable; the thread wakes on a pipe, submits what is
 * queued, and fills results in as libunbound (or our deadline) delivers
 * them.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "counters.h"
#include "resolver.h"
#include "util.h"

struct request {
	const char *name;
	int type;
	int done;
	struct sm_dns_result *res;
	struct mil_resolver *owner;
	struct request *next;
};

struct mil_resolver {
	struct sm_dns *dns;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t answered;
	struct request *queue;		/* not yet submitted */
	int wake[2];			/* pipe: queue changed or stop */
	int stop;
};

/* A temporary failure saying WHY (NULL when out of memory). */
static struct sm_dns_result *
failure(const char *name, int type, const char *why)
{
	struct sm_dns_result *res;

	res = sm_dns_result_new(name, type, SM_DNS_TEMPFAIL, SM_DNS_INSECURE);
	if (res != NULL && sm_dns_result_set_why(res, why) < 0) {
		sm_dns_result_free(res);
		res = NULL;
	}
	return res;
}

/* Called in the resolver thread, from sm_dns_process/expire. */
static void
answered(void *arg, struct sm_dns_result *res)
{
	struct request *req = arg;
	struct mil_resolver *r = req->owner;

	if (res != NULL && res->timed_out)
		sm_metric_add(mil_ct.timeouts, 0, 1);
	/* The waiter cannot leave before done is set, under the lock. */
	pthread_mutex_lock(&r->lock);
	req->res = res;
	req->done = 1;
	pthread_cond_broadcast(&r->answered);
	pthread_mutex_unlock(&r->lock);
}

/* Submit everything queued; a request that cannot start fails now. */
static void
submit_queued(struct mil_resolver *r)
{
	struct request *req, *next;

	pthread_mutex_lock(&r->lock);
	req = r->queue;
	r->queue = NULL;
	pthread_mutex_unlock(&r->lock);
	for (; req != NULL; req = next) {
		next = req->next;
		if (sm_dns_submit(r->dns, req->name, req->type, answered,
				  req) < 0)
			answered(req, failure(req->name, req->type,
					      "cannot start lookup"));
	}
}

static void *
run(void *arg)
{
	struct mil_resolver *r = arg;
	struct pollfd pfd[2];
	char buf[64];

	pfd[0].fd = r->wake[0];
	pfd[0].events = POLLIN;
	pfd[1].fd = sm_dns_fd(r->dns);
	pfd[1].events = POLLIN;
	for (;;) {
		int wait = sm_dns_next_deadline(r->dns);

		if (poll(pfd, 2, wait) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents & POLLIN)
			while (read(r->wake[0], buf, sizeof(buf)) > 0)
				;
		pthread_mutex_lock(&r->lock);
		if (r->stop) {
			pthread_mutex_unlock(&r->lock);
			break;
		}
		pthread_mutex_unlock(&r->lock);
		submit_queued(r);
		if (pfd[1].revents & POLLIN)
			sm_dns_process(r->dns);
		sm_dns_expire(r->dns);
	}
	return NULL;
}

struct mil_resolver *
mil_resolver_new(struct sm_dns *dns, char *why, size_t whylen)
{
	struct mil_resolver *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		sm_why(why, whylen, "out of memory");
		return NULL;
	}
	r->dns = dns;
	if (pipe2(r->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		sm_why(why, whylen, "pipe: %s", strerror(errno));
		free(r);
		return NULL;
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->answered, NULL);
	if (pthread_create(&r->thread, NULL, run, r) != 0) {
		sm_why(why, whylen, "cannot start the resolver thread");
		close(r->wake[0]);
		close(r->wake[1]);
		pthread_mutex_destroy(&r->lock);
		pthread_cond_destroy(&r->answered);
		free(r);
		return NULL;
	}
	return r;
}

static void
poke(struct mil_resolver *r)
{
	ssize_t n = write(r->wake[1], "x", 1);

	(void)n;	/* a full pipe already says "wake up" */
}

void
mil_resolver_free(struct mil_resolver *r)
{
	struct request *req;

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = 1;
	pthread_mutex_unlock(&r->lock);
	poke(r);
	pthread_join(r->thread, NULL);
	/*
	 * Nobody should be waiting at this point (the milter has stopped);
	 * if someone is, answer: a hanging thread is worse than a tempfail.
	 */
	pthread_mutex_lock(&r->lock);
	for (req = r->queue; req != NULL; req = req->next) {
		req->res = failure(req->name, req->type, "shutting down");
		req->done = 1;
	}
	r->queue = NULL;
	pthread_cond_broadcast(&r->answered);
	pthread_mutex_unlock(&r->lock);
	sm_dns_free(r->dns);	/* in-flight lookups: no callbacks */
	close(r->wake[0]);
	close(r->wake[1]);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->answered);
	free(r);
}

void
mil_resolve_all(struct mil_resolver *r, const char *const *names,
		const int *types, size_t n, struct sm_dns_result **res)
{
	struct request one, *req = n == 1 ? &one : calloc(n, sizeof(*req));
	size_t i, left = n;

	if (req == NULL) {
		for (i = 0; i < n; i++)
			res[i] = failure(names[i], types[i], "out of memory");
		return;
	}
	pthread_mutex_lock(&r->lock);
	if (r->stop) {
		pthread_mutex_unlock(&r->lock);
		for (i = 0; i < n; i++)
			res[i] = failure(names[i], types[i], "shutting down");
		goto done;
	}
	for (i = 0; i < n; i++) {
		req[i] = (struct request){ names[i], types[i], 0, NULL, r,
					   r->queue };
		r->queue = &req[i];
	}
	pthread_mutex_unlock(&r->lock);
	poke(r);
	pthread_mutex_lock(&r->lock);
	while (left > 0) {
		for (left = 0, i = 0; i < n; i++)
			left += !req[i].done;
		if (left > 0)
			pthread_cond_wait(&r->answered, &r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	for (i = 0; i < n; i++)
		res[i] = req[i].res;
done:
	if (req != &one)
		free(req);
}
