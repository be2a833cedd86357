/*
 * worker: a small thread pool whose completions run on the loop.
 *
 * Jobs wait on one FIFO guarded by a mutex; a finished job moves to the
 * done list and the loop is woken through one ev_async, whose callback
 * runs every `done` in completion order. ev_async coalesces wake-ups, so
 * the callback drains the whole list each time.
 */
#include "core/worker.h"
#include "core/util.h"

#include <ev.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct job {
	struct job	*next;
	void		(*work)(void *);
	void		(*done)(void *);
	void		*arg;
};

struct worker {
	struct ev_loop	*loop;
	ev_async	 wake;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct job	*todo, **todo_tail;	/* FIFO of jobs to run */
	struct job	*done, **done_tail;	/* finished, `done` not yet called */
	pthread_t	*threads;
	int		 nthreads;
	bool		 stopping;
	unsigned	 pending;	/* loop thread only */
};

static void *
worker_main(void *p)
{
	struct worker *w = p;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct job *j;

		while (w->todo == NULL && !w->stopping)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->todo == NULL)
			break;	/* stopping and nothing left */
		j = w->todo;
		if ((w->todo = j->next) == NULL)
			w->todo_tail = &w->todo;
		pthread_mutex_unlock(&w->mu);

		j->work(j->arg);

		pthread_mutex_lock(&w->mu);
		j->next = NULL;
		*w->done_tail = j;
		w->done_tail = &j->next;
		ev_async_send(w->loop, &w->wake);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void
worker_wake_cb(struct ev_loop *loop, ev_async *a, int revents)
{
	struct worker *w = a->data;
	struct job *list;

	(void)loop;
	(void)revents;
	pthread_mutex_lock(&w->mu);
	list = w->done;
	w->done = NULL;
	w->done_tail = &w->done;
	pthread_mutex_unlock(&w->mu);
	while (list != NULL) {
		struct job *j = list;

		list = j->next;
		w->pending--;
		j->done(j->arg);
		free(j);
	}
}

struct worker *
worker_new(struct ev_loop *loop, int nthreads)
{
	struct worker *w = xcalloc(1, sizeof(*w));

	w->loop = loop;
	w->todo_tail = &w->todo;
	w->done_tail = &w->done;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	ev_async_init(&w->wake, worker_wake_cb);
	w->wake.data = w;
	ev_async_start(loop, &w->wake);
	/* The async watcher alone must not keep the loop alive. */
	ev_unref(loop);
	w->threads = xcalloc((size_t)nthreads, sizeof(*w->threads));
	for (int i = 0; i < nthreads; i++) {
		if (pthread_create(&w->threads[i], NULL, worker_main, w) != 0)
			break;
		w->nthreads++;
	}
	if (w->nthreads == 0)
		abort();
	return w;
}

void
worker_free(struct worker **wp)
{
	struct worker *w = *wp;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	for (int i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	/* Jobs that finished but whose `done` never ran are dropped: their
	 * owners are being torn down with the loop. */
	for (struct job *j = w->done, *n; j != NULL; j = n) {
		n = j->next;
		free(j);
	}
	ev_ref(w->loop);
	ev_async_stop(w->loop, &w->wake);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w->threads);
	free(w);
	*wp = NULL;
}

void
worker_submit(struct worker *w, void (*work)(void *), void (*done)(void *), void *arg)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->work = work;
	j->done = done;
	j->arg = arg;
	w->pending++;
	pthread_mutex_lock(&w->mu);
	*w->todo_tail = j;
	w->todo_tail = &j->next;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

unsigned
worker_pending(const struct worker *w)
{
	return w->pending;
}
