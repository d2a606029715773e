"""candidates.geography: provinces, districts, constituencies and parties (no database)."""

import dataclasses
import re
from collections import Counter

import pytest

from candidates import geography as geo

SLUG = re.compile(r"^[a-z]+(?:-[a-z]+)*$")
# Devanagari block, plus the separators the official names use.
DEVANAGARI_NAME = re.compile(r"^[\u0900-\u097F ()]+$")
DEVANAGARI_PARTY = re.compile(r"^[\u0900-\u097F (),]+$")


def test_seven_provinces_numbered_with_official_names():
    assert [(p.number, p.code, p.name_en) for p in geo.PROVINCES] == [
        (1, "koshi", "Koshi Province"),
        (2, "madhesh", "Madhesh Province"),
        (3, "bagmati", "Bagmati Province"),
        (4, "gandaki", "Gandaki Province"),
        (5, "lumbini", "Lumbini Province"),
        (6, "karnali", "Karnali Province"),
        (7, "sudurpashchim", "Sudurpashchim Province"),
    ]
    assert [p.name_ne for p in geo.PROVINCES] == [
        "कोशी प्रदेश",
        "मधेश प्रदेश",
        "बागमती प्रदेश",
        "गण्डकी प्रदेश",
        "लुम्बिनी प्रदेश",
        "कर्णाली प्रदेश",
        "सुदूरपश्चिम प्रदेश",
    ]
    assert sorted(geo.PROVINCE_BY_NUMBER) == list(range(1, 8))


def test_seventy_seven_districts_with_the_right_count_per_province():
    assert len(geo.DISTRICTS) == 77
    counts = Counter(d.province for d in geo.DISTRICTS)
    assert counts == {1: 14, 2: 8, 3: 13, 4: 11, 5: 12, 6: 10, 7: 9}
    for number, expected in counts.items():
        assert len(geo.districts_in(number)) == expected


def test_districts_in_rejects_unknown_province():
    with pytest.raises(KeyError):
        geo.districts_in(8)


def test_codes_unique_and_slug_shaped():
    codes = [d.code for d in geo.DISTRICTS]
    assert len(set(codes)) == len(codes) == len(geo.DISTRICT_BY_CODE)
    assert len({p.code for p in geo.PROVINCES}) == 7
    for code in codes + [p.code for p in geo.PROVINCES]:
        assert SLUG.match(code), code
    assert len({d.name_en for d in geo.DISTRICTS}) == 77
    assert len({d.name_ne for d in geo.DISTRICTS}) == 77


def test_nepali_names_are_devanagari_only():
    names = [d.name_ne for d in geo.DISTRICTS] + [p.name_ne for p in geo.PROVINCES]
    for name in names:
        assert DEVANAGARI_NAME.match(name), name
        assert not re.search(r"[A-Za-z]", name), name
    for party in (*geo.PARTIES, geo.INDEPENDENT):
        assert DEVANAGARI_PARTY.match(party.name_ne), party.name_ne


def test_hor_constituencies_total_165_with_2017_province_totals():
    assert all(d.hor_constituencies >= 1 for d in geo.DISTRICTS)
    assert sum(d.hor_constituencies for d in geo.DISTRICTS) == 165
    per_province = Counter()
    for d in geo.DISTRICTS:
        per_province[d.province] += d.hor_constituencies
    assert per_province == {1: 28, 2: 32, 3: 33, 4: 18, 5: 26, 6: 12, 7: 16}


def test_provincial_constituencies_are_twice_hor():
    assert sum(geo.provincial_constituency_count(d.code) for d in geo.DISTRICTS) == 330
    for d in geo.DISTRICTS:
        assert geo.provincial_constituency_count(d.code) == 2 * geo.hor_constituency_count(d.code)
    with pytest.raises(KeyError):
        geo.hor_constituency_count("atlantis")


@pytest.mark.parametrize(
    ("code", "province", "hor"),
    [
        ("kathmandu", 3, 10),
        ("jhapa", 1, 5),
        ("morang", 1, 6),
        ("sunsari", 1, 4),
        ("rupandehi", 5, 5),
        ("kailali", 7, 5),
        ("udayapur", 1, 2),
        ("sindhuli", 3, 2),
        ("ramechhap", 3, 1),
        ("dolakha", 3, 1),
        ("chitwan", 3, 3),
        ("makwanpur", 3, 2),
        ("rukum-east", 5, 1),
        ("rukum-west", 6, 1),
        ("nawalparasi-east", 4, 2),
        ("nawalparasi-west", 5, 2),
        ("kaski", 4, 3),
        ("manang", 4, 1),
        ("dang", 5, 3),
        ("surkhet", 6, 2),
        ("kanchanpur", 7, 3),
        ("parsa", 2, 4),
    ],
)
def test_known_districts(code, province, hor):
    district = geo.DISTRICT_BY_CODE[code]
    assert district.province == province
    assert district.hor_constituencies == hor == geo.hor_constituency_count(code)


def test_special_district_names():
    assert geo.DISTRICT_BY_CODE["kathmandu"].name_ne == "काठमाडौं"
    assert geo.DISTRICT_BY_CODE["nawalparasi-east"].name_en == "Nawalparasi (Bardaghat Susta East)"
    assert geo.DISTRICT_BY_CODE["nawalparasi-west"].name_en == "Nawalparasi (Bardaghat Susta West)"
    assert geo.DISTRICT_BY_CODE["rukum-east"].name_en == "Rukum East"
    assert geo.DISTRICT_BY_CODE["rukum-west"].name_en == "Rukum West"


def test_records_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        geo.DISTRICTS[0].province = 2


@pytest.mark.parametrize("language", ["en", "ne"])
def test_province_choices(language):
    choices = geo.province_choices(language)
    assert [number for number, _ in choices] == list(range(1, 8))
    assert [label for _, label in choices] == [p.name(language) for p in geo.PROVINCES]


@pytest.mark.parametrize("language", ["en", "ne"])
def test_grouped_choices_hold_every_district_once_under_its_province(language):
    grouped = geo.district_choices_grouped(language)
    assert [label for label, _ in grouped] == [p.name(language) for p in geo.PROVINCES]
    seen = []
    for province, (_, options) in zip(geo.PROVINCES, grouped, strict=False):
        for code, label in options:
            district = geo.DISTRICT_BY_CODE[code]
            assert district.province == province.number
            assert label == district.name(language)
            seen.append(code)
    assert sorted(seen) == sorted(geo.DISTRICT_BY_CODE)


def test_grouped_choices_labels_follow_language():
    ne = dict(geo.district_choices_grouped("ne"))
    assert ("kathmandu", "काठमाडौं") in ne["बागमती प्रदेश"]
    en = dict(geo.district_choices_grouped("en"))
    assert ("kathmandu", "Kathmandu") in en["Bagmati Province"]


def test_unknown_language_is_an_error():
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        geo.province_choices("fr")


def test_district_province_map():
    mapping = geo.district_province_map()
    assert len(mapping) == 77
    assert mapping["kathmandu"] == 3
    assert mapping["rukum-west"] == 6
    assert set(mapping.values()) == set(range(1, 8))


def test_party_codes_unique_and_independent_is_a_separate_choice():
    codes = [p.code for p in geo.PARTIES]
    assert len(set(codes)) == len(codes)
    assert all(SLUG.match(code) for code in codes)
    assert geo.INDEPENDENT_CODE == "independent"
    assert "independent" not in codes
    for language in ("en", "ne"):
        choices = geo.party_choices(language)
        assert [code for code, _ in choices] == [*codes, "independent"]
    assert geo.party_choices("ne")[-1] == ("independent", "स्वतन्त्र")
    assert geo.PARTY_BY_CODE["independent"] is geo.INDEPENDENT
    assert set(geo.PARTY_BY_CODE) == set(codes) | {"independent"}


def test_main_parties_present():
    names = {p.code: (p.name_en, p.name_ne) for p in geo.PARTIES}
    assert names["nepali-congress"] == ("Nepali Congress", "नेपाली कांग्रेस")
    assert names["cpn-uml"] == ("CPN (UML)", "नेकपा (एमाले)")
    assert names["cpn-maoist-centre"] == ("CPN (Maoist Centre)", "नेकपा (माओवादी केन्द्र)")
    assert names["rastriya-swatantra-party"][1] == "राष्ट्रिय स्वतन्त्र पार्टी"


def test_ward_bounds():
    assert (geo.WARD_MIN, geo.WARD_MAX) == (1, 33)
