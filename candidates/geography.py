"""Nepal's administrative geography and political parties, as plain data.

Everything here is static reference data (no database): the 7 provinces of the
2015 constitution under their current official names, the 77 districts, the
number of House of Representatives (HoR) first-past-the-post constituencies per
district from the 2017 delimitation (165 in all), and the main registered
political parties for a dropdown.

Codes are stable identifiers meant to be stored in the database and used in
URLs: provinces are identified by their number (1-7) and also carry a slug
code; districts and parties by a lowercase ASCII slug (words joined by ``-``,
e.g. ``"kathmandu"``, ``"rukum-east"``, ``"nawalparasi-west"``). Never rename a
code once data refers to it; change only the display names.

Labels come in English (``language="en"``) or Nepali in Devanagari
(``language="ne"``).

Sources: Constitution of Nepal 2015, Schedule 4 (provinces and their
districts); the provincial assemblies' naming decisions (Koshi 2023, Madhesh
2022, Bagmati 2020, Gandaki 2018, Lumbini 2020, Karnali 2018, Sudurpashchim
2018); the Constituency Delimitation Commission report of 2017 (HoR seats per
district). Provincial assembly constituencies are two per HoR constituency
(Constitution art. 176(1)(a)), 330 in all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DISTRICTS",
    "DISTRICT_BY_CODE",
    "INDEPENDENT",
    "INDEPENDENT_CODE",
    "PARTIES",
    "PARTY_BY_CODE",
    "PROVINCES",
    "PROVINCE_BY_NUMBER",
    "WARD_MAX",
    "WARD_MIN",
    "District",
    "Party",
    "Province",
    "district_choices_grouped",
    "district_province_map",
    "districts_in",
    "hor_constituency_count",
    "party_choices",
    "province_choices",
    "provincial_constituency_count",
]

Language = Literal["en", "ne"]

#: Ward numbers run from 1 up to 33 (the most wards any municipality has).
WARD_MIN = 1
WARD_MAX = 33

#: Choice code for a candidate standing without a party.
INDEPENDENT_CODE = "independent"


@dataclass(frozen=True)
class Province:
    """One of the 7 provinces: ``number`` is the constitutional number (1-7)."""

    number: int
    code: str
    name_en: str
    name_ne: str

    def name(self, language: Language = "en") -> str:
        """The name in ``language`` ("en" or "ne")."""
        return _pick(language, self.name_en, self.name_ne)


@dataclass(frozen=True)
class District:
    """A district, the province number it belongs to and its HoR constituency count."""

    code: str
    name_en: str
    name_ne: str
    province: int
    hor_constituencies: int

    def name(self, language: Language = "en") -> str:
        """The name in ``language`` ("en" or "ne")."""
        return _pick(language, self.name_en, self.name_ne)

    @property
    def provincial_constituencies(self) -> int:
        """Provincial assembly FPTP constituencies: two per HoR constituency."""
        return 2 * self.hor_constituencies


@dataclass(frozen=True)
class Party:
    """A political party (or the ``independent`` pseudo-party)."""

    code: str
    name_en: str
    name_ne: str

    def name(self, language: Language = "en") -> str:
        """The name in ``language`` ("en" or "ne")."""
        return _pick(language, self.name_en, self.name_ne)


def _pick(language: str, en: str, ne: str) -> str:
    if language == "en":
        return en
    if language == "ne":
        return ne
    raise ValueError(f"unknown language {language!r}: expected 'en' or 'ne'")


PROVINCES: tuple[Province, ...] = (
    Province(1, "koshi", "Koshi Province", "कोशी प्रदेश"),
    Province(2, "madhesh", "Madhesh Province", "मधेश प्रदेश"),
    Province(3, "bagmati", "Bagmati Province", "बागमती प्रदेश"),
    Province(4, "gandaki", "Gandaki Province", "गण्डकी प्रदेश"),
    Province(5, "lumbini", "Lumbini Province", "लुम्बिनी प्रदेश"),
    Province(6, "karnali", "Karnali Province", "कर्णाली प्रदेश"),
    Province(7, "sudurpashchim", "Sudurpashchim Province", "सुदूरपश्चिम प्रदेश"),
)

_D = District

#: The 77 districts, grouped by province in the order of Schedule 4 of the constitution.
DISTRICTS: tuple[District, ...] = (
    # Koshi (1): 14 districts, 28 HoR constituencies
    _D("taplejung", "Taplejung", "ताप्लेजुङ", 1, 1),
    _D("panchthar", "Panchthar", "पाँचथर", 1, 1),
    _D("ilam", "Ilam", "इलाम", 1, 2),
    _D("jhapa", "Jhapa", "झापा", 1, 5),
    _D("morang", "Morang", "मोरङ", 1, 6),
    _D("sunsari", "Sunsari", "सुनसरी", 1, 4),
    _D("dhankuta", "Dhankuta", "धनकुटा", 1, 1),
    _D("terhathum", "Terhathum", "तेह्रथुम", 1, 1),
    _D("sankhuwasabha", "Sankhuwasabha", "संखुवासभा", 1, 1),
    _D("bhojpur", "Bhojpur", "भोजपुर", 1, 1),
    _D("solukhumbu", "Solukhumbu", "सोलुखुम्बु", 1, 1),
    _D("okhaldhunga", "Okhaldhunga", "ओखलढुङ्गा", 1, 1),
    _D("khotang", "Khotang", "खोटाङ", 1, 1),
    _D("udayapur", "Udayapur", "उदयपुर", 1, 2),
    # Madhesh (2): 8 districts, 32 HoR constituencies
    _D("saptari", "Saptari", "सप्तरी", 2, 4),
    _D("siraha", "Siraha", "सिराहा", 2, 4),
    _D("dhanusha", "Dhanusha", "धनुषा", 2, 4),
    _D("mahottari", "Mahottari", "महोत्तरी", 2, 4),
    _D("sarlahi", "Sarlahi", "सर्लाही", 2, 4),
    _D("rautahat", "Rautahat", "रौतहट", 2, 4),
    _D("bara", "Bara", "बारा", 2, 4),
    _D("parsa", "Parsa", "पर्सा", 2, 4),
    # Bagmati (3): 13 districts, 33 HoR constituencies
    _D("dolakha", "Dolakha", "दोलखा", 3, 1),
    _D("sindhupalchok", "Sindhupalchok", "सिन्धुपाल्चोक", 3, 2),
    _D("rasuwa", "Rasuwa", "रसुवा", 3, 1),
    _D("dhading", "Dhading", "धादिङ", 3, 2),
    _D("nuwakot", "Nuwakot", "नुवाकोट", 3, 2),
    _D("kathmandu", "Kathmandu", "काठमाडौं", 3, 10),
    _D("bhaktapur", "Bhaktapur", "भक्तपुर", 3, 2),
    _D("lalitpur", "Lalitpur", "ललितपुर", 3, 3),
    _D("kavrepalanchok", "Kavrepalanchok", "काभ्रेपलाञ्चोक", 3, 2),
    _D("ramechhap", "Ramechhap", "रामेछाप", 3, 1),
    _D("sindhuli", "Sindhuli", "सिन्धुली", 3, 2),
    _D("makwanpur", "Makwanpur", "मकवानपुर", 3, 2),
    _D("chitwan", "Chitwan", "चितवन", 3, 3),
    # Gandaki (4): 11 districts, 18 HoR constituencies
    _D("gorkha", "Gorkha", "गोरखा", 4, 2),
    _D("manang", "Manang", "मनाङ", 4, 1),
    _D("mustang", "Mustang", "मुस्ताङ", 4, 1),
    _D("myagdi", "Myagdi", "म्याग्दी", 4, 1),
    _D("kaski", "Kaski", "कास्की", 4, 3),
    _D("lamjung", "Lamjung", "लमजुङ", 4, 1),
    _D("tanahun", "Tanahun", "तनहुँ", 4, 2),
    _D(
        "nawalparasi-east",
        "Nawalparasi (Bardaghat Susta East)",
        "नवलपरासी (बर्दघाट सुस्ता पूर्व)",
        4,
        2,
    ),
    _D("syangja", "Syangja", "स्याङ्जा", 4, 2),
    _D("parbat", "Parbat", "पर्वत", 4, 1),
    _D("baglung", "Baglung", "बागलुङ", 4, 2),
    # Lumbini (5): 12 districts, 26 HoR constituencies
    _D("rukum-east", "Rukum East", "रुकुम पूर्व", 5, 1),
    _D("rolpa", "Rolpa", "रोल्पा", 5, 1),
    _D("pyuthan", "Pyuthan", "प्युठान", 5, 1),
    _D("gulmi", "Gulmi", "गुल्मी", 5, 2),
    _D("arghakhanchi", "Arghakhanchi", "अर्घाखाँची", 5, 1),
    _D("palpa", "Palpa", "पाल्पा", 5, 2),
    _D(
        "nawalparasi-west",
        "Nawalparasi (Bardaghat Susta West)",
        "नवलपरासी (बर्दघाट सुस्ता पश्चिम)",
        5,
        2,
    ),
    _D("rupandehi", "Rupandehi", "रुपन्देही", 5, 5),
    _D("kapilvastu", "Kapilvastu", "कपिलवस्तु", 5, 3),
    _D("dang", "Dang", "दाङ", 5, 3),
    _D("banke", "Banke", "बाँके", 5, 3),
    _D("bardiya", "Bardiya", "बर्दिया", 5, 2),
    # Karnali (6): 10 districts, 12 HoR constituencies
    _D("rukum-west", "Rukum West", "रुकुम पश्चिम", 6, 1),
    _D("salyan", "Salyan", "सल्यान", 6, 1),
    _D("dolpa", "Dolpa", "डोल्पा", 6, 1),
    _D("humla", "Humla", "हुम्ला", 6, 1),
    _D("jumla", "Jumla", "जुम्ला", 6, 1),
    _D("kalikot", "Kalikot", "कालिकोट", 6, 1),
    _D("mugu", "Mugu", "मुगु", 6, 1),
    _D("surkhet", "Surkhet", "सुर्खेत", 6, 2),
    _D("dailekh", "Dailekh", "दैलेख", 6, 2),
    _D("jajarkot", "Jajarkot", "जाजरकोट", 6, 1),
    # Sudurpashchim (7): 9 districts, 16 HoR constituencies
    _D("kailali", "Kailali", "कैलाली", 7, 5),
    _D("achham", "Achham", "अछाम", 7, 2),
    _D("doti", "Doti", "डोटी", 7, 1),
    _D("bajhang", "Bajhang", "बझाङ", 7, 1),
    _D("bajura", "Bajura", "बाजुरा", 7, 1),
    _D("kanchanpur", "Kanchanpur", "कञ्चनपुर", 7, 3),
    _D("dadeldhura", "Dadeldhura", "डडेलधुरा", 7, 1),
    _D("baitadi", "Baitadi", "बैतडी", 7, 1),
    _D("darchula", "Darchula", "दार्चुला", 7, 1),
)

del _D

#: Registered parties for the dropdown, in order of seats won in the 2022 House
#: of Representatives election. ``independent`` is not a party and is
#: not in this tuple: see ``INDEPENDENT`` and ``party_choices``.
PARTIES: tuple[Party, ...] = (
    Party("nepali-congress", "Nepali Congress", "नेपाली कांग्रेस"),
    Party("cpn-uml", "CPN (UML)", "नेकपा (एमाले)"),
    Party("cpn-maoist-centre", "CPN (Maoist Centre)", "नेकपा (माओवादी केन्द्र)"),
    Party("rastriya-swatantra-party", "Rastriya Swatantra Party", "राष्ट्रिय स्वतन्त्र पार्टी"),
    Party("rastriya-prajatantra-party", "Rastriya Prajatantra Party", "राष्ट्रिय प्रजातन्त्र पार्टी"),
    Party("janata-samajbadi-party-nepal", "Janata Samajbadi Party, Nepal", "जनता समाजवादी पार्टी, नेपाल"),
    Party("cpn-unified-socialist", "CPN (Unified Socialist)", "नेकपा (एकीकृत समाजवादी)"),
    Party("janamat-party", "Janamat Party", "जनमत पार्टी"),
    Party(
        "loktantrik-samajwadi-party-nepal",
        "Loktantrik Samajwadi Party, Nepal",
        "लोकतान्त्रिक समाजवादी पार्टी, नेपाल",
    ),
    Party("nagarik-unmukti-party", "Nagarik Unmukti Party", "नागरिक उन्मुक्ति पार्टी"),
    Party("nepal-workers-peasants-party", "Nepal Workers and Peasants Party", "नेपाल मजदुर किसान पार्टी"),
    Party("rastriya-janamorcha", "Rastriya Janamorcha", "राष्ट्रिय जनमोर्चा"),
)

#: The choice for a candidate standing without a party.
INDEPENDENT = Party(INDEPENDENT_CODE, "Independent", "स्वतन्त्र")

PROVINCE_BY_NUMBER: dict[int, Province] = {p.number: p for p in PROVINCES}
DISTRICT_BY_CODE: dict[str, District] = {d.code: d for d in DISTRICTS}
#: Every party code accepted by ``party_choices``, ``independent`` included, so
#: that a stored code can always be turned back into a label.
PARTY_BY_CODE: dict[str, Party] = {p.code: p for p in (*PARTIES, INDEPENDENT)}


def districts_in(province: int) -> tuple[District, ...]:
    """The districts of province number ``province`` (1-7); ``KeyError`` for any other."""
    if province not in PROVINCE_BY_NUMBER:
        raise KeyError(province)
    return tuple(d for d in DISTRICTS if d.province == province)


def province_choices(language: Language = "en") -> list[tuple[int, str]]:
    """``[(number, name), ...]`` for the 7 provinces, in number order."""
    return [(p.number, p.name(language)) for p in PROVINCES]


def district_choices_grouped(language: Language = "en") -> list[tuple[str, list[tuple[str, str]]]]:
    """Django grouped choices: ``[(province name, [(district code, district name), ...]), ...]``.

    Provinces come in number order; districts within a province are sorted by
    their name in ``language``. Every district appears exactly once.
    """
    return [
        (
            p.name(language),
            sorted(((d.code, d.name(language)) for d in districts_in(p.number)), key=lambda c: c[1]),
        )
        for p in PROVINCES
    ]


def party_choices(language: Language = "en") -> list[tuple[str, str]]:
    """``[(party code, name), ...]``: the parties of ``PARTIES`` in order, then ``independent`` last."""
    return [(p.code, p.name(language)) for p in (*PARTIES, INDEPENDENT)]


def hor_constituency_count(district_code: str) -> int:
    """House of Representatives FPTP constituencies in the district (``KeyError`` if unknown)."""
    return DISTRICT_BY_CODE[district_code].hor_constituencies


def provincial_constituency_count(district_code: str) -> int:
    """Provincial assembly FPTP constituencies in the district: twice its HoR count."""
    return DISTRICT_BY_CODE[district_code].provincial_constituencies


def district_province_map() -> dict[str, int]:
    """``{district code: province number}`` for all 77 districts (for the JavaScript filter)."""
    return {d.code: d.province for d in DISTRICTS}
