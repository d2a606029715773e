"""Candidate photos on S3 (django-storages), configured by the environment, against moto in server mode.

settings.py computes STORAGES and the CSP from MEDIA_S3_* in a clean process, as a
production host does; the photo then goes through the real wizard upload, boto3
and HTTP into moto's S3, the public profile links to it, the link fetches the
image, and the page's own Content-Security-Policy allows that image's origin.
"""

import io
from urllib.parse import urlsplit

import boto3
import pytest
from django.test import Client, override_settings
from moto.server import ThreadedMotoServer
from PIL import Image

from candidates.models import Candidate
from tests.support.candidates import STEP_DATA, logged_in, make_user, png, step_url
from tests.support.production import production_settings

BUCKET = "electnepal-photos-test"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def _img_src(policy: str) -> list[str]:
    for directive in policy.split(";"):
        name, *values = directive.split()
        if name == "img-src":
            return values
    raise AssertionError(f"no img-src in {policy!r}")


def _allowed(url: str, sources: list[str], page_origin: str) -> bool:
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
    return (origin == page_origin and "'self'" in sources) or origin in sources


@pytest.fixture(scope="module")
def s3():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    client = boto3.client(
        "s3", region_name="ap-south-1", endpoint_url=url, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-south-1"})
    yield url, client
    server.stop()


def test_without_a_bucket_photos_stay_on_local_disk_and_the_csp_on_self():
    computed = production_settings("STORAGES", "CONTENT_SECURITY_POLICY")
    assert computed["STORAGES"]["default"]["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    assert computed["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]["img-src"] == ["'self'"]


@pytest.mark.parametrize(
    ("region", "bucket", "domain", "origin"),
    [
        ("ap-south-1", "photos", "", "https://photos.s3.ap-south-1.amazonaws.com"),
        ("us-east-1", "photos", "", "https://photos.s3.amazonaws.com"),
        ("eu-west-1", "photos.electnepal.example", "", "https://s3.eu-west-1.amazonaws.com"),
        ("ap-south-1", "photos", "media.electnepal.example", "https://media.electnepal.example"),
    ],
)
def test_on_aws_the_csp_allows_the_host_boto3_links_to(region, bucket, domain, origin):
    from storages.backends.s3 import S3Storage

    env = {"MEDIA_S3_BUCKET": bucket, "MEDIA_S3_REGION": region, "MEDIA_S3_CUSTOM_DOMAIN": domain, **CREDENTIALS}
    computed = production_settings("STORAGES", "CONTENT_SECURITY_POLICY", **env)
    sources = computed["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]["img-src"]
    assert sources == ["'self'", origin]
    # The URL django-storages really builds for a photo (signing needs no network).
    storage = S3Storage(**computed["STORAGES"]["default"]["OPTIONS"], access_key="testing", secret_key="testing")
    url = storage.url("candidates/photos/2026/12/photo.jpg")
    assert _allowed(url, sources, "https://electnepal.test"), (url, sources)


def test_photos_go_to_s3_and_the_page_may_show_them(s3, db, settings):
    endpoint, client = s3
    env = {"MEDIA_S3_BUCKET": BUCKET, "MEDIA_S3_REGION": "ap-south-1", "MEDIA_S3_ENDPOINT_URL": endpoint, **CREDENTIALS}
    computed = production_settings("STORAGES", "CONTENT_SECURITY_POLICY", **env)
    storages = computed["STORAGES"]
    assert storages["default"]["BACKEND"] == "storages.backends.s3.S3Storage"
    policy = computed["CONTENT_SECURITY_POLICY"]
    assert policy["DIRECTIVES"]["img-src"] == ["'self'", endpoint]

    settings.AWS_ACCESS_KEY_ID, settings.AWS_SECRET_ACCESS_KEY = CREDENTIALS.values()
    with override_settings(STORAGES=storages, CONTENT_SECURITY_POLICY=policy):
        user = make_user("hari")
        owner = logged_in(user)
        assert owner.post(step_url(1), {**STEP_DATA[1](), "photo": png()}).status_code == 302
        candidate = Candidate.objects.get(user=user)
        assert candidate.photo.name
        Candidate.objects.filter(pk=candidate.pk).update(status=Candidate.Status.APPROVED)

        # In the bucket, under media/, not on this machine's disk.
        keys = [item["Key"] for item in client.list_objects_v2(Bucket=BUCKET)["Contents"]]
        assert keys == [f"media/{candidate.photo.name}"]
        assert not (settings.MEDIA_ROOT / candidate.photo.name).exists()

        page = Client().get(f"/candidates/{candidate.pk}/")
        assert page.status_code == 200
        # The page links to the photo's own view, which reads it from the bucket
        # (candidates.views.photo: who may see it is decided there, not by a public URL).
        src = f"/candidates/{candidate.pk}/photo.jpg"
        assert f'src="{src}"' in page.content.decode()
        photo = Client().get(src)
        assert photo.status_code == 200 and photo["Content-Type"] == "image/jpeg"
        Image.open(io.BytesIO(b"".join(photo.streaming_content))).verify()
