import json


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
