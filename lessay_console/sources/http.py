"""The HTTP client the sources share, and transport errors turned into typed failures.

httpx is imported lazily (the console's first frame must not pay for it) and
its INFO logging, which prints full request URLs (tokens included), is
silenced once here.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from lessay_console import __version__
from lessay_console.redaction import redact
from lessay_console.samples import SourceFailure

if TYPE_CHECKING:
    import httpx

USER_AGENT = f"lessay-console/{__version__}"


def http_client(timeout: float, verify_tls: bool = True) -> httpx.AsyncClient:
    import httpx

    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout),
        verify=verify_tls,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
    )


def http_failure(error: Exception, timeout: float) -> SourceFailure:
    """A transport error as an operator reads it: what failed, redacted."""
    import httpx

    if isinstance(error, httpx.TimeoutException):
        return SourceFailure("timeout", f"no answer within {timeout:g}s")
    if isinstance(error, httpx.ConnectError):
        return SourceFailure("connect", f"cannot connect: {_reason(_root_cause(error))}")
    if isinstance(error, httpx.RemoteProtocolError):
        return SourceFailure("http", f"broken HTTP answer: {_reason(error)}")
    if isinstance(error, httpx.HTTPError):
        return SourceFailure("http", _reason(error))
    return SourceFailure("internal", f"{type(error).__name__}: {_reason(error)}")


def _root_cause(error: BaseException) -> BaseException:
    """The operating system's reason under httpx's "All connection attempts failed"."""
    seen = error
    while seen is not None:
        if isinstance(seen, OSError) and (seen.errno or seen.strerror):
            return seen
        seen = seen.__cause__ or seen.__context__
    return error


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError):
        # asyncio's strerror for a refusal is "Connect call failed (...)": the errno says why
        if error.strerror and not error.strerror.startswith("Connect call failed"):
            return redact(error.strerror)
        if error.errno and error.errno > 0:
            return os.strerror(error.errno)
    text = str(error) or type(error).__name__
    # "[Errno 111] Connection refused" -> "Connection refused"
    if text.startswith("[Errno") and "] " in text:
        text = text.split("] ", 1)[1]
    return redact(text)
