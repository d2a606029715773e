"""Django settings for ElectNepal, read from the environment.

Every name documented in README.md ("Settings") is read here with django-environ.
No secret has a default that works in production: SECRET_KEY is required unless
DEBUG is on, and AWS credentials have no default at all.
"""

import hashlib
from email.utils import parseaddr
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# A local .env is a convenience for development; the process environment wins.
# The test suite turns it off so a developer's .env cannot change what is tested.
if env.bool("READ_DOT_ENV", default=True):
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)


# DEBUG only: a key every process of this checkout agrees on (the worker decrypts what
# web encrypted), derived rather than written to disk; `check --deploy` flags its prefix.
_DEV_SECRET_KEY = "django-insecure-dev-" + hashlib.sha256(str(BASE_DIR).encode()).hexdigest()
SECRET_KEY = env.str("SECRET_KEY", default="") or (_DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("SECRET_KEY must be set in the environment (or run with DEBUG=true).")
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
# Without DEBUG: no placeholder or weak SECRET_KEY, no http SITE_URL (electnepal/startup_checks.py).
from electnepal.startup_checks import production_settings_require_safe  # noqa: E402

production_settings_require_safe(
    debug=DEBUG, secret_key=SECRET_KEY, secret_key_fallbacks=SECRET_KEY_FALLBACKS, site_url=SITE_URL
)

INSTALLED_APPS = [
    # Django's admin, whose site asks staff for a second factor (electnepal/admin_site.py).
    "electnepal.admin_apps.AdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_celery_beat",
    # Two-factor for staff: TOTP devices and recovery codes (accounts/mfa/).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "mailer",
    "accounts",
    "candidates",
    # The Celery app (loaded with Django, so tasks publish through it) and beat's schedule.
    "worker",
    # Template filters every app's pages share (Devanagari digits and dates).
    "common",
]

MIDDLEWARE = [
    # /healthz/ for load balancers and container checks: any Host, no https redirect.
    "electnepal.healthz.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves the admin's static files under gunicorn (the container has no other server).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): whether this session passed the second factor.
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Content-Security-Policy on every response (CONTENT_SECURITY_POLICY below).
    "csp.middleware.CSPMiddleware",
    "django_ratelimit.middleware.RatelimitMiddleware",
]

ROOT_URLCONF = "electnepal.urls"
WSGI_APPLICATION = "electnepal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "electnepal" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                # LANGUAGE_CODE, LANGUAGES, LANGUAGE_BIDI: <html lang> and the language switch.
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
# SQLite under var/ by default; PostgreSQL (or anything dj-database-url style) via DATABASE_URL.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
# Persistent connections: a worker thread would otherwise connect to the database
# for every email (docs/performance.md).
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=300))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
# One password hash per login attempt, known username or not (see accounts/backends.py).
AUTHENTICATION_BACKENDS = ["accounts.backends.AccountBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = env.list(
    "PASSWORD_HASHERS",
    default=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    ],
)
# Verification links live 72 h, password-reset links 24 h (SPEC).
ACCOUNTS_VERIFICATION_TTL_HOURS = env.int("ACCOUNTS_VERIFICATION_TTL_HOURS", default=72)
ACCOUNTS_PASSWORD_RESET_TTL_HOURS = env.int("ACCOUNTS_PASSWORD_RESET_TTL_HOURS", default=24)
ACCOUNTS_EMAIL_CHANGE_TTL_HOURS = env.int("ACCOUNTS_EMAIL_CHANGE_TTL_HOURS", default=72)
# At most one verification email per address in this window (resend).
ACCOUNTS_RESEND_INTERVAL_SECONDS = env.int("ACCOUNTS_RESEND_INTERVAL_SECONDS", default=180)
# The nightly cleanup deletes accounts never verified after this many days, so the
# address can sign up again (0 keeps them).
ACCOUNTS_UNVERIFIED_USER_DAYS = env.int("ACCOUNTS_UNVERIFIED_USER_DAYS", default=30)
# The name authenticator apps show next to the staff member's codes.
OTP_TOTP_ISSUER = "ElectNepal"
# Link scanners fetch every URL in an email; activation needs a POST unless this is on.
VERIFY_EMAIL_ON_GET = env.bool("VERIFY_EMAIL_ON_GET", default=False)

# Candidates: the largest photo accepted, in bytes.
CANDIDATES_PHOTO_MAX_BYTES = env.int("CANDIDATES_PHOTO_MAX_BYTES", default=2 * 1024 * 1024)
# The most pixels a photo may decode to (also never over Pillow's Image.MAX_IMAGE_PIXELS):
# a 6000 x 4000 camera image. More, in a file of at most 2 MiB, is a decompression bomb.
CANDIDATES_PHOTO_MAX_PIXELS = env.int("CANDIDATES_PHOTO_MAX_PIXELS", default=24_000_000)
# The largest request body a wizard step accepts (the photo and the form's fields),
# refused with 413 from its Content-Length before anything reads or parses it.
CANDIDATES_UPLOAD_MAX_BYTES = env.int("CANDIDATES_UPLOAD_MAX_BYTES", default=CANDIDATES_PHOTO_MAX_BYTES + 64 * 1024)
# Submissions of one profile (each emails the candidate and the reviewers) per 24 h; 0: no limit.
CANDIDATES_SUBMISSIONS_PER_DAY = env.int("CANDIDATES_SUBMISSIONS_PER_DAY", default=3)
# Reviewers hear of the first submission in this many seconds at once; later ones in
# the window wait for the digest (beat, candidates.staff_digest), one email per reviewer.
CANDIDATES_STAFF_DIGEST_SECONDS = env.int("CANDIDATES_STAFF_DIGEST_SECONDS", default=600)

# --- I18n -------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ne", "नेपाली")]
TIME_ZONE = "Asia/Kathmandu"
USE_I18N = True
USE_TZ = True
# The site's own catalogue (locale/ne/LC_MESSAGES/django.po, compiled by `make messages`
# with bin/compile-messages); it comes before Django's and so also fills gaps in Django's
# own Nepali (a few form and password messages).
LOCALE_PATHS = [BASE_DIR / "locale"]
# The language a visitor chose (/i18n/setlang/, or her preferred_language at login)
# lives in this cookie, where LocaleMiddleware looks first: a year, not the browser session.
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_HTTPONLY = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# The site's stylesheet: a file, not a <style> block, so the CSP needs no 'unsafe-inline'.
STATICFILES_DIRS = [BASE_DIR / "electnepal" / "static"]
# Uploads (candidate photos), never from the code's directory. Not served as files:
# candidates:photo serves each photo to whoever may see it (candidates.views.photo),
# from MEDIA_ROOT or, with MEDIA_S3_BUCKET, from S3 (or an S3-compatible store)
# through django-storages, shared by every web machine.
# https://django-storages.readthedocs.io/en/latest/backends/amazon-S3.html
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ORIGINS: list[str] = []  # where photos come from besides this site
MEDIA_S3_BUCKET = env.str("MEDIA_S3_BUCKET", default="")
if MEDIA_S3_BUCKET:
    from urllib.parse import urlsplit as _urlsplit

    # Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, else the instance's role.
    _s3_region = env.str("MEDIA_S3_REGION", default="ap-south-1")
    _s3_endpoint = env.str("MEDIA_S3_ENDPOINT_URL", default="")  # another S3 (MinIO, R2, a test's moto)
    _s3_domain = env.str("MEDIA_S3_CUSTOM_DOMAIN", default="")  # a CDN in front of the bucket
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": MEDIA_S3_BUCKET,
            "region_name": _s3_region,
            "endpoint_url": _s3_endpoint or None,
            "custom_domain": _s3_domain or None,
            "location": "media",
            # The bucket stays private: links are signed for an hour, unless a CDN serves it.
            "querystring_auth": not _s3_domain,
            "file_overwrite": False,
            # Path-style under an endpoint, the bucket's own host on AWS: the origin below.
            "addressing_style": "path" if _s3_endpoint else "virtual",
            "object_parameters": {"CacheControl": "max-age=3600"},
        },
    }
    if _s3_domain:
        MEDIA_ORIGINS = [f"https://{_s3_domain}"]
    elif _s3_endpoint:
        MEDIA_ORIGINS = ["{0.scheme}://{0.netloc}".format(_urlsplit(_s3_endpoint))]
    else:
        # boto3's URLs: the bucket's own host, or the region's for a name with dots (TLS).
        _s3_host = "s3.amazonaws.com" if _s3_region == "us-east-1" else f"s3.{_s3_region}.amazonaws.com"
        MEDIA_ORIGINS = [f"https://{_s3_host}" if "." in MEDIA_S3_BUCKET else f"https://{MEDIA_S3_BUCKET}.{_s3_host}"]

# --- Cache (rate limits) ----------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "electnepal",
    }
}

# --- Rate limits (django-ratelimit, counted in the Redis cache) -------------
RATELIMIT_ENABLE = env.bool("RATELIMIT_ENABLE", default=True)
RATELIMIT_VIEW = "electnepal.views.ratelimited"
RATELIMIT_SIGNUP = env.str("RATELIMIT_SIGNUP", default="5/h")
RATELIMIT_EMAIL_FORM_IP = env.str("RATELIMIT_EMAIL_FORM_IP", default="20/h")
# Per posted address (sign-up, resend, forgot-password), whether or not it has an account.
RATELIMIT_EMAIL_FORM_ADDRESS = env.str("RATELIMIT_EMAIL_FORM_ADDRESS", default="5/h")
# POSTs to emailed links (verify, reset): per IP, and per link (its token, hashed).
RATELIMIT_LINK_FORM_IP = env.str("RATELIMIT_LINK_FORM_IP", default="20/h")
RATELIMIT_LINK_FORM_LINK = env.str("RATELIMIT_LINK_FORM_LINK", default="10/h")
# Failed logins (POST /auth/login/; the admin logs in there too): 429 past the limit
# per IP or per (IP, username); per username only a slowdown, so that nobody can
# lock an account out: past its limit each attempt on the name waits, doubling from
# RATELIMIT_LOGIN_SLOWDOWN_SECONDS up to RATELIMIT_LOGIN_SLOWDOWN_MAX_SECONDS.
RATELIMIT_LOGIN_FAILURES_IP = env.str("RATELIMIT_LOGIN_FAILURES_IP", default="30/h")
RATELIMIT_LOGIN_FAILURES_IP_USERNAME = env.str("RATELIMIT_LOGIN_FAILURES_IP_USERNAME", default="10/h")
RATELIMIT_LOGIN_FAILURES_USERNAME = env.str("RATELIMIT_LOGIN_FAILURES_USERNAME", default="10/h")
RATELIMIT_LOGIN_SLOWDOWN_SECONDS = env.float("RATELIMIT_LOGIN_SLOWDOWN_SECONDS", default=1.0)
RATELIMIT_LOGIN_SLOWDOWN_MAX_SECONDS = env.float("RATELIMIT_LOGIN_SLOWDOWN_MAX_SECONDS", default=5.0)
# POSTs of the forms that ask a logged-in user's password (password change, email
# change, account deletion), per account: a stolen session cannot guess the password.
RATELIMIT_ACCOUNT_PASSWORD_CHECKS = env.str("RATELIMIT_ACCOUNT_PASSWORD_CHECKS", default="10/h")
# Candidate submissions (the review step's POST, which emails): per user, per IP.
RATELIMIT_CANDIDATE_SUBMIT_USER = env.str("RATELIMIT_CANDIDATE_SUBMIT_USER", default="10/h")
RATELIMIT_CANDIDATE_SUBMIT_IP = env.str("RATELIMIT_CANDIDATE_SUBMIT_IP", default="30/h")
# The client's IP for the limits: REMOTE_ADDR, unless this many reverse proxies of ours
# append to X-Forwarded-For (then the entry they wrote; see electnepal/client_ip.py).
# Never more than the proxies really in front: a forged header would pick the IP.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
RATELIMIT_IP_META_KEY = "electnepal.client_ip.client_ip"

# --- Email ------------------------------------------------------------------
AWS_ACCESS_KEY_ID = env.str("AWS_ACCESS_KEY_ID", default="")
AWS_SECRET_ACCESS_KEY = env.str("AWS_SECRET_ACCESS_KEY", default="")
AWS_SES_REGION_NAME = env.str("AWS_SES_REGION_NAME", default="ap-south-1")
AWS_SES_REGION_ENDPOINT = f"email.{AWS_SES_REGION_NAME}.amazonaws.com"
if env.str("AWS_SES_REGION_ENDPOINT_URL", default=""):
    AWS_SES_REGION_ENDPOINT_URL = env.str("AWS_SES_REGION_ENDPOINT_URL")
USE_SES_V2 = env.bool("USE_SES_V2", default=True)
AWS_SES_CONFIGURATION_SET = env.str("AWS_SES_CONFIGURATION_SET", default="") or None
# django-ses's own throttle is per process; the global limiter lives in the mailer.
AWS_SES_AUTO_THROTTLE = None

# --- SES events: SNS → POST /mailer/ses/events/ (mailer.ses.webhook) ----------------
# django-ses's webhook settings. Signatures are always checked: an unsigned POST
# could otherwise put any address on the suppression list.
# https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html
AWS_SES_VERIFY_EVENT_SIGNATURES = True
# The SNS topic ARNs SES publishes our events to, comma-separated. A valid signature
# only proves that *some* SNS topic sent a message; empty refuses every notification (403).
AWS_SNS_EVENT_TRUSTED_TOPIC_ARNS = env.list("SES_EVENTS_TOPIC_ARNS", default=[])
# The AWS partitions' domains the signing certificate may come from: exactly
# https://sns.<region of the trusted topic>.<domain>/SimpleNotificationService-<id>.pem
# (mailer.ses.signatures.certificate_url).
AWS_SNS_EVENT_CERT_TRUSTED_DOMAINS = env.list("SES_EVENTS_CERT_DOMAINS", default=["amazonaws.com", "amazonaws.com.cn"])

# SES through django-ses, unless set otherwise; with DEBUG, the console, so that a
# newcomer sees the verification link in the worker's output. Said, never guessed
# from which keys happen to be set: a production host without keys must fail loudly
# (mailcheck, the alerts), not print its email.
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend" if DEBUG else "django_ses.SESBackend",
)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="ElectNepal <no-reply@electnepal.local>")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
# ADMINS="Asha <asha@example.org>,ops@example.org" becomes Django's [(name, address), ...].
ADMINS = [parseaddr(a) for a in env.list("ADMINS", default=[])]

# --- Mailer (the outbox) ----------------------------------------------------
MAILER_SUBJECT_PREFIX = "[ElectNepal] "
# Shown in every email's footer and set as its Reply-To: replies to the no-reply
# sender reach a person. Default: contact@ the sender's domain.
MAILER_CONTACT_EMAIL = env.str(
    "MAILER_CONTACT_EMAIL", default="contact@" + (parseaddr(DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost")
)
MAILER_MAX_SEND_RATE = env.float("MAILER_MAX_SEND_RATE", default=14.0)
MAILER_MAX_24H_SEND = env.int("MAILER_MAX_24H_SEND", default=50000)
MAILER_MAX_ATTEMPTS = env.int("MAILER_MAX_ATTEMPTS", default=8)
# Full-jitter exponential backoff: delay = uniform(0, min(CAP, BASE * 2**attempt)).
MAILER_RETRY_BASE_SECONDS = env.float("MAILER_RETRY_BASE_SECONDS", default=10.0)
MAILER_RETRY_CAP_SECONDS = env.float("MAILER_RETRY_CAP_SECONDS", default=900.0)
# Stay this fraction below MAILER_MAX_SEND_RATE: jitter between workers and SES.
MAILER_RATE_HEADROOM = env.float("MAILER_RATE_HEADROOM", default=0.015)
MAILER_QUOTA_WINDOW_SECONDS = env.int("MAILER_QUOTA_WINDOW_SECONDS", default=24 * 3600)
# This share of MAILER_MAX_24H_SEND only security email (verification, reset) may use.
MAILER_24H_SECURITY_RESERVE = env.float("MAILER_24H_SECURITY_RESERVE", default=0.2)
# On SES throttling the shared rate is multiplied by this (once a second at most), then climbs
# back to MAILER_MAX_SEND_RATE over MAILER_THROTTLE_RECOVERY_SECONDS (mailer.sending.limiter).
MAILER_THROTTLE_FACTOR = env.float("MAILER_THROTTLE_FACTOR", default=0.75)
MAILER_THROTTLE_RECOVERY_SECONDS = env.float("MAILER_THROTTLE_RECOVERY_SECONDS", default=60.0)
# --- Workers (mailer.outbox.delivery): how a worker process claims and sends.
# Sender threads per worker process (processes: Celery's --concurrency, by default
# the host's cores). SES calls mostly wait on the network, so many more threads than
# cores: enough sends in flight to fill a core while each waits for SES's answer.
MAILER_SEND_THREADS = env.int("MAILER_SEND_THREADS", default=48)
# Worker processes lower their CPU priority by this much (nice): on a host shared
# with web processes, a request never waits for an email to be rendered. 0 keeps it.
MAILER_WORKER_NICE = env.int("MAILER_WORKER_NICE", default=10)
# A worker claims only emails it has send slots for within this many seconds: bulk
# email claimed before a password reset holds it back by about this much at most.
MAILER_CLAIM_HORIZON_SECONDS = env.float("MAILER_CLAIM_HORIZON_SECONDS", default=0.1)
# One doorbell sends for at most this long, then rings again if email is still due;
# a worker told to stop (a deploy) waits for no more than this plus its sends.
MAILER_DRAIN_SECONDS = env.float("MAILER_DRAIN_SECONDS", default=5.0)
# A worker's claims live this long unless its keeper renews them (every
# MAILER_KEEPER_SECONDS); a dead worker's emails are sent again soon after.
MAILER_LEASE_SECONDS = env.int("MAILER_LEASE_SECONDS", default=30)
MAILER_KEEPER_SECONDS = env.float("MAILER_KEEPER_SECONDS", default=5.0)
# A doorbell is rung again if the one on its way has not been answered in this long.
MAILER_DOORBELL_TTL_SECONDS = env.float("MAILER_DOORBELL_TTL_SECONDS", default=60.0)
# After this many provider errors in a row (SES throttling, 5xx, network), every
# worker pauses: BASE seconds, doubling while it goes on, at most CAP.
MAILER_PAUSE_AFTER_ERRORS = env.int("MAILER_PAUSE_AFTER_ERRORS", default=5)
MAILER_PAUSE_BASE_SECONDS = env.float("MAILER_PAUSE_BASE_SECONDS", default=2.0)
MAILER_PAUSE_CAP_SECONDS = env.float("MAILER_PAUSE_CAP_SECONDS", default=60.0)
# Emails in a final state are kept this many days for the log and mailstats, then
# deleted by the nightly cleanup (0 keeps them).
MAILER_RETENTION_DAYS = env.int("MAILER_RETENTION_DAYS", default=90)
# Alerts (mailer.ops.alerts, every 5 minutes): a queued email older than this, or a
# bounce/complaint rate past half of SES's review threshold over at least
# MIN_SENT emails, logs at ERROR and emails ADMINS at most once per interval.
MAILER_ALERT_QUEUE_AGE_SECONDS = env.int("MAILER_ALERT_QUEUE_AGE_SECONDS", default=600)
MAILER_ALERT_MIN_SENT = env.int("MAILER_ALERT_MIN_SENT", default=20)
MAILER_ALERT_INTERVAL_SECONDS = env.int("MAILER_ALERT_INTERVAL_SECONDS", default=3600)
# Bearer token for Prometheus at /mailer/metrics/; empty: staff sessions only.
MAILER_METRICS_TOKEN = env.str("MAILER_METRICS_TOKEN", default="")
# Workers write their metrics to Redis at most this often (seconds; 0: at every observation).
MAILER_METRICS_FLUSH_SECONDS = 1.0
# The broker queues, named here once (worker/queues.py declares them): the mail's
# (doorbells, resend and forgot-password requests), polled first, and one for the rest.
MAILER_QUEUE = "mail"
CELERY_TASK_DEFAULT_QUEUE = "default"
LOG_DIR = Path(env.str("LOG_DIR", default=str(BASE_DIR / "logs")))

# --- AWS client config: one retry policy, ours --------------------------------
# botocore retries throttling/5xx by itself and re-sends after a read timeout, which
# duplicates mail; one attempt per call lets the outbox decide (see README).
from botocore.config import Config as _BotoConfig  # noqa: E402

AWS_SES_CONFIG = _BotoConfig(
    retries={"mode": "standard", "total_max_attempts": 1},
    connect_timeout=env.float("AWS_SES_CONNECT_TIMEOUT", default=5.0),
    read_timeout=env.float("AWS_SES_READ_TIMEOUT", default=15.0),
    # One pooled connection per sender thread: with fewer, urllib3 opens and drops extra ones.
    max_pool_connections=env.int("AWS_SES_MAX_POOL_CONNECTIONS", default=MAILER_SEND_THREADS),
)

# --- Celery (read by worker/celery.py, namespace CELERY) --------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Waits live in Email.next_attempt_at and a doorbell carries nothing, so a message
    # redelivered after this (its worker killed) only rings once more.
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    "socket_connect_timeout": 2,
    # Consume queues in the order the worker lists them: the mail's before the rest.
    "queue_order_strategy": "priority",
    "socket_timeout": 5,
}
# A publish that fails at commit time must not hang the request: the row stays
# queued and a worker's keeper rings for it later.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery's Django fixup closes every database connection around every task unless
# this is set; worker/celery.py drops broken or obsolete ones instead (CONN_MAX_AGE).
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000) or None

# --- Logging ----------------------------------------------------------------
# Built by electnepal/logconfig.py. email.log rotates by size: at LOG_MAX_BYTES it
# becomes email.log.1 (… up to email.log.<LOG_BACKUP_COUNT>); 10 MB x 10 backups hold
# some 500,000 attempts (a line is ~200 bytes) in at most 110 MB.
LOG_MAX_BYTES = env.int("LOG_MAX_BYTES", default=10 * 1024 * 1024)
LOG_BACKUP_COUNT = env.int("LOG_BACKUP_COUNT", default=10)
# plain (readable lines) or json (one JSON object per line, ISO times with offsets).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain").strip().lower()
# Containers: every log line to stdout, no file (email.log included).
LOG_TO_STDOUT = env.bool("LOG_TO_STDOUT", default=False)
# ADMINS get one email per distinct server error per this many seconds (electnepal/errors.py).
ERROR_EMAIL_INTERVAL_SECONDS = env.int("ERROR_EMAIL_INTERVAL_SECONDS", default=3600)
from electnepal.logconfig import logging_config  # noqa: E402

try:
    LOGGING = logging_config(
        log_format=LOG_FORMAT,
        to_stdout=LOG_TO_STDOUT,
        log_dir=LOG_DIR,
        max_bytes=LOG_MAX_BYTES,
        backup_count=LOG_BACKUP_COUNT,
    )
except ValueError as exc:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(str(exc)) from None
# Sentry, when SENTRY_DSN is set: the same redaction as the logs (electnepal/sentry.py).
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default="production")
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
if SENTRY_DSN:
    from electnepal.sentry import sentry_init

    sentry_init(dsn=SENTRY_DSN, environment=SENTRY_ENVIRONMENT, traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE)
# Exception reports (the DEBUG page, AdminEmailHandler) with the link token blanked.
DEFAULT_EXCEPTION_REPORTER = "electnepal.redaction.RedactingExceptionReporter"

# --- Security ---------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
# A form posted with a stale or missing CSRF token gets the site's 403 page, in the reader's language.
CSRF_FAILURE_VIEW = "electnepal.views.csrf_failure"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# The Host header decides nothing (links come from SITE_URL) and X-Forwarded-Host is
# never believed: a request for a host outside ALLOWED_HOSTS gets 400.
USE_X_FORWARDED_HOST = False
# Behind a TLS-terminating proxy that sets it (and strips it from clients): the
# header that says the request came over https, as a META name, e.g.
# HTTP_X_FORWARDED_PROTO. Empty: only the connection itself counts.
if env.str("SECURE_PROXY_SSL_HEADER", default=""):
    SECURE_PROXY_SSL_HEADER = (env.str("SECURE_PROXY_SSL_HEADER"), "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)

# Content-Security-Policy (django-csp 4): everything from our own origin, nothing
# inline. Scripts and styles are files (the site's CSS, the admin's, the wizard's
# JS); the one inline script we serve (django-celery-beat's periodic-task form,
# overridden in electnepal/templates) carries the per-request nonce. No
# 'unsafe-inline' anywhere: the mail dashboard's chart colours are SVG
# presentation attributes (fill=), which CSP does not govern, not style attributes.
# The email preview's iframe sets a stricter policy of its own (mailer.rendering.previews).
from csp.constants import NONCE, NONE, SELF  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, *MEDIA_ORIGINS],  # candidate photos, wherever media lives
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
