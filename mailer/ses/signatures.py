"""Is an SNS message really from our topic? Shape, topic, signature, SubscribeURL.

The webhook (``mailer.ses.webhook``) is django-ses's SESEventWebhookView; this module is
what it calls to decide whether to believe a POST. ``SNSMessageVerifier`` reuses
django-ses 4.8's canonical string SNS signs (``_get_bytes_to_sign``) and replaces the
rest, because django-ses:

- trusts a certificate from any ``sns.<label>.amazonaws.com`` host, which includes
  hosts that are not SNS's (``sns.s3.amazonaws.com``) and SNS in every region; here the
  host is exactly ``sns.<region>.amazonaws.com`` for the region of the trusted topic
  that the message names (``certificate_url``);

- checks every signature with SHA1, while a topic set to SignatureVersion 2 (the
  one AWS recommends) signs with SHA256: such notifications would all be refused;
- caches a failed certificate download forever, so one network blip would refuse
  every later notification signed with that certificate until a restart, and keeps
  every URL it was shown (an attacker could grow that cache without bound);
- follows redirects when fetching the certificate and confirms subscriptions with
  ``urlopen`` without a timeout, and only from AWS's own host names.

See https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html
"""

import base64
import binascii
import logging
import re
from urllib.parse import urlsplit

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings
from django_ses.utils import EventMessageVerifier

logger = logging.getLogger("mailer.ses")

# SignatureVersion → the hash SNS signs with (RSA, PKCS#1 v1.5).
SIGNATURE_HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}

# Every field SNS may put in a message is a string; anything else is not SNS.
_ENVELOPE = ("Type", "MessageId", "TopicArn", "Timestamp", "Signature", "SignatureVersion", "SigningCertURL")
_OPTIONAL = ("Message", "Subject", "SubscribeURL", "Token", "UnsubscribeURL")

# The domain of SNS's hosts in each AWS partition (the second field of a topic ARN).
# https://docs.aws.amazon.com/general/latest/gr/sns.html
PARTITION_DOMAINS = {"aws": "amazonaws.com", "aws-us-gov": "amazonaws.com", "aws-cn": "amazonaws.com.cn"}
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]+")
_CERT_PATH = re.compile(r"/SimpleNotificationService-[A-Za-z0-9]+\.pem")

FETCH_TIMEOUT = 5.0  # seconds, for the certificate and the SubscribeURL
_CACHE_SIZE = 32  # AWS signs with one certificate per region at a time
_certificates: dict[str, x509.Certificate] = {}


def clear_certificate_cache() -> None:
    """Forget every downloaded signing certificate (they are kept per URL)."""
    _certificates.clear()


def envelope_problem(notification) -> str:
    """Why ``notification`` (parsed JSON) is not a signed SNS message; "" if it may be one.

    Checks shape only: a dict whose envelope fields are all present non-empty
    strings (Message too, for a Notification). Nothing is trusted yet.
    """
    if not isinstance(notification, dict):
        return "not a JSON object"
    for field in _ENVELOPE:
        if not isinstance(notification.get(field), str) or not notification[field]:
            return f"missing or empty {field}"
    for field in _OPTIONAL:
        if field in notification and not isinstance(notification[field], str):
            return f"{field} is not a string"
    if notification["Type"] == "Notification" and "Message" not in notification:
        return "a Notification without Message"
    return ""


def trusted_topic(notification: dict) -> bool:
    """Whether the message names a topic in AWS_SNS_EVENT_TRUSTED_TOPIC_ARNS.

    Unlike django-ses, an empty list trusts no topic: a valid signature only
    proves that *some* SNS topic sent the message, and anyone can create a topic
    and subscribe this URL to it.
    """
    trusted = settings.AWS_SNS_EVENT_TRUSTED_TOPIC_ARNS
    return bool(trusted) and notification.get("TopicArn") in trusted


def certificate_host(topic_arn: str) -> str:
    """SNS's host in the region of ``topic_arn``, e.g. ``sns.ap-south-1.amazonaws.com``; "" if none.

    "" for anything that is not an SNS topic ARN of a known partition, and for a
    partition whose domain is not in AWS_SNS_EVENT_CERT_TRUSTED_DOMAINS
    (SES_EVENTS_CERT_DOMAINS).
    """
    fields = topic_arn.split(":")
    if len(fields) != 6 or fields[0] != "arn" or fields[2] != "sns" or not _REGION.fullmatch(fields[3]):
        return ""
    domain = PARTITION_DOMAINS.get(fields[1], "")
    if domain not in settings.AWS_SNS_EVENT_CERT_TRUSTED_DOMAINS:
        return ""
    return f"sns.{fields[3]}.{domain}"


def certificate_url(notification: dict) -> str:
    """The message's SigningCertURL if the certificate may be downloaded from it, else "".

    Only for a message from a trusted topic, and only
    ``https://sns.<that topic's region>.<partition domain>/SimpleNotificationService-<id>.pem``
    exactly: no other host (``sns.s3.amazonaws.com``, SNS of another region), no port,
    user, query or fragment.
    """
    if not trusted_topic(notification):
        return ""
    host = certificate_host(notification["TopicArn"])
    url = notification.get("SigningCertURL")
    if not host or not isinstance(url, str):
        return ""
    parts = urlsplit(url)
    if (
        parts.scheme != "https"
        or parts.netloc.lower() != host  # netloc: a user or a port would show here
        or not _CERT_PATH.fullmatch(parts.path)
        or parts.query
        or parts.fragment
    ):
        return ""
    return url


class SNSMessageVerifier(EventMessageVerifier):
    """django-ses's verifier with SignatureVersion 2 and a safer certificate download."""

    def is_verified(self) -> bool:
        """True if the signature over SNS's canonical string checks out with the
        certificate from the (trusted) SigningCertURL; False otherwise, never raising."""
        if self._verified is None:
            self._verified = self._check()
        return self._verified

    def _get_cert_url(self) -> str | None:
        # django-ses's own rule is too loose (see the module's docstring).
        return certificate_url(self._data) or None

    def _check(self) -> bool:
        algorithm = SIGNATURE_HASHES.get(self._data.get("SignatureVersion"))
        if algorithm is None:
            logger.warning("sns: unsupported SignatureVersion %r", self._data.get("SignatureVersion"))
            return False
        try:
            signature = base64.b64decode(self._data.get("Signature") or "", validate=True)
        except (binascii.Error, ValueError, TypeError):
            return False
        signed = self._get_bytes_to_sign()
        certificate = self.certificate if signature and signed else None
        key = certificate.public_key() if certificate is not None else None
        if not isinstance(key, rsa.RSAPublicKey):
            return False
        try:
            key.verify(signature, signed, padding.PKCS1v15(), algorithm())
        except InvalidSignature:
            logger.warning("sns: invalid signature on message %r", self._data.get("MessageId"))
            return False
        return True

    @property
    def certificate(self) -> x509.Certificate | None:
        """The signing certificate, downloaded over verified HTTPS from SNS's host in the
        region of the trusted topic (``certificate_url``). Only successful downloads are cached.
        """
        url = self._get_cert_url()
        if not url:
            logger.warning("sns: untrusted SigningCertURL %r", self._data.get("SigningCertURL"))
            return None
        if url in _certificates:
            return _certificates[url]
        try:
            # No redirects: the trusted host must serve the certificate itself.
            response = requests.get(url, timeout=FETCH_TIMEOUT, allow_redirects=False)
            if response.status_code != 200:
                raise ValueError(f"HTTP {response.status_code}")
            certificate = x509.load_pem_x509_certificate(response.content)
        except (requests.RequestException, ValueError) as exc:
            logger.warning("sns: cannot load the signing certificate %s: %s", url, exc)
            return None
        if len(_certificates) >= _CACHE_SIZE:
            _certificates.clear()
        _certificates[url] = certificate
        return certificate


def verified(notification: dict) -> bool:
    """Whether the SNS signature of ``notification`` is valid (see SNSMessageVerifier)."""
    return SNSMessageVerifier(notification).is_verified()


def subscribe_url(notification: dict) -> str:
    """The SubscribeURL if it may be fetched, else "".

    It must be https on the very host of the SigningCertURL, which passed
    ``certificate_url`` (``sns.<the topic's region>.amazonaws.com``) and signed this
    message. Anything else (another scheme, another host) would let a message make
    this server fetch an arbitrary URL.
    """
    url = notification.get("SubscribeURL") or ""
    cert_url = certificate_url(notification)
    if not cert_url:
        return ""
    target, signer = urlsplit(url), urlsplit(cert_url)
    if target.scheme != "https" or target.netloc.lower() != signer.netloc.lower():
        return ""
    return url


def confirm_subscription(notification: dict) -> bool:
    """Confirm an SNS subscription by fetching its SubscribeURL; True if SNS answered 200.

    Call only with a verified message from a trusted topic. An untrusted URL is
    not fetched (logged as a warning); a failed fetch is logged as an error, and
    the subscription stays pending ("Request confirmation" in the SNS console).
    """
    topic = notification.get("TopicArn")
    url = subscribe_url(notification)
    if not url:
        logger.warning("sns: subscription to %s not confirmed: untrusted SubscribeURL", topic)
        return False
    try:
        response = requests.get(url, timeout=FETCH_TIMEOUT, allow_redirects=False)
    except requests.RequestException as exc:
        logger.error("sns: subscription to %s not confirmed: %s", topic, exc)
        return False
    if response.status_code != 200:
        logger.error("sns: subscription to %s not confirmed: HTTP %s", topic, response.status_code)
        return False
    logger.info("sns: subscription to %s confirmed", topic)
    return True
