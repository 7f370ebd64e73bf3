/*
 * spool.c - message storage for the milter: memory, then a file.
 * The contract is spool.h.
 *
 *   mil_spool_new(mem_max) / mil_spool_free(spool)
 *   mil_spool_write(spool, data, len, why, whylen)
 *   mil_spool_size(spool) / mil_spool_on_disk(spool)
 *   mil_spool_reader(spool, why, whylen)	read it back from the start
 *   mil_spool_writer(spool)			a stream appending to it
 *   mil_spool_tmpfile(why, whylen)		a private scratch file
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spool.h"
#include "util.h"

struct mil_spool {
	size_t mem_max;
	unsigned char *buf;	/* memory part, while file == NULL */
	size_t len, cap;
	FILE *file;		/* once spilled: everything is here */
};

struct mil_spool *
mil_spool_new(size_t mem_max)
{
	struct mil_spool *s = calloc(1, sizeof(*s));

	if (s != NULL)
		s->mem_max = mem_max;
	return s;
}

void
mil_spool_free(struct mil_spool *s)
{
	if (s == NULL)
		return;
	if (s->file != NULL)
		fclose(s->file);
	free(s->buf);
	free(s);
}

FILE *
mil_spool_tmpfile(char *why, size_t whylen)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	FILE *f;
	int fd;

	if (dir == NULL || *dir != '/')
		dir = "/tmp";
	if ((size_t)snprintf(path, sizeof(path), "%s/smilla.XXXXXX", dir) >=
	    sizeof(path)) {
		sm_why(why, whylen, "TMPDIR too long");
		return NULL;
	}
	/* mkstemp creates it 0600; nobody else ever sees the name. */
	if ((fd = mkostemp(path, O_CLOEXEC)) < 0) {
		sm_why(why, whylen, "temporary file in %s: %s", dir,
		       strerror(errno));
		return NULL;
	}
	unlink(path);
	if ((f = fdopen(fd, "w+")) == NULL) {
		sm_why(why, whylen, "temporary file: %s", strerror(errno));
		close(fd);
	}
	return f;
}

/* Move what is in memory to a file; from now on all goes there. */
static int
spill(struct mil_spool *s, char *why, size_t whylen)
{
	if ((s->file = mil_spool_tmpfile(why, whylen)) == NULL)
		return -1;
	if (s->len > 0 && fwrite(s->buf, 1, s->len, s->file) != s->len) {
		sm_why(why, whylen, "temporary file: %s", strerror(errno));
		return -1;
	}
	free(s->buf);
	s->buf = NULL;
	s->cap = 0;
	return 0;
}

int
mil_spool_write(struct mil_spool *s, const void *data, size_t len, char *why,
		size_t whylen)
{
	if (len == 0)
		return 0;
	if (s->file == NULL && s->len + len > s->mem_max &&
	    spill(s, why, whylen) < 0)
		return -1;
	if (s->file != NULL) {
		if (fwrite(data, 1, len, s->file) != len) {
			sm_why(why, whylen, "temporary file: %s",
			       strerror(errno));
			return -1;
		}
	} else {
		if (s->len + len > s->cap) {
			size_t cap = s->cap ? s->cap : 16384;
			unsigned char *p;

			while (cap < s->len + len)
				cap *= 2;
			if (cap > s->mem_max)
				cap = s->mem_max;
			if ((p = realloc(s->buf, cap)) == NULL) {
				sm_why(why, whylen, "out of memory");
				return -1;
			}
			s->buf = p;
			s->cap = cap;
		}
		memcpy(s->buf + s->len, data, len);
	}
	s->len += len;
	return 0;
}

size_t
mil_spool_size(const struct mil_spool *s)
{
	return s->len;
}

int
mil_spool_on_disk(const struct mil_spool *s)
{
	return s->file != NULL;
}

FILE *
mil_spool_reader(struct mil_spool *s, char *why, size_t whylen)
{
	FILE *f;
	int fd = -1;

	if (s->file != NULL) {
		/* The writer is done: share its file, from the start. */
		if (fflush(s->file) != 0 || (fd = dup(fileno(s->file))) < 0 ||
		    lseek(fd, 0, SEEK_SET) < 0) {
			if (fd >= 0)
				close(fd);
			sm_why(why, whylen, "temporary file: %s",
			       strerror(errno));
			return NULL;
		}
		if ((f = fdopen(fd, "r")) == NULL) {
			sm_why(why, whylen, "temporary file: %s",
			       strerror(errno));
			close(fd);
		}
		return f;
	}
	f = s->len > 0 ? fmemopen(s->buf, s->len, "r") : fopen("/dev/null", "r");
	if (f == NULL)
		sm_why(why, whylen, "cannot read spool: %s", strerror(errno));
	return f;
}

static ssize_t
cookie_write(void *cookie, const char *buf, size_t len)
{
	if (mil_spool_write(cookie, buf, len, NULL, 0) < 0) {
		errno = EIO;
		return -1;
	}
	return (ssize_t)len;
}

FILE *
mil_spool_writer(struct mil_spool *s)
{
	cookie_io_functions_t io = { NULL, cookie_write, NULL, NULL };

	return fopencookie(s, "w", io);
}
