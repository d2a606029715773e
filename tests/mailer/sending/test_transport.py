"""Sending through Django's email backend (mailer.sending.transport), on reused connections.

Through SMTP and SES; one backend connection per thread and one boto3 client per
process; the SES configuration set's header.
"""

from mailer.models import Email
from mailer.outbox.message import build_message
from tests.support.outbox import CONTEXT, TEMPLATE, queue, wait_final


def test_email_through_smtp(e2e, smtp):
    done = wait_final(queue(to="smtp@example.com"))
    assert done.status == Email.Status.SENT
    assert done.message_id.startswith("<")  # our Message-ID
    (message,) = smtp.messages
    assert message["Subject"] == "[ElectNepal] Welcome to ElectNepal"
    assert message["Message-ID"] == done.message_id


def test_one_connection_per_thread_and_one_boto3_client_per_process(ses, settings):
    from concurrent.futures import ThreadPoolExecutor

    from botocore.config import Config

    from mailer.sending import transport

    emails = [Email(pk=i, template=TEMPLATE, to=f"reuse{i}@example.com", context=CONTEXT) for i in range(6)]
    connections, clients = [], []
    for email in emails[:3]:
        assert transport.send(build_message(email))  # SES's message id
        connections.append(transport.connection())
        clients.append(transport.connection().connection)  # django-ses's boto3 client
    assert connections[0] is connections[1] is connections[2]
    assert clients[0] is clients[1] is clients[2]

    def send_in_a_thread(email):
        return transport.send(build_message(email)), transport.connection(), transport.connection().connection

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(send_in_a_thread, emails[3:5]))
    assert all(message_id for message_id, _, _ in results)
    # Each thread its own backend object, every thread the process's one boto3 client.
    assert all(conn is not connections[0] for _, conn, _ in results)
    assert all(client is clients[0] for _, _, client in results)

    settings.AWS_SES_CONFIG = settings.AWS_SES_CONFIG.merge(Config(read_timeout=14))  # a change: a new client
    assert transport.send(build_message(emails[5]))
    assert transport.connection().connection is not clients[0]
    assert len(ses.sent()) == 6


def test_configuration_set_header_reaches_ses(e2e, ses, settings):
    import boto3

    boto3.client(
        "sesv2",
        region_name=settings.AWS_SES_REGION_NAME,
        endpoint_url=ses.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_configuration_set(ConfigurationSetName="electnepal-events")
    settings.AWS_SES_CONFIGURATION_SET = "electnepal-events"

    assert wait_final(queue()).status == Email.Status.SENT
    (message,) = ses.sent()
    assert message["X-SES-CONFIGURATION-SET"] == "electnepal-events"


def test_django_ses_still_builds_a_client_per_connection(settings, ses):
    """What the process-wide client works around: django-ses's ``open()`` makes a session and a client each time.

    If django-ses ever shares them, this fails and transport._open can go (docs/performance.md).
    """
    from django_ses import SESBackend

    first, second = SESBackend(), SESBackend()
    first.open()
    second.open()
    assert first.connection is not second.connection


def test_django_ses_still_imports_dkim_for_every_message():
    """What recording dkim's absence works around: django-ses imports it inside the send path.

    If django-ses ever imports it once at module level, this fails and the line in
    transport can go (docs/performance.md). The absence itself makes the import fail
    at once, and sending works without it (the other tests here send).
    """
    import inspect
    import sys

    import django_ses

    import mailer.sending.transport  # noqa: F401 (records the absence)

    assert "import dkim" in inspect.getsource(django_ses.dkim_sign)
    assert sys.modules.get("dkim", "absent") is None
    assert django_ses.dkim_sign(b"message", dkim_domain="x", dkim_key=b"k") == b"message"
