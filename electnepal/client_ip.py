"""The client's IP address, as rate limits count it (django-ratelimit's RATELIMIT_IP_META_KEY).

X-Forwarded-For is written by whoever sends the request: a client can put any
address in it. Only the entries appended by our own proxies can be trusted, and
each proxy appends the address it received the request from. With
TRUSTED_PROXY_COUNT = n, the client is therefore the n-th entry from the right;
everything left of it is the client's own claim and is ignored. With 0 (the
default: no proxy, or one we do not trust) the header is ignored and the client
is REMOTE_ADDR, the peer of the TCP connection.
https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/X-Forwarded-For#selecting_an_ip_address
"""

import ipaddress

from django.conf import settings


def _valid(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def client_ip(request) -> str:
    """REMOTE_ADDR, or the address our TRUSTED_PROXY_COUNT proxies saw, counted from the right.

    A header with fewer entries than trusted proxies, or a malformed entry where the
    client should be, means the request did not come through them: REMOTE_ADDR.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    # Several X-Forwarded-For lines arrive joined with commas in one META value.
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if len(hops) < count or not _valid(hops[-count]):
        return remote
    return hops[-count]
