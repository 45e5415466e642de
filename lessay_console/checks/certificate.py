"""A server certificate's subject, issuer and expiry, read from its DER bytes.

The `network` check reads the certificate whether or not it was verified, so an
expired or unknown certificate is described, not only refused; `ssl` gives the
parsed form only for a verified one. This small DER reader follows just the
fields it needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

_NAME_KEYS = {
    b"\x55\x04\x03": "CN",
    b"\x55\x04\x0a": "O",
    b"\x55\x04\x0b": "OU",
    b"\x55\x04\x06": "C",
    b"\x55\x04\x07": "L",
    b"\x55\x04\x08": "ST",
}


def _der_items(data: bytes) -> Iterator[tuple[int, bytes]]:
    """The (tag, content) elements of a DER sequence's content, in order."""
    position = 0
    while position < len(data):
        tag, first = data[position], data[position + 1]
        position += 2
        if first < 0x80:
            length = first
        else:
            count = first & 0x7F
            length = int.from_bytes(data[position : position + count], "big")
            position += count
        yield tag, data[position : position + length]
        position += length


def _der_name(content: bytes) -> str:
    parts = []
    for _set_tag, rdn in _der_items(content):
        for _seq_tag, attribute in _der_items(rdn):
            (_oid_tag, oid), (value_tag, value) = list(_der_items(attribute))[:2]
            key = _NAME_KEYS.get(oid)
            if key is None:
                continue
            codec = "utf-16-be" if value_tag == 0x1E else "utf-8"
            parts.append(f"{key}={value.decode(codec, 'replace')}")
    return ", ".join(parts)


def _der_time(tag: int, content: bytes) -> datetime:
    text = content.decode("ascii")
    if tag == 0x17:  # UTCTime, two-digit year: 50-99 are 19xx (RFC 5280)
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    return datetime.strptime(text[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)


@dataclass(frozen=True)
class Certificate:
    """What a diagnosis needs of a certificate: who it names, who signed it, when it ends."""

    subject: str
    issuer: str
    not_after: datetime

    @classmethod
    def from_der(cls, der: bytes) -> Certificate:
        (_tag, certificate), *_ = _der_items(der)
        (_tag, tbs), *_ = _der_items(certificate)
        fields = [item for item in _der_items(tbs) if item[0] != 0xA0]  # skip the version
        _serial, _algorithm, issuer, validity, subject = fields[:5]
        _not_before, not_after = list(_der_items(validity[1]))[:2]
        return cls(_der_name(subject[1]), _der_name(issuer[1]), _der_time(*not_after))

    def days_left(self, now: float) -> int:
        return int((self.not_after.timestamp() - now) // 86400)


def read_certificate(der: bytes | None) -> Certificate | None:
    """The certificate, or None where there is none or this reader cannot follow it."""
    if not der:
        return None
    try:
        return Certificate.from_der(der)
    except (ValueError, IndexError):  # a certificate this small reader cannot follow
        return None
