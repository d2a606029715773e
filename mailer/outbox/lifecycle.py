"""A worker process's start and stop, as Celery signals them.

The process that runs the tasks lowers its CPU priority, warms up (templates, the
SES client) and starts its keeper before the first doorbell: with the prefork pool (the default) that is
each child, told by ``worker_process_init``; with the threads pool, the worker
itself, told by ``worker_ready``. On ``worker_shutting_down`` (a deploy's SIGTERM)
a drain under way stops claiming and sees its sends through; with prefork the
children finish their drain (MAILER_DRAIN_SECONDS at most) before they exit.
"""

import contextlib
import os

from django.conf import settings

from ..sending.warmup import warm_up
from .delivery import dispatcher, stop_dispatcher


def process_started(**kwargs) -> None:
    """celery.signals.worker_process_init: a process that will run tasks.

    It gives way to the web processes and the database on a shared host
    (MAILER_WORKER_NICE): email waits a few milliseconds rather than a request.
    """
    if settings.MAILER_WORKER_NICE > 0:
        give_way(settings.MAILER_WORKER_NICE)
    warm_up()
    dispatcher().start_keeper()


def give_way(nice: int) -> None:
    """Lower this worker's CPU priority by ``nice`` against every process of the host.

    Where Linux groups the CPU by session (autogroup, on in most distributions), a
    process's nice orders it only within its session: a worker started by systemd,
    in a container or from a terminal of its own would still share the CPU half and
    half with the web's session. So the session's group gets the nice too, when the
    session is the worker's own (its leader is this process or the Celery process
    that forked it); in a session shared with web processes (bin/run) it is left as is.
    """
    os.nice(nice)
    if os.getsid(0) in (os.getpid(), os.getppid()):
        # No autogroup (another kernel, another system) or a read-only /proc: nothing to do.
        with contextlib.suppress(OSError), open("/proc/self/autogroup", "w") as group:
            group.write(str(nice))


def worker_ready(sender=None, **kwargs) -> None:
    """celery.signals.worker_ready: the worker itself runs the tasks unless its pool forks."""
    from celery.concurrency.prefork import TaskPool as PreforkPool

    if not isinstance(getattr(sender, "pool", None), PreforkPool):
        process_started()


def shutting_down(**kwargs) -> None:
    """celery.signals.worker_shutting_down: claim nothing more."""
    stop_dispatcher()
