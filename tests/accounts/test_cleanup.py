"""The accounts' nightly cleanup (accounts.cleanup): what goes, what stays, batches, concurrency, command, beat."""

import io
import re
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import tasks
from accounts.cleanup import KINDS, cleanup
from accounts.models import EmailChange, EmailVerification, PasswordResetToken, User

SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)
VERIFY_TTL = timedelta(hours=72)
RESET_TTL = timedelta(hours=24)
ZERO = dict.fromkeys(KINDS, 0)

_serial = iter(range(10**9))


def counts(**nonzero) -> dict[str, int]:
    return {**ZERO, **nonzero}


def make_user(*, joined=None, verified=True, is_active=None, **fields) -> User:
    n = next(_serial)
    now = timezone.now()
    return User.objects.create(
        username=f"user{n}",
        email=f"user{n}@example.com",
        date_joined=joined or now,
        is_active=verified if is_active is None else is_active,
        email_verified_at=now if verified else None,
        **fields,
    )


def make_token(model, user, *, created, **fields):
    return model.objects.create(user=user, token_hash=f"{next(_serial):064x}", created_at=created, **fields)


@pytest.fixture
def now():
    return timezone.now()


# --- What goes and what stays ------------------------------------------------------------


@pytest.mark.django_db
def test_verification_tokens_go_at_72_hours_verified_or_not(now):
    user = make_user()
    young = make_token(EmailVerification, user, created=now - VERIFY_TTL + SECOND)
    verified_young = make_token(EmailVerification, user, created=now - DAY, verified_at=now - DAY)
    make_token(EmailVerification, user, created=now - VERIFY_TTL - SECOND)
    make_token(EmailVerification, user, created=now - VERIFY_TTL)  # dead from this instant (is_expired)
    make_token(EmailVerification, user, created=now - VERIFY_TTL - SECOND, verified_at=now - 4 * DAY)

    assert cleanup(now=now) == counts(verification_tokens=3)
    assert set(EmailVerification.objects.values_list("pk", flat=True)) == {young.pk, verified_young.pk}
    assert not young.is_expired(now)


@pytest.mark.django_db
def test_reset_tokens_go_when_used_or_at_24_hours(now):
    user = make_user()
    live = make_token(PasswordResetToken, user, created=now - RESET_TTL + SECOND)
    make_token(PasswordResetToken, user, created=now - RESET_TTL - SECOND)
    make_token(PasswordResetToken, user, created=now - timedelta(minutes=5), used_at=now - timedelta(minutes=1))

    assert cleanup(now=now) == counts(reset_tokens=2)
    assert list(PasswordResetToken.objects.values_list("pk", flat=True)) == [live.pk]


@pytest.mark.django_db
def test_never_verified_users_go_after_30_days_staff_and_others_stay(now, settings):
    old, young = now - 31 * DAY, now - 29 * DAY
    stale = make_user(joined=old, verified=False)
    make_token(EmailVerification, stale, created=now - DAY)  # a resend yesterday: goes with the user
    kept = [
        make_user(joined=young, verified=False),
        make_user(joined=old, verified=False, is_staff=True),
        make_user(joined=old, verified=False, is_superuser=True),
        make_user(joined=old, verified=True, is_active=False),  # verified, then deactivated by an admin
        make_user(joined=old, verified=False, is_active=True),
    ]
    reclaiming = make_user(joined=old, verified=False)  # asked for a reset link: taking the account back
    make_token(PasswordResetToken, reclaiming, created=now - timedelta(hours=1))
    kept.append(reclaiming)

    assert cleanup(now=now) == counts(unverified_users=1)
    assert not User.objects.filter(pk=stale.pk).exists()
    assert not EmailVerification.objects.filter(user_id=stale.pk).exists()
    assert set(User.objects.values_list("pk", flat=True)) == {u.pk for u in kept}

    settings.ACCOUNTS_UNVERIFIED_USER_DAYS = 0
    make_user(joined=now - 400 * DAY, verified=False)
    assert cleanup(now=now) == ZERO


@pytest.mark.django_db
def test_address_change_links_go_when_used_or_at_72_hours(now):
    user = make_user()
    young = make_token(EmailChange, user, created=now - VERIFY_TTL + SECOND, new_email="a@example.com")
    make_token(EmailChange, user, created=now - VERIFY_TTL, new_email="b@example.com")
    make_token(EmailChange, user, created=now - DAY, used_at=now - DAY, new_email="c@example.com")
    assert cleanup(now=now) == counts(email_changes=2)
    assert list(EmailChange.objects.all()) == [young]


# --- Dry run, batches, idempotence, concurrency -------------------------------------------


def populate(now, *, scale: int = 1) -> dict[str, int]:
    """Rows of every kind on both sides of each boundary; return what a cleanup must delete."""
    keeper = make_user()
    for _ in range(scale):
        make_token(EmailVerification, keeper, created=now - VERIFY_TTL - SECOND)
        make_token(EmailVerification, keeper, created=now - VERIFY_TTL + SECOND)
        make_token(PasswordResetToken, keeper, created=now - RESET_TTL - SECOND)
        make_token(PasswordResetToken, keeper, created=now - RESET_TTL + SECOND)
        make_token(PasswordResetToken, keeper, created=now, used_at=now)
        make_user(joined=now - 31 * DAY, verified=False)
        make_user(joined=now - 29 * DAY, verified=False)
        make_token(EmailChange, keeper, created=now - VERIFY_TTL - SECOND, new_email="old@example.com")
        make_token(EmailChange, keeper, created=now - VERIFY_TTL + SECOND, new_email="young@example.com")
        make_token(EmailChange, keeper, created=now, used_at=now, new_email="used@example.com")
    return counts(verification_tokens=scale, reset_tokens=2 * scale, unverified_users=scale, email_changes=2 * scale)


def row_counts() -> dict[str, int]:
    models = (EmailVerification, PasswordResetToken, User, EmailChange)
    return {model.__name__: model.objects.count() for model in models}


@pytest.mark.django_db
def test_dry_run_deletes_nothing_and_reports_what_a_run_deletes(now):
    expected = populate(now, scale=3)
    before = row_counts()
    assert cleanup(now=now, dry_run=True) == expected
    assert row_counts() == before
    assert cleanup(now=now) == expected
    assert cleanup(now=now) == ZERO  # twice: nothing left to do
    assert cleanup(now=now, dry_run=True) == ZERO


@pytest.mark.django_db
def test_deletes_in_batches_of_ids(now):
    user = make_user()
    for _ in range(10):
        make_token(EmailVerification, user, created=now - 4 * DAY)
    with CaptureQueriesContext(connection) as queries:
        assert cleanup(now=now, batch_size=3) == counts(verification_tokens=10)
    deletes = [q["sql"] for q in queries if q["sql"].startswith('DELETE FROM "accounts_emailverification"')]
    assert len(deletes) == 4  # 3 + 3 + 3 + 1
    picks = [q["sql"] for q in queries if 'FROM "accounts_emailverification"' in q["sql"] and "SKIP LOCKED" in q["sql"]]
    assert len(picks) == 5 and all("LIMIT 3" in sql for sql in picks)  # the fifth finds nothing left


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_delete_everything_exactly_once(now):
    expected = populate(now, scale=60)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(cleanup(now=now, batch_size=7))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    print("\nconcurrent runs:", results)
    assert errors == []
    assert len(results) == 2
    assert {kind: results[0][kind] + results[1][kind] for kind in KINDS} == expected
    assert cleanup(now=now, dry_run=True) == ZERO


# --- The command and the task ---------------------------------------------------------------


SUMMARY = re.compile(
    r"^cleanup: (\d+) verification tokens, (\d+) reset tokens, (\d+) unverified users, (\d+) address changes "
    r"deleted in \d+\.\d\d s$",
    re.MULTILINE,
)


@pytest.mark.django_db
def test_command_prints_the_summary_line(now):
    populate(now, scale=2)  # the command's clock runs a few ms later: still well inside each 1 s margin
    out = io.StringIO()
    call_command("cleanup_tokens", "--dry-run", stdout=out)
    assert re.fullmatch(
        r"cleanup: would delete 2 verification tokens, 4 reset tokens, 2 unverified users, 4 address changes "
        r"\(dry run, counted in \d+\.\d\d s\)\n",
        out.getvalue(),
    )
    out = io.StringIO()
    call_command("cleanup_tokens", stdout=out)
    assert "\r" not in out.getvalue()  # no progress bar when stdout is not a terminal
    assert SUMMARY.fullmatch(out.getvalue().strip()).groups() == ("2", "4", "2", "4")


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.django_db
def test_command_draws_a_progress_bar_on_a_terminal(now):
    populate(now, scale=5)
    out = FakeTerminal()
    call_command("cleanup_tokens", "--batch-size", "2", stdout=out)
    text = out.getvalue()
    assert "\rverification tokens  [------------------------------]         0/5   0%" in text
    assert "\rreset tokens         [##############################]        10/10 100%\n" in text
    assert SUMMARY.search(text).groups() == ("5", "10", "5", "10")


@pytest.mark.django_db
def test_the_beat_task_runs_the_cleanup(now):
    expected = populate(now)
    assert tasks.cleanup.name == "accounts.cleanup"
    assert tasks.cleanup.ignore_result is True
    assert tasks.cleanup() == expected  # the task body, in this process
    assert tasks.cleanup() == ZERO
