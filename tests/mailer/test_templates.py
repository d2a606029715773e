"""Every kind of email in every language, rendered through the worker's path, checked part by part."""

import html as html_lib
import re
from email import message_from_bytes, policy

import pytest
from django.conf import settings
from django.db import transaction
from django.utils.html import strip_tags

from mailer import api as mail
from mailer.rendering import samples as previews
from mailer.rendering import templates as rendering
from mailer.models import Email
from mailer.outbox.message import build_message
from mailer.templatetags.email_dates import email_date, numerals

# The kinds of SPEC's email table: each in English and Nepali.
SPEC_KINDS = {
    "accounts/email/verification",
    "accounts/email/account_exists",
    "accounts/email/welcome",
    "accounts/email/password_reset",
    "accounts/email/password_changed",
    "candidates/email/registration_confirmation",
    "candidates/email/admin_notification",
    "candidates/email/approval",
    "candidates/email/rejection",
}
CASES = [(kind, language) for kind in previews.kinds() for language in previews.languages_of(kind)]
URL = re.compile(r"""(?:https?://|mailto:)[^\s"'<>]+""")


def visible_text(html: str) -> str:
    body = re.sub(r"<(style|head)\b.*?</\1>", "", html, flags=re.S | re.I)
    return html_lib.unescape(strip_tags(body))


def links(text: str) -> set[str]:
    return {url.rstrip(".,;:)") for url in URL.findall(text)}


def test_every_spec_kind_exists_in_english_and_nepali():
    assert SPEC_KINDS <= set(previews.kinds())
    for kind in SPEC_KINDS:
        assert previews.languages_of(kind) == ["en", "ne"], kind


@pytest.mark.parametrize("kind, language", CASES)
def test_parts(kind, language):
    email = previews.render_sample(kind, language)
    assert email.subject.startswith("[ElectNepal] ") and len(email.subject) > len("[ElectNepal] ") + 3
    assert "\n" not in email.subject and "\r" not in email.subject
    assert email.text.strip() and email.html.strip()
    # Every link is in both parts, and every link is ours.
    text_links = links(email.text)
    html_links = links(html_lib.unescape(email.html))
    contact = f"mailto:{rendering.contact_email()}"
    assert text_links, "an email without a link"
    assert html_links - {contact} == text_links  # the text part is complete on its own
    assert contact in html_links and rendering.contact_email() in email.text  # the footer's contact address
    for url in text_links:
        assert url.startswith(settings.SITE_URL), url


@pytest.mark.parametrize("kind, language", CASES)
def test_html_is_fit_for_mail_clients(kind, language):
    html = previews.render_sample(kind, language).html
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert f'<html lang="{language}"' in html
    assert 'role="presentation"' in html  # table layout
    assert "<script" not in html.lower() and "<link" not in html.lower() and "@import" not in html
    assert not re.search(r"""(?:src|background)=["']?https?:""", html)  # nothing fetched from elsewhere
    assert 'name="viewport"' in html
    # CSS is inlined; only the @media rules stay in <style>.
    (style,) = re.findall(r"<style>(.*?)</style>", html, flags=re.S)
    assert style.strip().startswith("@media") and "max-width: 600px" in html
    assert re.search(r'<td class="content" style="[^"]*padding: 24px', html)
    assert re.search(r'class="brand" style="[^"]*background: #003893', html)


@pytest.mark.parametrize("kind", sorted(SPEC_KINDS))
def test_nepali_is_nepali(kind):
    """Beyond names, addresses, links and the brand, no Latin words in the Nepali version."""
    email = previews.render_sample(kind, "ne")
    sample = previews.sample_context(kind, "ne")
    for part in (email.subject, email.text, visible_text(email.html)):
        rest = URL.sub("", part)
        rest = re.sub(r"[\w.+-]+@[\w.-]+", "", rest)
        for value in sample.values():
            if isinstance(value, str):
                rest = rest.replace(value, "")
        rest = rest.replace("ElectNepal", "")
        assert not re.findall(r"[A-Za-z]{2,}", rest), (kind, re.findall(r"[A-Za-z]{2,}", rest))
        assert re.search(r"[\u0900-\u097F]{3,}", part)


@pytest.mark.parametrize(
    "kind, hours, en, ne",
    [
        ("accounts/email/verification", "72", "If you did not sign up, ignore this email", "तपाईंले दर्ता गर्नुभएको होइन भने"),
        ("accounts/email/password_reset", "24", "If you did not ask for this, ignore this email",
         "तपाईंले अनुरोध गर्नुभएको होइन भने"),
    ],
)
def test_link_emails_state_the_expiry_and_what_to_do(kind, hours, en, ne):
    english, nepali = previews.render_sample(kind, "en"), previews.render_sample(kind, "ne")
    for text in (english.text, visible_text(english.html)):
        assert f"{hours} hours" in text and en in text
    for text in (nepali.text, visible_text(nepali.html)):
        assert f"{numerals(hours, 'ne')} घण्टा" in text and ne in text


def test_user_text_is_escaped_in_html_and_kept_in_text():
    notes = 'Fix the <b>photo</b> & "ward" <script>alert(1)</script>'
    context = {**previews.sample_context("candidates/email/rejection", "en"), "notes": notes,
               "full_name_en": "<i>Hari</i>"}
    email = rendering.render(template="candidates/email/rejection", context=context, language="en")
    assert notes in email.text and "<i>Hari</i>" in email.text
    assert "<script>" not in email.html and "<b>photo</b>" not in email.html and "<i>Hari</i>" not in email.html
    assert "&lt;script&gt;" in email.html and "&lt;i&gt;Hari&lt;/i&gt;" in email.html


def test_dates_and_numbers_as_readers_expect():
    assert email_date("2026-11-26", "en") == "26 November 2026"
    assert email_date("2026-11-26", "ne") == "२०८३ मंसिर १० गते"  # Bikram Sambat
    assert email_date("not a date", "ne") == ""
    assert numerals(72, "ne") == "७२" and numerals(72, "en") == "72"
    text = previews.render_sample("candidates/email/registration_confirmation", "ne").text
    assert "२०८३ मंसिर १० गते" in text


def _message(db_email: Email):
    return message_from_bytes(build_message(db_email).message().as_bytes(), policy=policy.default)


def test_headers(db, settings):
    settings.DEFAULT_FROM_EMAIL = "ElectNepal <no-reply@electnepal.test>"
    with transaction.atomic():
        (email,) = mail.enqueue(
            template="accounts/email/welcome", to="sita@example.com", language="ne",
            context={"first_name": "सीता", "username": "sita", "login_url": f"{settings.SITE_URL}/auth/login/"},
        )
    message = _message(email)
    assert message["Subject"].strip() == "[ElectNepal] ElectNepal मा स्वागत छ"
    assert message["Reply-To"] == rendering.contact_email()
    assert re.fullmatch(r"<[^@>]+@electnepal\.test>", message["Message-ID"])
    assert message["From"] == "ElectNepal <no-reply@electnepal.test>"
    for content_type in ("plain", "html"):
        part = message.get_body((content_type,))
        assert part.get_content_charset() == "utf-8"
        assert "सीता" in part.get_content()


def test_configuration_set_header_reaches_ses(e2e, ses, settings):
    import boto3

    boto3.client("sesv2", region_name=settings.AWS_SES_REGION_NAME, endpoint_url=ses.url,
                 aws_access_key_id="testing", aws_secret_access_key="testing").create_configuration_set(
        ConfigurationSetName="electnepal-events")
    settings.AWS_SES_CONFIGURATION_SET = "electnepal-events"
    from tests.mailer.test_pipeline import queue, wait_final

    assert wait_final(queue()).status == Email.Status.SENT
    (message,) = ses.sent()
    assert message["X-SES-CONFIGURATION-SET"] == "electnepal-events"
