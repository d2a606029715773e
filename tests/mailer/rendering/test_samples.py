"""Every kind of email and its languages (mailer.rendering.samples), found from the templates."""

from mailer.rendering import samples
from tests.support.rendering import SPEC_KINDS


def test_every_spec_kind_exists_in_english_and_nepali():
    assert set(samples.kinds()) >= SPEC_KINDS
    for kind in SPEC_KINDS:
        assert samples.languages_of(kind) == ["en", "ne"], kind
