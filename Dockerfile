# One image for web, worker, beat and Flower (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=electnepal.settings

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app

WORKDIR /app

# Dependencies first, so code changes reuse this layer.
COPY requirements.txt ./
RUN pip install -r requirements.txt

# Code stays root-owned (read-only for the app user).
COPY . .
# The translations (locale/*/django.po and locale-fragments/*.po -> django.mo).
RUN python bin/compile-messages
# settings.py writes under var/ (SQLite, static files, photos) and logs/ (email.log).
# The mount points exist here, owned by the app user: Docker gives an empty named
# volume the owner of the folder it is mounted on (docker-compose.yml), and one made
# for a missing folder would be root's, where uploads fail.
RUN mkdir -p var/static var/media logs && chown -R app:app var logs

# Numeric, so a runtime can check it is not root (e.g. runAsNonRoot).
USER 10001:10001

# Static files into var/static (STATIC_ROOT). Needs no database or Redis; the
# throwaway key and URL only let settings import (they refuse placeholders without
# DEBUG) and are not used at run time.
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" SITE_URL=https://build.invalid \
    DEBUG=false python manage.py collectstatic --noinput

EXPOSE 8000
# Worker processes: set WEB_CONCURRENCY (gunicorn reads it); default 1.
CMD ["gunicorn", "electnepal.wsgi:application", "--bind", "0.0.0.0:8000"]
