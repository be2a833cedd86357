/*
 * worker: a small thread pool for work that must not stall the loop
 * (password hashing, batches of fsync). A job runs `work` on a pool thread,
 * then `done` on the loop thread, in the loop's own callback.
 *
 * `work` must not touch loop-owned state; `arg` is owned by the caller and
 * must stay valid until `done` has run. Jobs cannot be cancelled: a caller
 * whose session went away keeps a reference until `done`.
 */
#ifndef RMAIL_WORKER_H
#define RMAIL_WORKER_H

struct ev_loop;
struct worker;

struct worker	*worker_new(struct ev_loop *, int nthreads);
/* Waits for running jobs, runs no more `done` callbacks. */
void		 worker_free(struct worker **);
void		 worker_submit(struct worker *, void (*work)(void *arg),
		    void (*done)(void *arg), void *arg);
/* Jobs submitted and not yet completed (queued or running). */
unsigned	 worker_pending(const struct worker *);

#endif
