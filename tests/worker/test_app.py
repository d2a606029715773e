"""The Celery app's configuration, as the workers, beat and Flower see it."""

import os
import subprocess
import sys

from django.conf import settings

from worker import app


def test_json_only_late_acks_and_one_prefetched_message():
    conf = app.conf
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1


def test_a_worker_without_q_consumes_every_queue_the_mailer_uses():
    consumed = list(app.amqp.queues)  # what `celery -A worker worker` consumes without -Q, in order
    assert consumed == [settings.MAILER_QUEUE, settings.CELERY_TASK_DEFAULT_QUEUE]
    for task in ("mailer.deliver", "accounts.address_request"):
        assert app.amqp.router.route({}, task)["queue"].name == settings.MAILER_QUEUE
    assert app.amqp.router.route({}, "mailer.sweep")["queue"].name == settings.CELERY_TASK_DEFAULT_QUEUE


def test_the_doorbell_task_takes_nothing():
    import inspect

    app.loader.import_default_modules()  # what a worker does at start: autodiscovery
    task = app.tasks["mailer.deliver"]
    # No argument is needed; one (an email id, from a message published before the
    # doorbell) is accepted and ignored.
    assert [p.kind for p in inspect.signature(task.run).parameters.values()] == [inspect.Parameter.VAR_POSITIONAL]


def test_botocore_retries_are_off():
    # Retrying happens in one place, the outbox; botocore would resend after a timeout.
    assert settings.AWS_SES_CONFIG.retries["total_max_attempts"] == 1
    assert settings.AWS_SES_AUTO_THROTTLE is None


def test_flower_refuses_to_start_without_basic_auth():
    env = {k: v for k, v in os.environ.items() if k != "FLOWER_BASIC_AUTH"}
    env["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    result = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "worker", "flower"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=settings.BASE_DIR,
    )
    assert result.returncode != 0
    assert "FLOWER_BASIC_AUTH" in result.stderr


def _listening_addresses(port: int) -> set[str]:
    """IPv4 addresses with a socket listening on ``port``, from /proc/net/tcp."""
    found = set()
    for row in open("/proc/net/tcp").read().splitlines()[1:]:
        local, state = row.split()[1], row.split()[3]
        address, _, hex_port = local.partition(":")
        if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
            found.add(".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0)))
    return found


def test_flower_listens_on_loopback_by_default(tmp_path):
    from tests.support.processes import free_port
    from tests.support.waits import wait_for

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "FLOWER_ADDRESS"}
    env.update(DJANGO_SETTINGS_MODULE="tests.settings", FLOWER_BASIC_AUTH="ops:test-password")
    log = open(tmp_path / "flower.log", "w")
    flower = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "worker", "flower", f"--port={port}"],
        env=env,
        cwd=settings.BASE_DIR,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        addresses = wait_for(
            lambda: _listening_addresses(port) or flower.poll() is not None, timeout=60, message="Flower to listen"
        )
    finally:
        flower.terminate()
        try:
            flower.wait(15)
        except subprocess.TimeoutExpired:
            flower.kill()
            flower.wait(5)
        log.close()
    assert addresses == {"127.0.0.1"}, (tmp_path / "flower.log").read_text()[-2000:]
