"""The worker side of the outbox: claim due emails in batches and send them on this process's threads.

One ``Dispatcher`` per worker process (``dispatcher()``), whatever Celery's pool:

- ``drain()`` is what a doorbell does (task ``mailer.deliver``). For at most
  MAILER_DRAIN_SECONDS it reserves send slots from the global limiter, claims that
  many due rows (security email first), checks expiry and suppression for the
  batch, and hands each email to one of MAILER_SEND_THREADS sender threads, which
  renders it, sleeps until its slot and sends it. Outcomes are recorded in batches
  as they come back: the sends in one statement, retries and failures one by one.
  When a claim comes back full, the doorbell rings again so that another worker
  joins in; when the budget ends with email still due, it rings for the next round.
  One drain at a time per process: a second doorbell waits for the first.
- The keeper thread (every MAILER_KEEPER_SECONDS) renews the lease of every row
  this process holds, so that a lease can be short, and runs the sweep
  (mailer.outbox.sweep): rows whose lease ran out (a worker died, or lost its
  network) go back to the outbox, and the doorbell rings when due email waits and
  nobody is sending. Recovery so depends on no broker message and no beat.

A sender never starts a send once this process may have lost its claim: the keeper
keeps ``lease_until`` up to date, and with the database out of reach it runs out a
margin before the lease itself, before another worker may take the row. The only
email that can go out twice is one SES had accepted when its worker died or lost
its network: at most the sends in flight.
"""

import contextlib
import logging
import os
import random
import secrets
import socket
import threading
import time
from collections import Counter
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import timedelta

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from ..models import Email
from ..sending import breaker, counters, limiter, transport
from ..sending.errors import classify
from . import doorbell, state, sweep
from .attempt_log import log_attempt
from .message import build_message
from .suppression import suppressed_among

logger = logging.getLogger("mailer")

Status = Email.Status
# A lease is trusted this long less than it runs (at most a third of it): the time a
# renewal's answer takes to come back, and the clocks of web and worker hosts apart.
LEASE_MARGIN = 5.0
# A drain looks at the breaker, and invites other workers, at most this often (seconds).
CHECK_EVERY = 0.25
# After Redis or PostgreSQL failed under a drain, the next drain starts this much later (seconds).
RETRY_AFTER_ERROR = 1.0
# Provider-wide errors do not count towards MAILER_MAX_ATTEMPTS, but an email cannot ride on them for ever.
PROVIDER_RETRIES_PER_ATTEMPT = 4


@dataclass
class _Round:
    """One drain's running state: its deadline, the sends in flight, how it ended."""

    deadline: float
    budget: float
    inflight: set = field(default_factory=set)
    said_draining: float = 0.0
    # Redis calls that need not be made for every batch: when they were last made.
    looked_for_pause: float = 0.0
    invited: float = 0.0
    probe: bool = False  # this drain holds the breaker's probe (mailer.sending.breaker.gate)
    over: bool = False
    ring: bool = False
    resume_after: float = 0.0

    def stop(self, *, ring: bool = False, resume_after: float = 0.0) -> None:
        self.over, self.ring, self.resume_after = True, ring, resume_after


@dataclass
class Attempt:
    """One email's try, as a sender thread reports it back."""

    email: Email
    started: float
    message_id: str = ""
    error: BaseException | None = None
    send_seconds: float = 0.0
    # Not tried: the lease could not be trusted, or no send slot came in time.
    given_back: str = ""
    recorded: bool = False  # its outcome is in the database


class Dispatcher:
    """This process's sender threads, the identity its claims carry, and the keeper of its leases."""

    def __init__(self) -> None:
        self.owner = f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(3)}"
        self.threads = settings.MAILER_SEND_THREADS
        self._senders = ThreadPoolExecutor(self.threads, thread_name_prefix="mailer-send")
        self._drain_lock = threading.Lock()
        self._stopping = threading.Event()
        self._lease_until = 0.0
        self._keeper: threading.Thread | None = None
        # The rows the running drain has claimed and not yet recorded: the keeper renews these only.
        self._held: set[int] = set()
        # Outcomes known (SES answered) that the database did not take: written once it answers again.
        self._unrecorded: list[Attempt] = []
        self._held_lock = threading.Lock()
        # A provider error seen since the last send that went through: the next one tells the breaker.
        self._provider_trouble = False

    # --- the lease ---------------------------------------------------------------------

    @staticmethod
    def _trusted_until(at: float) -> float:
        """Until when a lease taken or renewed at ``at`` (time.monotonic) may be trusted."""
        lease = settings.MAILER_LEASE_SECONDS
        return at + lease - min(LEASE_MARGIN, lease / 3)

    def _lease_renewed(self, at: float) -> None:
        self._lease_until = max(self._lease_until, self._trusted_until(at))

    def may_send(self, claimed_at: float) -> bool:
        """Whether no other worker can have taken a row this process claimed at ``claimed_at``.

        Its lease ran from the claim, and from the keeper's latest renewal.
        """
        return time.monotonic() < max(self._lease_until, self._trusted_until(claimed_at))

    def keeper_behind(self) -> bool:
        """The keeper runs, but has not renewed this process's leases in time (the database is away)."""
        return self._keeper is not None and time.monotonic() >= self._lease_until

    # --- the keeper ---------------------------------------------------------------------

    def start_keeper(self) -> None:
        """Start the keeper thread (idempotent; nothing when MAILER_KEEPER_SECONDS is 0)."""
        if self._keeper is None and settings.MAILER_KEEPER_SECONDS > 0:
            self._keeper = threading.Thread(target=self._keep, name="mailer-keeper", daemon=True)
            self._keeper.start()

    def _keep(self) -> None:
        while not self._stopping.wait(settings.MAILER_KEEPER_SECONDS):
            try:
                self.keep_once()
            except Exception:  # the database or Redis is away: try again next time
                logger.warning("mailer keeper: this round failed", exc_info=True)
            finally:
                connection.close()  # the thread's own; never hold one across the wait

    def keep_once(self) -> dict:
        """Renew this process's leases, then sweep; return the sweep's counts."""
        asked = time.monotonic()
        with self._held_lock:
            held = list(self._held)
        state.renew(owner=self.owner, ids=held)
        self._lease_renewed(asked)
        return sweep.email_sweep()

    def stop(self) -> None:
        """Stop claiming and the keeper; a drain under way finishes what it holds (worker shutdown)."""
        self._stopping.set()

    # --- a drain ------------------------------------------------------------------------

    def drain(self, *, budget: float | None = None) -> dict[str, int]:
        """Send due email for up to ``budget`` seconds (MAILER_DRAIN_SECONDS); return what happened.

        One drain at a time per process (they would share the same threads): a
        doorbell that comes during a drain waits for it, then looks again, since the
        running drain may have made its last claim before that doorbell's email.
        """
        with self._drain_lock:
            self.start_keeper()
            return dict(self._drain(settings.MAILER_DRAIN_SECONDS if budget is None else budget))

    def _drain(self, budget: float) -> Counter:
        doorbell.answered()
        tally: Counter = Counter()
        started = time.monotonic()
        if self._keeper is not None and not self._lease_until:
            self._lease_renewed(started)  # the keeper's first round is still to come
        run = _Round(deadline=started + budget, budget=budget)
        try:
            while not self._stopping.is_set() and not run.over:
                try:
                    self._step(run, tally)
                except (redis.RedisError, DatabaseError) as exc:
                    # Redis or PostgreSQL went away (a restart): stop claiming; what is in
                    # flight is seen through below, the rest waits in the outbox. The next
                    # look comes a little later, not at once: no ring loop during an outage.
                    logger.warning("mailer drain stopped, %s: %s", type(exc).__name__, exc)
                    tally["stopped_by_error"] += 1
                    run.stop(resume_after=RETRY_AFTER_ERROR)
        finally:
            # Whatever stopped the loop, what was handed to a thread is seen through and recorded.
            self._see_through(run, tally)
            if run.said_draining:
                with contextlib.suppress(redis.RedisError):
                    doorbell.draining(self.owner, 0)
        if run.resume_after:
            doorbell.ring(after=run.resume_after)  # for the email that waits out the pause
        elif run.ring:
            doorbell.ring()
        return tally

    def _see_through(self, run: "_Round", tally: Counter) -> None:
        """Wait for every send in flight and record it, waiting up to a lease for the database.

        An outcome the database did not take (a restart) is written again every half
        second for up to MAILER_LEASE_SECONDS: SES's answer is known, and a send
        recorded late is not sent twice. Meanwhile the keeper no longer renews the row;
        if its lease lapses first, the sweeper puts it back and it is sent again (an
        in-flight send, the one duplicate allowed), and the late record, held by
        another worker by then, changes nothing.
        """
        try:
            while run.inflight:
                # On an error, that batch waits in self._unrecorded.
                with contextlib.suppress(redis.RedisError, DatabaseError):
                    self._wait(run.inflight, time.monotonic() + 60, tally)
            deadline = time.monotonic() + settings.MAILER_LEASE_SECONDS
            while self._unrecorded and time.monotonic() < deadline:
                time.sleep(0.5)
                connection.close()  # a broken connection is not reopened by itself
                pending, self._unrecorded = self._unrecorded, []
                try:
                    self._record(pending, tally)
                except (redis.RedisError, DatabaseError):
                    self._unrecorded.extend(a for a in pending if not a.recorded)
            if self._unrecorded:
                logger.warning(
                    "mailer: %d outcomes not recorded; their rows return when the lease lapses", len(self._unrecorded)
                )
                tally["not_recorded"] += len(self._unrecorded)
                self._unrecorded = []
        finally:
            with self._held_lock:
                self._held.clear()

    def _step(self, run: "_Round", tally: Counter) -> None:
        """One turn of a drain: record what came back, reserve slots, claim, hand the emails to threads."""
        inflight = run.inflight
        self._collect([f for f in inflight if f.done()], inflight, tally)
        now = time.monotonic()
        if now >= run.deadline:
            run.stop(ring=True)  # the budget is spent: the next doorbell goes on
            return
        if self.keeper_behind():
            # The keeper has not renewed this process's claims in time (the database
            # is out of reach): claim nothing more; another worker's keeper takes over.
            tally["lease_unsure"] += 1
            run.stop()
            return
        if now - run.said_draining >= 1.0:
            doorbell.draining(self.owner, 3.0)  # said every second: lapses soon if this process dies
            run.said_draining = now
        if self._provider_trouble or run.probe or now - run.looked_for_pause >= CHECK_EVERY:
            # In trouble, every turn asks: a pause must stop this drain's claims at once.
            run.looked_for_pause = now
            verdict, left = breaker.gate(self.owner)
            if verdict in ("paused", "wait"):
                tally[verdict] += 1
                # Another worker's probe: look again soon, it may already have gone through.
                run.stop(resume_after=left if verdict == "paused" else min(left, 1.0))
                return
            run.probe = verdict == "probe"
            if run.probe:
                self._provider_trouble = True  # the probe's success is what opens the gate again
        # The probe goes alone: nothing more is claimed until it comes back.
        free = (1 if run.probe else self.threads) - len(inflight)
        if free < max(1, self.threads // 4) and inflight:
            self._wait(inflight, run.deadline, tally)
            return
        grant = limiter.reserve(free)
        if not grant.count:
            if grant.wait > run.deadline - time.monotonic():
                tally[f"held_by_{grant.held_by}"] += 1
                # The rate: ring for the next round. The 24 h quota: the keeper rings
                # when it frees a slot (mailer.outbox.sweep).
                run.stop(ring=grant.held_by != "quota")
                return
            self._wait(inflight, min(run.deadline, time.monotonic() + grant.wait), tally, sleep=True)
            return
        claimed_at = time.monotonic()
        emails = state.claim_due(limit=grant.count, owner=self.owner, bulk_limit=grant.bulk)
        ready = self._screen(emails, tally)
        limiter.release(grant, grant.count - len(ready))
        if not emails:
            if inflight:
                self._wait(inflight, run.deadline, tally)
                return
            soon = state.next_due_in(now=timezone.now())
            if soon == 0 and not grant.bulk:
                # Due bulk email, and only the 24 h quota's security reserve left: it waits for a
                # slot of its own; past this drain, the keeper rings when one frees (mailer.outbox.sweep).
                tally["held_by_reserve"] += 1
                soon = limiter.quota_blocked(bulk=True)
            if soon is None or soon > run.deadline - time.monotonic():
                run.stop()  # nothing due within this drain: done
                return
            time.sleep(soon)
            return
        tally["claimed"] += len(emails)
        with self._held_lock:
            self._held.update(e.pk for e in ready)
        if len(emails) == grant.count == free and now - run.invited >= CHECK_EVERY:
            run.invited = now
            doorbell.ring()  # more may be due than this process can send: invite another worker
        for index, email in enumerate(ready):
            inflight.add(self._senders.submit(self._attempt, email, grant.slot(index), claimed_at))

    def _wait(self, inflight: set[Future], until: float, tally: Counter, *, sleep: bool = False) -> None:
        """Block until a send comes back (or, with ``sleep``, until ``until``), recording what came back."""
        timeout = max(0.0, until - time.monotonic())
        if not inflight:
            if sleep:
                time.sleep(timeout)
            return
        done, _ = wait(inflight, timeout=timeout, return_when=ALL_COMPLETED if sleep else FIRST_COMPLETED)
        self._collect(list(done), inflight, tally)

    def _screen(self, emails: list[Email], tally: Counter) -> list[Email]:
        """End the claimed emails that must not be sent (expired, suppressed); return the rest."""
        now = timezone.now()
        blocked = suppressed_among([e.to for e in emails])
        ready = []
        for email in emails:
            began = time.monotonic()
            if email.expires_at and email.expires_at <= now:
                status, error = Status.EXPIRED, "The link in this email expired before it could be sent."
            elif email.to in blocked:
                status, error = Status.SUPPRESSED, "Address is on the suppression list."
            else:
                ready.append(email)
                continue
            state.finish(email, status, error=error, owner=self.owner)
            log_attempt(email, status, began)
            tally[status] += 1
        return ready

    # --- one email, on a sender thread ----------------------------------------------------

    def _attempt(self, email: Email, slot: float, claimed_at: float) -> Attempt:
        attempt = Attempt(email, time.monotonic())
        try:
            message = build_message(email)
            # Open (or reuse) the connection before the slot, so that between the slot
            # and SES receiving the call there is only the call itself.
            transport.connection()
            slot = self._until_slot(slot)
            if slot is None:
                attempt.given_back = "no send slot"
                return attempt
            if not self.may_send(claimed_at):
                attempt.given_back = "lease not renewed"
                return attempt
            sent = time.monotonic()
            attempt.message_id = transport.send(message)
            attempt.send_seconds = time.monotonic() - sent
        except Exception as exc:  # noqa: BLE001 recorded by the drain: classify() decides what it means
            attempt.error = exc
        return attempt

    def _until_slot(self, slot: float) -> float | None:
        """Sleep until ``slot``; a thread that wakes too late takes a fresh one. None: none in time."""
        for _ in range(3):
            wait_for = slot - time.monotonic()
            if wait_for > 0:
                counters.limiter_sleep(wait_for)
            tolerance = limiter.late_tolerance()
            if time.monotonic() - slot <= tolerance or limiter.interval() <= tolerance:
                # On time; or slots so close together (a high rate) that being late moves nothing.
                return slot
            # Woke too late (a busy CPU): sending now would land next to the sends of
            # the following slots. Let this one go and take the next free one.
            grant = limiter.reserve(1)
            if not grant.count:
                return None
            slot = grant.slot(0)
        return None

    # --- recording ------------------------------------------------------------------------

    def _collect(self, done: list[Future], inflight: set[Future], tally: Counter) -> None:
        if not done:
            return
        inflight.difference_update(done)
        attempts = [f.result() for f in done]
        with self._held_lock:
            # Recorded below, or let go if the database fails: either way no longer renewed.
            self._held.difference_update(a.email.pk for a in attempts)
        try:
            self._record(attempts, tally)
        except (redis.RedisError, DatabaseError):
            self._unrecorded.extend(a for a in attempts if not a.recorded)
            raise

    def _record(self, attempts: list[Attempt], tally: Counter) -> None:
        """Write the outcomes of ``attempts`` not yet written (each once: one log line per attempt)."""
        attempts = [a for a in attempts if not a.recorded]
        sent = [a for a in attempts if a.error is None and not a.given_back]
        if sent:
            state.mark_sent([(a.email.pk, a.message_id) for a in sent], owner=self.owner)
            for a in sent:
                a.recorded = True
                log_attempt(a.email, Status.SENT, a.started, message_id=a.message_id)
                latency = (timezone.now() - a.email.created_at).total_seconds()
                counters.record_send(latency_s=latency, duration_s=a.send_seconds, priority=a.email.priority)
            tally[Status.SENT] += len(sent)
            if self._provider_trouble:
                breaker.provider_ok()
                self._provider_trouble = False
        given_back = [a for a in attempts if a.given_back]
        if given_back:
            state.release([a.email.pk for a in given_back], owner=self.owner)
            for a in given_back:
                a.recorded = True
            tally["given_back"] += len(given_back)
        for a in attempts:
            if a.error is not None:
                tally[self._failed(a)] += 1
                a.recorded = True

    def _failed(self, attempt: Attempt) -> str:
        """Record an attempt that raised; return the email's new status."""
        email = attempt.email
        outcome = classify(attempt.error)
        error = f"{outcome.code}: {outcome.detail}"[:2000]
        if outcome.throttled:
            # Too fast for SES: slow every worker down rather than pause them (mailer.sending.limiter).
            with contextlib.suppress(redis.RedisError):
                scale = limiter.throttled()
                if scale is not None:
                    logger.warning("mailer: SES throttled; sending at %.0f%% of MAILER_MAX_SEND_RATE", 100 * scale)
        elif outcome.provider:
            self._provider_trouble = True
            paused = breaker.provider_failed(error, halt=outcome.halt)
            if paused:
                logger.error("mailer: sending paused for %.0f s after provider errors: %s", paused, error)
        own = state.own_failures(email) + (0 if outcome.provider else 1)
        tries_left = email.attempts < PROVIDER_RETRIES_PER_ATTEMPT * settings.MAILER_MAX_ATTEMPTS
        if outcome.transient and own < settings.MAILER_MAX_ATTEMPTS and tries_left:
            delay = backoff_delay(own, min_delay=outcome.min_delay)
            due_at = timezone.now() + timedelta(seconds=delay)
            state.requeue(email, due_at=due_at, error=error, owner=self.owner, provider=outcome.provider)
            log_attempt(email, Status.QUEUED, attempt.started, error=error)
            return "retry"
        state.finish(email, Status.FAILED, error=error, owner=self.owner)
        log_attempt(email, Status.FAILED, attempt.started, error=error)
        return Status.FAILED


def backoff_delay(attempt: int, *, min_delay: float = 0.0) -> float:
    """Seconds before attempt ``attempt + 1``: exponential with full jitter, capped.

    delay = uniform(0, min(cap, base * 2**(attempt-1))), but never below ``min_delay``.
    """
    ceiling = min(settings.MAILER_RETRY_CAP_SECONDS, settings.MAILER_RETRY_BASE_SECONDS * 2 ** max(attempt - 1, 0))
    return max(min_delay, random.uniform(0, ceiling))  # noqa: S311 backoff jitter, not a secret


def stop_dispatcher() -> None:
    """Tell this process's Dispatcher, if it has one, that the worker is shutting down."""
    if _dispatcher is not None and _dispatcher_pid == os.getpid():
        _dispatcher.stop()


_dispatcher: Dispatcher | None = None
_dispatcher_pid = 0
_dispatcher_lock = threading.Lock()


def dispatcher() -> Dispatcher:
    """This process's Dispatcher (a new one after a fork: threads do not survive it)."""
    global _dispatcher, _dispatcher_pid
    with _dispatcher_lock:
        if _dispatcher is None or _dispatcher_pid != os.getpid():
            _dispatcher, _dispatcher_pid = Dispatcher(), os.getpid()
        return _dispatcher
