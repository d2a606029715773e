"""Email addresses: the one canonical form that forms, services, lookups and rate limits share.

Why one function: PostgreSQL folds case differently in ``UPPER()`` (Django's
``__iexact``) and ``LOWER()`` (our unique indexes), and Unicode has characters that
fold onto ASCII letters in one and not the other (``ı`` U+0131 and ``ſ`` U+017F
upper-case to ``I`` and ``S``; the Kelvin sign ``K`` lower-cases to ``k``). If the
form, the lookup, the index and the rate-limit key each fold their own way, a
look-alike gets its own rate-limit bucket, resolves to someone else's account, or
squats an address before its owner signs up.

So an address is normalised once, here, to a form in which every fold agrees:

- compatibility characters are folded (NFKC): ``ſ`` becomes ``s``, the Kelvin sign
  ``K``, full-width letters their ASCII twins;
- the local part must then be ASCII, or the address is refused: ``ı``, ``İ``,
  Cyrillic or Greek look-alikes have no safe fold (SES does not deliver to non-ASCII
  local parts either);
- an internationalised domain is kept in its ASCII (IDNA) form, which is also what
  SES wants;
- the whole address is lower-cased, so that Python's ``lower()`` and PostgreSQL's
  ``LOWER()`` give the same text (they agree on ASCII).

Lookups compare ``LOWER(email)`` with the normalised address: the unique index's
own expression (accounts.models.UserQuerySet.with_address).
"""

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

NOT_ASCII = _("Use an address written in Latin letters only: this one contains look-alike characters.")
INVALID = _("Enter a valid email address.")


def address_normalize(value: str) -> str:
    """The canonical form of the address ``value``: NFKC, ASCII local part, IDNA domain, lower case.

    Raises ValidationError (code ``look_alike``) for a local part that is not ASCII
    after NFKC, and (code ``invalid``) for a domain that IDNA cannot encode or an
    input without "@". The result is idempotent: normalising it again changes nothing.
    Whether the result is a well-formed address is the EmailValidator's business.
    """
    folded = unicodedata.normalize("NFKC", value or "").strip()
    local, at, domain = folded.rpartition("@")
    if not at:
        raise ValidationError(INVALID, code="invalid")
    if not local.isascii():
        raise ValidationError(NOT_ASCII, code="look_alike")
    if not domain.isascii():
        try:
            # Python's IDNA codec (nameprep) folds case and compatibility characters first.
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValidationError(INVALID, code="invalid") from None
    return f"{local}@{domain}".lower()


def address_key(value: str) -> str:
    """The rate-limit key of a posted address: its canonical form, or, if refused, the raw text folded.

    A refused address is answered with a form error and sends nothing, so its
    bucket only has to be stable; every address that can reach a worker is keyed
    by exactly the text the services and lookups use.
    """
    try:
        return address_normalize(value)
    except ValidationError:
        return unicodedata.normalize("NFKC", value or "").strip().casefold()
