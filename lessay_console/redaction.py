"""Masking of credentials in URLs and PostgreSQL DSNs before anything shows them.

Every string that may hold a credential (a URL, a DSN, an error message that
quotes one) passes through `redact` before it reaches a screen, a log or the
journal.
"""

from __future__ import annotations

import re

MASK = "***"

# scheme://user:password@host  ->  scheme://user:***@host
_URL_USERINFO = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*):(?P<secret>[^\s/]*)@")
# key=value pairs in libpq keyword DSNs and URL query strings; values may be quoted
_SECRET_PARAM = re.compile(
    r"(?P<head>\b(?:password|passwd|pwd|sslpassword|token|access_token|api_key|apikey|secret)"
    r"\s*=\s*)(?P<secret>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^\s&;'\"]+)",
    re.IGNORECASE,
)
# HTTP authorisation headers quoted in error texts
_AUTH_HEADER = re.compile(
    r"(?P<head>\b(?:authorization|x-api-key)\s*[:=]\s*)(?P<secret>[^\r\n,]+)", re.IGNORECASE
)


def redact(text: str) -> str:
    """`text` with every recognisable credential replaced by ***."""
    text = _URL_USERINFO.sub(lambda m: f"{m['head']}:{MASK}@", text)
    text = _SECRET_PARAM.sub(lambda m: f"{m['head']}{MASK}", text)
    return _AUTH_HEADER.sub(lambda m: f"{m['head']}{MASK}", text)


def has_inline_password(dsn_or_url: str) -> bool:
    """Whether a DSN or URL carries a password in clear."""
    return redact(dsn_or_url) != dsn_or_url
