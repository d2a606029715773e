import json

import pytest
from django.test import Client


def test_healthz_ok_with_database_and_broker(db, client):
    response = client.get("/healthz/")
    assert response.status_code == 200
    assert json.loads(response.content)["checks"] == {"database": "ok", "broker": "ok"}


def test_healthz_names_the_broker_when_it_is_down(db, client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/healthz/")
    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["down"] == ["broker"] and body["checks"]["database"] == "ok"


# --- Behind a load balancer: probed by address, over plain http ----------------------


@pytest.mark.parametrize("host", ["10.0.3.7", "10.0.3.7:8000", "[fd00::7]:8000", "ip-10-0-3-7.internal"])
def test_healthz_answers_whatever_the_host(db, host):
    response = Client(HTTP_HOST=host).get("/healthz/")
    assert response.status_code == 200, response.status_code
    assert json.loads(response.content)["status"] == "ok"


def test_healthz_is_exempt_from_the_https_redirect(db, settings):
    settings.SECURE_SSL_REDIRECT = True
    for host in ("testserver", "10.0.3.7:8000"):  # an allowed host and an address
        response = Client(HTTP_HOST=host).get("/healthz/")
        assert response.status_code == 200, (response.status_code, response.get("Location"))
    # A HEAD probe too (some load balancers send one).
    assert Client(HTTP_HOST="10.0.3.7").head("/healthz/").status_code == 200


def test_only_the_health_check_is_exempt(db, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert Client(HTTP_HOST="10.0.3.7").get("/").status_code == 400  # the host rule still holds elsewhere
    assert Client().get("/auth/login/").status_code == 301  # and so does the redirect
    assert Client(HTTP_HOST="10.0.3.7").get("/healthz/x").status_code == 400
    assert Client(HTTP_HOST="10.0.3.7").post("/healthz/").status_code == 405  # nothing to change


def test_healthz_still_names_what_is_down_for_a_probe_by_address(db, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = Client(HTTP_HOST="10.0.3.7").get("/healthz/")
    assert response.status_code == 503 and json.loads(response.content)["down"] == ["broker"]
