"""Tests for auditor.syntax: the interop syntax vectors, DID method rules and target parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor import syntax
from auditor.syntax import Target, TargetSyntaxError, parse_target

SYNTAX_VECTORS = Path(__file__).parent / "conformance" / "atproto-interop-tests" / "syntax"


def vectors(name: str) -> list[str]:
    """Lines of one interop vector file, minus blank and ``#`` comment lines.

    Only the line break is removed: some vectors test leading or trailing spaces.
    """
    text = (SYNTAX_VECTORS / name).read_text(encoding="utf-8")
    return [line for line in text.split("\n") if line.strip() and not line.startswith("#")]


def test_vector_files_are_present_and_non_trivial() -> None:
    # A silently empty vector list would make every parametrised test below vacuous.
    assert len(vectors("handle_syntax_valid.txt")) > 50
    assert len(vectors("handle_syntax_invalid.txt")) > 40
    assert len(vectors("did_syntax_valid.txt")) > 20
    assert len(vectors("did_syntax_invalid.txt")) > 15
    assert " john.test" in vectors("handle_syntax_invalid.txt")  # whitespace survives


# --------------------------------------------------------------------------------------------
# Handles
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("handle", vectors("handle_syntax_valid.txt"))
def test_valid_handle_vectors(handle: str) -> None:
    assert syntax.handle_syntax_error(handle) is None
    assert syntax.is_valid_handle(handle)
    assert syntax.normalize_handle(handle) == handle.lower()


@pytest.mark.parametrize("handle", vectors("handle_syntax_invalid.txt"))
def test_invalid_handle_vectors(handle: str) -> None:
    error = syntax.handle_syntax_error(handle)
    assert error is not None
    assert "\n" not in error and len(error) < 160
    assert not syntax.is_valid_handle(handle)
    with pytest.raises(ValueError):
        syntax.normalize_handle(handle)


@pytest.mark.parametrize(
    ("handle", "message"),
    [
        ("foo_.test", "label 'foo_' contains '_' (handle labels allow a-z, 0-9 and '-')"),
        ("john", "handle has only one label (needs a domain, e.g. 'name.example.com')"),
        ("john.test.", "handle ends with '.' (no trailing dot allowed)"),
        ("john..test", "handle has an empty label (a leading dot or two dots in a row)"),
        ("-john.test", "label '-john' starts with '-'"),
        ("john-.test", "label 'john-' ends with '-'"),
        ("john.0", "top-level domain '0' starts with a digit"),
        ("127.0.0.1", "top-level domain '1' starts with a digit"),
        ("bücher.test", "handle contains non-ASCII character 'ü' (use its punycode xn-- form)"),
        (" john.test", "label ' john' contains ' ' (handle labels allow a-z, 0-9 and '-')"),
        ("", "handle is empty"),
        ("a." * 127 + "test", "handle is 258 characters long (max 253)"),
    ],
)
def test_handle_errors_name_the_rule(handle: str, message: str) -> None:
    assert syntax.handle_syntax_error(handle) == message


def test_label_length_limit_is_63() -> None:
    assert syntax.is_valid_handle("o" * 63 + ".test")
    error = syntax.handle_syntax_error("o" * 64 + ".test")
    assert error is not None and "is 64 characters long (max 63)" in error
    assert "…" in error  # the long label is shortened in the message


def test_handle_length_limit_is_253() -> None:
    handle = ("a" * 62 + ".") * 3 + "a" * 59 + ".test"
    assert len(handle) == 253
    assert syntax.is_valid_handle(handle)
    assert not syntax.is_valid_handle("a" + handle)


def test_normalize_handle_lowercases() -> None:
    assert syntax.normalize_handle("XX.LCS.MIT.EDU") == "xx.lcs.mit.edu"


@pytest.mark.parametrize(
    ("handle", "tld"),
    [
        ("laptop.local", "local"),
        ("laptop.ARPA", "arpa"),
        ("friend.expyuzz4wqqyqhjn.onion", "onion"),
        ("handle.invalid", "invalid"),
        ("a.localhost", "localhost"),
        ("x.alt", "alt"),
        ("x.example", "example"),
        ("x.internal", "internal"),
        ("john.test", None),
        ("alice.bsky.social", None),
        ("example.com", None),
    ],
)
def test_reserved_tld(handle: str, tld: str | None) -> None:
    # Reserved TLDs are syntactically fine, they just can never resolve.
    assert syntax.is_valid_handle(handle)
    assert syntax.reserved_tld(handle) == tld


def test_disallowed_tlds_are_exactly_the_specs_list() -> None:
    assert syntax.DISALLOWED_TLDS == {
        "alt",
        "arpa",
        "example",
        "internal",
        "invalid",
        "local",
        "localhost",
        "onion",
    }


# --------------------------------------------------------------------------------------------
# DIDs
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("did", vectors("did_syntax_valid.txt"))
def test_valid_did_vectors(did: str) -> None:
    assert syntax.did_syntax_error(did) is None
    assert syntax.is_valid_did(did)


@pytest.mark.parametrize("did", vectors("did_syntax_invalid.txt"))
def test_invalid_did_vectors(did: str) -> None:
    error = syntax.did_syntax_error(did)
    assert error is not None
    assert "\n" not in error and len(error) < 160
    assert not syntax.is_valid_did(did)


@pytest.mark.parametrize(
    ("did", "message"),
    [
        ("did", "DID must start with 'did:'"),
        ("DID:method:val", "DID must start with lowercase 'did:'"),
        (
            "did:methodval",
            "DID has no method-specific identifier (expected did:<method>:<identifier>)",
        ),
        ("did::val", "DID method is empty (expected did:<method>:<identifier>)"),
        ("did:METHOD:val", "DID method 'METHOD' must be lowercase letters a-z only"),
        ("did:m123:val", "DID method 'm123' must be lowercase letters a-z only"),
        ("did:method:", "DID's method-specific identifier is empty"),
        (
            "did:method:val/two",
            "DID contains '/' (allowed after the method: a-z A-Z 0-9 . _ : % -)",
        ),
        ("did:method:val:", "DID must not end with ':'"),
        ("did:method:val%", "DID must not end with '%'"),
        ("did:web:" + "a" * 2041, "DID is 2049 characters long (max 2048)"),
    ],
)
def test_did_errors_name_the_rule(did: str, message: str) -> None:
    assert syntax.did_syntax_error(did) == message


def test_did_length_limit_is_2048() -> None:
    assert syntax.is_valid_did("did:web:" + "a" * 2040)
    assert not syntax.is_valid_did("did:web:" + "a" * 2041)


@pytest.mark.parametrize(
    "did",
    [
        "did:plc:z72i7hdynmk6r22z27h6tvur",
        "did:plc:yk4dd2qkboz2yv6tpubpc6co",
        "did:web:example.com",
        "did:web:Example.COM",
        "did:web:localhost%3A8080",
        "did:web:localhost%3a8080",
        "did:web:localhost",
        "did:web:pds.example.com%3A443",
        "did:web:laptop.local",  # reserved TLD: a resolution problem, not a syntax one
    ],
)
def test_supported_dids(did: str) -> None:
    assert syntax.supported_did_error(did) is None


UNSUPPORTED = "is not a method AT Protocol supports (plc, web)"
NOT_BASE32 = "did:plc identifier must use only base32 characters a-z and 2-7"
LABELS_ALLOW = "(handle labels allow a-z, 0-9 and '-')"
ONE_LABEL = "handle has only one label (needs a domain, e.g. 'name.example.com')"
BAD_PORT = "is not a number from 1 to 65535"


@pytest.mark.parametrize(
    ("did", "message"),
    [
        ("did:key:zQ3shZc2QzApp2oymGvQbzP8eKheVshBHbU4ZYjeXqwSKEn6N", f"did:key {UNSUPPORTED}"),
        ("did:method:val", f"did:method {UNSUPPORTED}"),
        ("did:plc:z72i7hdynmk6r22z27h6tvu", "did:plc identifier must be 24 characters, not 23"),
        ("did:plc:z72i7hdynmk6r22z27h6tvurr", "did:plc identifier must be 24 characters, not 25"),
        ("did:plc:Z72I7HDYNMK6R22Z27H6TVUR", NOT_BASE32),
        ("did:plc:z72i7hdynmk6r22z27h6tvu1", NOT_BASE32),
        ("did:plc:z72i7hdynmk6r22z27h6tvu8", NOT_BASE32),
        (
            "did:web:example.com:user:alice",
            "did:web with a path (':' segments) is not supported by atproto; use a bare hostname",
        ),
        ("did:web:example.com%2Fpath", "did:web may only percent-encode the port separator (%3A)"),
        ("did:web:localhost%3A99999", f"did:web port '99999' {BAD_PORT}"),
        ("did:web:localhost%3A0", f"did:web port '0' {BAD_PORT}"),
        ("did:web:localhost%3Ahttp", f"did:web port 'http' {BAD_PORT}"),
        (
            "did:web:jo_hn.test",
            f"did:web host is not a valid hostname: label 'jo_hn' contains '_' {LABELS_ALLOW}",
        ),
        ("did:web:com", f"did:web host is not a valid hostname: {ONE_LABEL}"),
        ("did:plc:", "DID's method-specific identifier is empty"),
    ],
)
def test_unsupported_or_malformed_method_dids(did: str, message: str) -> None:
    assert syntax.supported_did_error(did) == message


def test_generic_syntax_accepts_methods_atproto_does_not_support() -> None:
    # The generic vectors contain did:onion, did:ethr, did:key...: valid syntax, unsupported method.
    for did in (
        "did:onion:2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid",
        "did:ethr:0xb9",
    ):
        assert syntax.is_valid_did(did)
        message = syntax.supported_did_error(did)
        assert message is not None and "is not a method AT Protocol supports" in message


@pytest.mark.parametrize(
    ("did", "host"),
    [
        ("did:web:example.com", "example.com"),
        ("did:web:Example.COM", "example.com"),
        ("did:web:localhost%3A8080", "localhost:8080"),
        ("did:web:pds.example.com%3a2583", "pds.example.com:2583"),
        ("did:web:localhost", "localhost"),
    ],
)
def test_did_web_host(did: str, host: str) -> None:
    assert syntax.did_web_host(did) == host


@pytest.mark.parametrize(
    "did",
    ["did:plc:z72i7hdynmk6r22z27h6tvur", "did:web:example.com:path", "did:web:", "web:example.com"],
)
def test_did_web_host_rejects_non_web_dids(did: str) -> None:
    with pytest.raises(ValueError):
        syntax.did_web_host(did)


def test_did_method() -> None:
    assert syntax.did_method("did:plc:z72i7hdynmk6r22z27h6tvur") == "plc"
    assert syntax.did_method("did:web:localhost%3A8080") == "web"


# --------------------------------------------------------------------------------------------
# At-identifiers
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", vectors("atidentifier_syntax_valid.txt"))
def test_valid_at_identifier_vectors(value: str) -> None:
    assert syntax.at_identifier_syntax_error(value) is None
    assert syntax.is_valid_at_identifier(value)


@pytest.mark.parametrize("value", vectors("atidentifier_syntax_invalid.txt"))
def test_invalid_at_identifier_vectors(value: str) -> None:
    assert syntax.at_identifier_syntax_error(value) is not None
    assert not syntax.is_valid_at_identifier(value)


# --------------------------------------------------------------------------------------------
# parse_target
# --------------------------------------------------------------------------------------------

BSKY = "did:plc:z72i7hdynmk6r22z27h6tvur"


@pytest.mark.parametrize(
    ("raw", "kind", "handle", "did"),
    [
        ("alice.bsky.social", "handle", "alice.bsky.social", None),
        ("Alice.Bsky.Social", "handle", "alice.bsky.social", None),
        ("@alice.bsky.social", "handle", "alice.bsky.social", None),
        ("  alice.bsky.social\n", "handle", "alice.bsky.social", None),
        ("laptop.local", "handle", "laptop.local", None),
        (BSKY, "did", None, BSKY),
        ("@" + BSKY, "did", None, BSKY),
        ("did:web:localhost%3A8080", "did", None, "did:web:localhost%3A8080"),
        ("at://bsky.app", "at_uri", "bsky.app", None),
        ("at://BSKY.app/", "at_uri", "bsky.app", None),
        ("at://bsky.app/app.bsky.actor.profile", "at_uri", "bsky.app", None),
        ("at://" + BSKY + "/app.bsky.feed.post/3k2yihcrp6f2c", "at_uri", None, BSKY),
        ("AT://bsky.app/app.bsky.feed.post/3k2y?x=1#frag", "at_uri", "bsky.app", None),
        ("https://bsky.app/profile/bsky.app", "profile_url", "bsky.app", None),
        ("https://bsky.app/profile/Jay.Bsky.Team/", "profile_url", "jay.bsky.team", None),
        ("http://bsky.app/profile/bsky.app", "profile_url", "bsky.app", None),
        ("https://www.bsky.app/profile/bsky.app", "profile_url", "bsky.app", None),
        ("https://BSKY.APP/profile/bsky.app?ref=x", "profile_url", "bsky.app", None),
        ("https://bsky.app/profile/" + BSKY, "profile_url", None, BSKY),
        (
            "https://bsky.app/profile/did%3Aplc%3Az72i7hdynmk6r22z27h6tvur",
            "profile_url",
            None,
            BSKY,
        ),
        ("https://bsky.app/profile/bsky.app/post/3k2yihcrp6f2c", "profile_url", "bsky.app", None),
    ],
)
def test_parse_target(raw: str, kind: str, handle: str | None, did: str | None) -> None:
    assert parse_target(raw) == Target(raw=raw, kind=kind, handle=handle, did=did)  # type: ignore[arg-type]


EMPTY = (
    "empty target: give a handle, a DID, an at:// URI, a bsky.app profile URL, @user@domain "
    "(fediverse) or @user:server (Matrix)"
)
NOT_A_PROFILE = (
    "is not a profile link decaudit knows: give a handle, a DID, an at:// URI, "
    "https://bsky.app/profile/..., a fediverse profile (https://HOST/@user) or @user@domain, "
    "or a Matrix ID (@user:server)"
)
NOT_PROFILE = (
    "bsky.app URL is not a profile link (expected https://bsky.app/profile/<handle-or-did>)"
)
NO_ACCOUNT = "at:// URI authority names no account (expected a handle or a DID)"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", EMPTY),
        ("   ", EMPTY),
        (
            "jo_hn.test",
            f"'jo_hn.test' is not a valid handle: label 'jo_hn' contains '_' {LABELS_ALLOW}",
        ),
        ("john", f"'john' is not a valid handle: {ONE_LABEL}"),
        ("@@john.test", "fediverse user name '' is not valid (1-64 of A-Z a-z 0-9 . _ ~ -)"),
        (
            "john.test.",
            "'john.test.' is not a valid handle: handle ends with '.' (no trailing dot allowed)",
        ),
        ("alice smith.test", "target 'alice smith.test' contains whitespace"),
        (
            "email@example",
            "fediverse domain 'example' is not valid: domain has only one label "
            "(needs a domain, e.g. 'name.example.com')",
        ),
        ("did:foo:bar", f"'did:foo:bar' is not a usable DID: did:foo {UNSUPPORTED}"),
        (
            "did:plc:abc",
            "'did:plc:abc' is not a usable DID: did:plc identifier must be 24 characters, not 3",
        ),
        (
            "DID:plc:z72i7hdynmk6r22z27h6tvur",
            "'DID:plc:z72i7hdynmk6r22z27h6tvur' is not a usable DID: "
            "DID must start with lowercase 'did:'",
        ),
        (
            "did:web:example.com:u:alice",
            "'did:web:example.com:u:alice' is not a usable DID: "
            "did:web with a path (':' segments) is not supported by atproto; use a bare hostname",
        ),
        ("at://", NO_ACCOUNT),
        ("at:///app.bsky.feed.post", NO_ACCOUNT),
        (
            "at://jo_hn.test/app.bsky.feed.post",
            "at:// URI authority 'jo_hn.test' is not a valid handle: "
            f"label 'jo_hn' contains '_' {LABELS_ALLOW}",
        ),
        (
            "at://did:key:zQ3shZc2QzApp2oymGvQbzP8eKheVshBHbU4ZYjeXqwSKEn6N",
            "at:// URI authority 'did:key:zQ3shZc2QzApp2oymGvQbzP8eKheVshB…' is not a usable DID: "
            f"did:key {UNSUPPORTED}",
        ),
        (
            "at://bsky.app/a/b/c",
            "at:// URI has more than two path segments (expected at://AUTHORITY/collection/rkey)",
        ),
        ("at://bsky.app//b", "at:// URI has an empty path segment"),
        (
            "https://example.com/profile/bsky.app",
            f"URL 'https://example.com/profile/bsky.app' {NOT_A_PROFILE}",
        ),
        (
            "https://user@bsky.app/profile/bsky.app",
            "URL host 'user@bsky.app' carries a user name: give the profile link without it",
        ),
        ("https://bsky.app/search?q=x", NOT_PROFILE),
        ("https://bsky.app/profile/", NOT_PROFILE),
        (
            "https://bsky.app/profile/nope",
            f"profile URL account 'nope' is not a valid handle: {ONE_LABEL}",
        ),
        ("http://[bsky.app/profile/x", "malformed URL: Invalid IPv6 URL"),
        (
            "ftp://bsky.app/profile/bsky.app",
            "unsupported URL scheme 'ftp': use at://, https:// or acct:",
        ),
    ],
)
def test_parse_target_errors(raw: str, message: str) -> None:
    with pytest.raises(TargetSyntaxError) as caught:
        parse_target(raw)
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, ValueError)  # the CLI may catch ValueError generally


@pytest.mark.parametrize("handle", vectors("handle_syntax_valid.txt"))
def test_parse_target_accepts_every_valid_handle(handle: str) -> None:
    assert parse_target(handle).handle == handle.lower()
    assert parse_target("at://" + handle).handle == handle.lower()


@pytest.mark.parametrize(
    "handle",
    [h for h in vectors("handle_syntax_invalid.txt") if h.strip() == h],
)
def test_parse_target_rejects_every_invalid_handle(handle: str) -> None:
    # (Vectors with surrounding spaces are excluded: parse_target strips whitespace on purpose.)
    # A few (``jo@hn.test``) are fediverse or Matrix addresses: never an AT Protocol handle.
    try:
        target = parse_target(handle)
    except TargetSyntaxError:
        pass
    else:
        assert target.protocol != "atproto" and target.handle is None
    with pytest.raises(TargetSyntaxError):
        parse_target("at://" + handle)


def test_target_is_frozen() -> None:
    target = parse_target("bsky.app")
    with pytest.raises(AttributeError):
        target.handle = "other.example"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("raw", "kind", "protocol", "account"),
    [
        ("@alice@mastodon.social", "fediverse_account", "activitypub", "alice@mastodon.social"),
        ("alice@Mastodon.Social", "fediverse_account", "activitypub", "alice@mastodon.social"),
        ("acct:Bob@kith.test", "fediverse_account", "activitypub", "Bob@kith.test"),
        ("https://mastodon.social/@alice", "fediverse_url", "activitypub", "alice@mastodon.social"),
        ("https://kith.test/users/bob/", "fediverse_url", "activitypub", "bob@kith.test"),
        # a remote profile viewed on another server names the remote account
        (
            "https://mastodon.social/@erin@kith.test",
            "fediverse_url",
            "activitypub",
            "erin@kith.test",
        ),
        ("@gina:matrix.org", "matrix_id", "matrix", "@gina:matrix.org"),
        ("@hal:hal.test:8448", "matrix_id", "matrix", "@hal:hal.test:8448"),
        ("@hal:[2001:db8::1]:8448", "matrix_id", "matrix", "@hal:[2001:db8::1]:8448"),
        ("https://matrix.to/#/@gina:matrix.org", "matrix_id", "matrix", "@gina:matrix.org"),
    ],
)
def test_parse_other_networks(raw: str, kind: str, protocol: str, account: str) -> None:
    target = parse_target(raw)
    assert (target.kind, target.protocol, target.account) == (kind, protocol, account)
    assert target.handle is None and target.did is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("@a!b@kith.test", "fediverse user name 'a!b' is not valid (1-64 of A-Z a-z 0-9 . _ ~ -)"),
        (
            "@bob@kith.test:8080",
            "fediverse domain 'kith.test:8080' has a port; WebFinger is asked on port 443",
        ),
        ("acct:bob", "acct: URI has no @domain (expected acct:user@domain)"),
        ("@:matrix.org", "Matrix localpart '' is not valid (printable ASCII, no ':')"),
        (
            "@gina:matrix.org:99999",
            "Matrix server name 'matrix.org:99999' is not valid: port '99999' is not 1-65535",
        ),
        ("@gina:[::1", "Matrix server name '[::1' is not valid: unclosed [ in an IPv6 literal"),
        ("@" + "g" * 250 + ":matrix.org", "Matrix ID is longer than 255 characters"),
        (
            "https://matrix.to/#/!room:matrix.org",
            "matrix.to link names no user (expected https://matrix.to/#/@user:server)",
        ),
        (
            "https://mastodon.social:8443/@alice",
            "profile URL 'https://mastodon.social:8443/@alice' has a port; give the account as "
            "@user@domain instead",
        ),
    ],
)
def test_parse_other_networks_errors(raw: str, message: str) -> None:
    with pytest.raises(TargetSyntaxError) as caught:
        parse_target(raw)
    assert str(caught.value) == message
