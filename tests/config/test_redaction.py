from hypothesis import given
from hypothesis import strategies as st

from lessay_console.redaction import has_inline_password, redact

# passwords an operator might really have: URL-safe (percent-encoded where needed)
passwords = st.text(
    alphabet=st.characters(
        whitelist_categories=("Lu", "Ll", "Nd"), whitelist_characters="!$%*+-_~.@"
    ),
    min_size=6,
    max_size=30,
)


@given(passwords)
def test_url_password_never_survives(password: str) -> None:
    dsn = f"postgresql://lessay:{password}@db.internal:5432/lessay?sslmode=require"
    shown = redact(dsn)
    assert password not in shown
    assert shown == "postgresql://lessay:***@db.internal:5432/lessay?sslmode=require"


@given(passwords)
def test_keyword_dsn_password_never_survives(password: str) -> None:
    quoted = password.replace("'", "\\'")
    for dsn in (
        f"host=db user=lessay password={password} dbname=lessay",
        f"host=db password='{quoted}' dbname=lessay",
    ):
        shown = redact(dsn)
        assert password not in shown
        assert shown.startswith("host=db ") and shown.endswith(" dbname=lessay")


def test_tokens_in_query_strings_and_headers_are_masked() -> None:
    assert redact("https://h/x?token=abc123&page=2") == "https://h/x?token=***&page=2"
    assert redact("Authorization: Bearer eyJhbGciOi") == "Authorization: ***"


def test_text_without_credentials_is_untouched() -> None:
    for text in (
        "https://api.lessay.example/health",
        "postgresql://lessay@db/lessay",
        "host=db user=lessay dbname=lessay",
    ):
        assert redact(text) == text
        assert not has_inline_password(text)
