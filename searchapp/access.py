"""The write token, as the requests that need it present it: `Authorization: Bearer <token>` from a
client (the API's writes), or HTTP Basic auth with the token as password from a browser (the /quality
pages, which must work without JavaScript, and a browser can send no Bearer header by itself)."""

from __future__ import annotations

import base64
import binascii
import hmac


def sent_bytes(header_value: str) -> bytes:
    """The bytes a client sent, to compare with the token's UTF-8 (so that a token can hold any
    character): WSGI servers hand headers over decoded as Latin-1 (PEP 3333); a value beyond Latin-1
    can only come from an in-process caller such as a test client, and is taken as UTF-8."""
    try:
        return header_value.encode("latin-1")
    except UnicodeEncodeError:
        return header_value.encode()


def token_matches(given: bytes, token: str) -> bool:
    return hmac.compare_digest(given, token.encode())


def basic_password(credentials: str) -> bytes | None:
    """The password of Basic auth's base64 `user:password` (the user name is not checked); None when
    the value is not base64."""
    try:
        return base64.b64decode(sent_bytes(credentials.strip()), validate=True).partition(b":")[2]
    except (binascii.Error, ValueError):
        return None
