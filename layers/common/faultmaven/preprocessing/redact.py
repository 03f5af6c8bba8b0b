"""Redaction: secrets and PII become typed placeholders before text leaves the raw artifact.

Everything downstream of an upload (PostgreSQL rows, the search index, LLM prompts) sees
`redact(text).text`, never the raw text. A finding is replaced by `[REDACTED:<KIND>]`,
where KIND says what was there (AWS_ACCESS_KEY, PRIVATE_KEY, JWT, PASSWORD, EMAIL, IP...)
so that an analysis can still reason about it ("the request carried a JWT") without
holding it.

Guarantees the rest of the pipeline relies on:

* Line structure is kept: every line break of the input is still there, so line numbers
  quoted by an analysis point at the same lines of the raw artifact.
* Idempotent: redacting redacted text changes nothing and finds nothing new, because no
  rule accepts a value that is already a placeholder and placeholders match no rule.
* Never raises. If something unexpected goes wrong the text is withheld (every line
  replaced), never passed through: failing open would leak. Nothing from the input is
  ever logged, only the exception's type.
* Ordinary log content is left alone: timestamps, UUIDs, request and trace ids, git SHAs,
  versions, durations, ports and status codes. Loopback and unspecified addresses
  (127.0.0.0/8, 0.0.0.0, ::1, ::), broadcast and netmasks (255.x.x.x) are kept too: they
  identify nobody and are often the point of a "connection refused". Every other IP,
  private ranges included, is redacted.

Speed (10 MB of logs in 0.25-0.4 s on one core; see benchmarks/redaction.py) comes from
not running the detectors over every line. Each rule declares *anchors*: short patterns
led by a literal that must occur wherever the rule can match (`akia` for AWS key ids,
`password=` for passwords, `ddd-dddd` for phone numbers). Anchors are looked for in one
folded copy of the text (see _Anchor), all anchors starting with the same character in
one pass at C speed. Only the lines (or 8 KiB slices of a very long line) holding an
anchor go through the real regular expressions, and only through the rules anchored there.
Emails and IPv4 addresses, which can be on every line, are found from their `@` and their
dots in one pass over the whole text instead.

Vendor token formats are detect-secrets' own plugin regexes (their `denylist`s), reused
as they are. detect-secrets is imported on first use, so importing this module costs
nothing at a Lambda cold start. Its entropy plugins are left out on purpose: trace ids,
git SHAs and request ids are high-entropy by design.
"""

from __future__ import annotations

import importlib
import ipaddress
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["PII_KINDS", "PLACEHOLDER_PREFIX", "Redaction", "placeholder", "redact"]

_LOG = logging.getLogger(__name__)

PLACEHOLDER_PREFIX: Final = "[REDACTED:"
PII_KINDS: Final = frozenset({"EMAIL", "IP", "PHONE", "CARD"})
_WITHHELD: Final = "WITHHELD"

# A line (or a slice of a very long line) is the unit the detectors run on. Slicing keeps a
# 9 MB single-line blob from costing 9 MB per rule; cuts are moved to the next blank within
# _CUT_SLACK so that a token is almost never split.
_MAX_SEGMENT: Final = 8192
_CUT_SLACK: Final = 512


class Redaction(BaseModel):
    """The redacted text and what was taken out of it."""

    model_config = ConfigDict(frozen=True)

    text: str
    secrets_detected: bool
    pii_detected: bool
    counts: dict[str, int]
    """Placeholder kind -> number of values replaced, e.g. {"EMAIL": 2, "JWT": 1}."""


def placeholder(kind: str) -> str:
    """The text that stands in for a redacted value of this kind."""
    return f"{PLACEHOLDER_PREFIX}{kind}]"


def redact(text: str) -> Redaction:
    """Replace secrets and PII in `text` by typed placeholders; see the module docstring."""
    if not isinstance(text, str):  # a defensive boundary: not every caller is type-checked
        text = _as_text(text)
    try:
        counts: dict[str, int] = {}
        redacted = _redact(text, counts)
    except Exception as exc:
        # Never the message: it may quote the input.
        _LOG.error("redaction failed (%s); the text is withheld", type(exc).__name__)
        return _withheld(text)
    return Redaction(
        text=redacted,
        secrets_detected=any(kind not in PII_KINDS for kind in counts),
        pii_detected=any(kind in PII_KINDS for kind in counts),
        counts=dict(sorted(counts.items())),
    )


def _as_text(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return "" if value is None else str(value)


def _withheld(text: str) -> Redaction:
    """Fail closed: every non-empty line is replaced, line breaks are kept."""
    body, withheld = _LINE_CONTENT.subn(placeholder(_WITHHELD), text)
    return Redaction(
        text=body,
        secrets_detected=withheld > 0,
        pii_detected=withheld > 0,
        counts={_WITHHELD: withheld} if withheld else {},
    )


def _redact(text: str, counts: dict[str, int]) -> str:
    engine = _engine()
    folded = _fold(text)
    if any(anchor.search(folded) for anchor in engine.text_anchors):
        before = text
        for rule in engine.text_rules:
            text = _apply(rule, text, counts)
        if text != before:
            folded = _fold(text)
    text = _redact_segments(text, engine, _candidates(folded, engine), counts)
    for rule in (*engine.passes, *engine.unanchored):
        text = _apply(rule, text, counts)
    return text


# --------------------------------------------------------------------------- rules

_Scope = Literal["text", "segment", "pass"]
# What a rule decides about one match: the kind and the [start, end) span of the text to
# replace (inside the match), or None to leave the match alone.
_Finding = tuple[str, int, int]
_Decide = Callable[[re.Match[str]], _Finding | None]


@dataclass(frozen=True, slots=True)
class _Anchor:
    """A cheap necessary condition for a rule: `prefix` followed by `rest` must occur in a
    line for the rule to possibly match there.

    Anchors are looked for in the *folded* view of the text: ASCII letters lower-cased,
    every ASCII digit shown as `0`, any other character as `?` (one byte per character, so
    positions match the text's). `prefix` is a literal, folded automatically; `rest` is a
    regex written in the folded alphabet (`0` for a digit, `[a-z0]` for alphanumerics)."""

    prefix: str
    rest: str = ""


@dataclass(frozen=True, slots=True)
class _Rule:
    """One detector. `caseless` rules have an all-lower-case pattern that is run over a
    lower-cased copy of the text (IGNORECASE would stop the regex engine from skipping
    ahead to plausible starts, which makes them several times slower).

    `scope` says where the rule runs: "text" rules (key blocks, which span lines) on the
    whole text, first, if their anchors occur anywhere; "segment" rules on the lines
    holding their anchors; "pass" rules on the whole text, last. A pass rule's regex starts
    with a literal (`.` of an IPv4 address, `@` of an email), so one run over 10 MB is
    cheaper than finding and visiting the thousands of lines an access log has them on."""

    name: str
    pattern: re.Pattern[str]
    decide: _Decide
    anchors: tuple[_Anchor, ...]
    caseless: bool = False
    scope: _Scope = "segment"


# Line breaks as str.splitlines() sees them. A replaced span never loses one.
_LINE_BREAKS: Final = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_LINE_BREAK_CLASS: Final = r"\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # inside [...]
_LINE_BREAK = re.compile(f"[{_LINE_BREAK_CLASS}]")
_LINE_CONTENT = re.compile(f"[^{_LINE_BREAK_CLASS}]+")


def _stand_in(kind: str, replaced: str) -> str:
    """The placeholder, keeping every line break of what it replaces: a multi-line private
    key leaves as many lines behind, empty but for its last non-empty one, which holds the
    placeholder. So the text keeps its line numbers, counted by "\\n" or by splitlines()."""
    if _LINE_BREAK.search(replaced) is None:
        return placeholder(kind)
    body = replaced.rstrip(_LINE_BREAKS)
    trailing = replaced[len(body) :]
    return "".join(_LINE_BREAK.findall(body)) + placeholder(kind) + trailing


# Escaped line breaks and tabs, as in log lines embedded in JSON strings.
_ESCAPE = re.compile(r"\\[nrt]")
_ESCAPE_BYTES = re.compile(rb"\\[nrt]")
# Percent-encoded quotes (%22, %27), as in a JSON document passed in a query string
# (`q=%7B%22token%22%3A%22ghp_...%22%7D`): without _unquote_percent the value is glued to
# "22". Only quotes: `%40`, `%2F`, `%20`... inside a password are part of the password.


def _subject(text: str, caseless: bool) -> str:
    """What a rule's regex runs over: `text` with escaped line breaks and tabs shown as two
    blanks, so that `\\n10.0.0.1` is an address after a line break and not a word,
    percent-encoded quotes shown as blanks and a quote (`%22` as `  "`), and lower-cased
    for caseless rules. Every character stays at its position (U+0130 is the only
    character whose lower case is longer), so spans found in it apply to `text`."""
    if "\\" in text:
        text = _ESCAPE.sub("  ", text)
    if "%22" in text or "%27" in text:  # not "%2": URL paths are full of %2F
        text = _unquote_percent(text)
    if not caseless:
        return text
    return text.replace("\u0130", "I").lower() if "\u0130" in text else text.lower()


def _unquote_percent(text: str) -> str:
    """`%22` -> `  "` and `%27` -> `  '`, in place."""
    return text.replace("%22", '  "').replace("%27", "  '")


def _apply(rule: _Rule, text: str, counts: dict[str, int]) -> str:
    """Run one rule over `text`, replacing what it decides to and counting by kind. The
    rule matches against _subject(text) and decides on what it sees there; what is kept
    and what is replaced always comes from `text` itself."""
    decide = rule.decide
    pieces: list[str] = []
    done = 0
    for match in rule.pattern.finditer(_subject(text, rule.caseless)):
        if rule.caseless and _inside_placeholder(text, match.start()):
            continue  # the key words of caseless rules occur in kinds: [REDACTED:BEARER_TOKEN]
        finding = decide(match)
        if finding is None:
            continue
        kind, start, end = finding
        start = max(start, done)  # a look-back may reach into the previous finding
        if start >= end or text.startswith(PLACEHOLDER_PREFIX, start):
            continue  # nothing left, or already redacted
        counts[kind] = counts.get(kind, 0) + 1
        pieces.append(text[done:start])
        pieces.append(_stand_in(kind, text[start:end]))
        done = end
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def _inside_placeholder(text: str, position: int) -> bool:
    opening = text.rfind(PLACEHOLDER_PREFIX, max(0, position - 64), position)
    return opening >= 0 and "]" not in text[opening:position]


def _whole(kind: str) -> _Decide:
    """Replace the whole match."""
    return lambda match: (kind, match.start(), match.end())


def _group(kind: str, group: int | str) -> _Decide:
    """Replace one capture group, keeping the context around it (key names, quotes...)."""

    def decide(match: re.Match[str]) -> _Finding | None:
        start, end = match.span(group)
        return None if start < 0 else (kind, start, end)

    return decide


def _count_digits(value: str) -> int:
    return sum(1 for char in value if "0" <= char <= "9")


# Word boundaries treat a placeholder's brackets as word characters: "<x>10.0.0.1" where a
# later rule turns <x> into "[REDACTED:X]" must be judged the same on a second run, or
# redaction would not be idempotent. Hence the "]" in lookbehinds and "[" in lookaheads.
def _continues_word(char: str) -> bool:
    return char.isalpha() or char == "]"


# --------------------------------------------------------------------------- private keys

_KEY_LABEL = r"[A-Z0-9 ]{0,40}?PRIVATE KEY(?: BLOCK)?"
# "-----BEGIN RSA PRIVATE KEY-----", and SSH2's "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----".
# Spelled with a literal "----" first so that the regex engine can skip to candidates.
_PEM_BEGIN = rf"----(?:-? ?)BEGIN {_KEY_LABEL} ?-{{4,5}}"
_PEM_END = rf"-{{4,5}} ?END {_KEY_LABEL} ?-{{4,5}}"
# A whole armored block, real newlines or JSON-escaped "\n" alike. The body never runs
# into another BEGIN and is bounded (the biggest PGP private key blocks are a few tens of
# KB): without both, every BEGIN lacking an END would rescan the rest of the text.
_PEM_BLOCK = re.compile(rf"{_PEM_BEGIN}(?:(?!-{{4,5}} ?BEGIN )[\s\S]){{0,65536}}?{_PEM_END}")
# What is left after whole blocks are gone is a key that was cut off (no END), or a PuTTY
# key file (no armor at all): the header line and every following line that is base64 or
# one of the key formats' own header lines.
_KEY_CONTINUATION = (
    r"(?:\n(?:[A-Za-z0-9+/=]{4,}"
    r"|(?:Proc-Type|DEK-Info|Comment|Encryption|Public-Lines|Private-Lines|Private-MAC"
    r"|Private-Hash|Key-Derivation|Argon2-[A-Za-z]+): [^\n]*"
    r"|)[ \t\r]*(?=\n|\Z))*"
)
# "PRIVATE KEY-----", not the words: "failed to load private key" must not cost a rescan.
_PRIVATE_KEY_ANCHORS: Final = (
    _Anchor("PRIVATE KEY", "(?: block)? ?-{4}"),
    _Anchor("PuTTY-User-Key-File-"),
)
_PRIVATE_KEY_RULES: Final = tuple(
    _Rule(name, re.compile(pattern), _whole("PRIVATE_KEY"), _PRIVATE_KEY_ANCHORS, scope="text")
    for name, pattern in (
        ("private_key_block", _PEM_BLOCK.pattern),
        ("private_key_unterminated", rf"{_PEM_BEGIN}[^\n]*{_KEY_CONTINUATION}"),
        ("putty_private_key", rf"PuTTY-User-Key-File-[0-9]+:[^\n]*{_KEY_CONTINUATION}"),
    )
)


# --------------------------------------------------------------------------- tokens and keys

# JWS (header.payload.signature, the signature possibly empty for alg=none) and JWE (five
# parts). detect-secrets' JwtTokenDetector stops before the signature, hence our own.
_JWT = _Rule(
    "jwt",
    re.compile(
        r"eyJ(?<![A-Za-z0-9_\]-]eyJ)[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"
        r"(?:\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)?"
    ),
    _whole("JWT"),
    (_Anchor("eyJ", "[a-z0_-]{4}"),),
)

# Values that say "there is nothing here" are kept: redacting them would hide a finding
# ("the password was empty") and protect nothing. Matched against lower-cased text.
_NOT_A_SECRET = re.compile(
    r"null|none|nil|true|false|undefined|empty|\*+|x{3,}|<[^>]*>|\$\{[^}]*\}|\$[a-z_][a-z0-9_]*"
    r"|%s|\{\{[^}]*\}\}|\[?(?:redacted|filtered|masked|hidden)\]?"
)

_AUTH_SCHEMES: Final = {"bearer": "BEARER_TOKEN", "basic": "BASIC_AUTH"}
# `Authorization: <scheme> <credentials>` in headers, curl -H arguments and JSON. Bearer,
# Basic and Token carry one token; any other scheme (Digest, AWS4-HMAC-SHA256...) has
# parameters, so the rest of the value goes: up to the quote that opened it, if one did
# (JSON, curl -H '...'), else to the end of the line (or an escaped line break, which
# _subject shows as two blanks).
_AUTH_HEADER = re.compile(
    r"authorization(?<![a-z0-9\]]authorization)[\"'\]]{0,2}[ \t]*[:=][ \t]*(?P<q>[\"'])?[ \t]*"
    r"(?:(?P<scheme>bearer|basic|token)[ \t]+(?P<token>[^\s\"',;]+)"
    r"|(?!(?:bearer|basic|token)\b)(?=\S)"
    rf"(?P<other>(?(q)(?:\\.|(?!(?P=q))[^\\{_LINE_BREAK_CLASS}])+"
    rf"|(?:[^ {_LINE_BREAK_CLASS}]| (?! ))+)))"
)


def _decide_auth_header(match: re.Match[str]) -> _Finding | None:
    if match.group("scheme"):
        if _NOT_A_SECRET.fullmatch(match.group("token")):
            return None
        return (_AUTH_SCHEMES.get(match.group("scheme"), "AUTHORIZATION"), *match.span("token"))
    start, end = match.span("other")
    while end > start and match.string[end - 1] in " \t":
        end -= 1
    if _NOT_A_SECRET.fullmatch(match.string[start:end]):
        return None
    return ("AUTHORIZATION", start, end)


_AUTH_RULE = _Rule(
    "authorization_header",
    _AUTH_HEADER,
    _decide_auth_header,
    (_Anchor("authorization", r"[\"'\]]{0,2}[ \t]*[:=]"),),
    caseless=True,
)

# A bearer token outside an Authorization header ("using Bearer abc123..."). Words are not
# tokens: require a digit or a length no word has, so "Bearer undefined" stays readable.
_BEARER = re.compile(r"bearer(?<![a-z0-9\]]bearer)[ \t]+(?P<token>[a-z0-9._~+/-]{8,}=*)")


def _decide_bearer(match: re.Match[str]) -> _Finding | None:
    token = match.group("token")
    if len(token) < 20 and _count_digits(token) == 0:
        return None
    return ("BEARER_TOKEN", *match.span("token"))


_BEARER_RULE = _Rule(
    "bearer_token",
    _BEARER,
    _decide_bearer,
    (_Anchor("bearer", r"[ \t]+[a-z0._~+/-]{8}"),),
    caseless=True,
)

# scheme://user:password@host -> scheme://user:[REDACTED:URL_CREDENTIALS]@host. The password
# runs to the last "@" of the authority, so a password containing "@" goes whole; an empty
# user (redis://:password@host) is allowed.
_URL_CREDENTIALS = _Rule(
    "url_credentials",
    re.compile(r"://(?P<user>[^\s:/?#@\"'<>]*):(?P<password>[^\s/?#\"'<>]+)@(?=[^\s@/?#\"'<>])"),
    _group("URL_CREDENTIALS", "password"),
    (_Anchor(":", r"//[^\s/?#@]*:[^\s/?#]+@"),),
)

# The key separators keyed rules accept: `key=v`, `key: v`, `"key": "v"`, `key => v`,
# `key := v`, and quoted-key and subscript (`['key'] = v`) forms.
_KEY_CLOSE = r"[\"'\]]{0,2}"
_SEPARATOR = rf"{_KEY_CLOSE}[ \t]*(?::=|=>|::|[:=])[ \t]*"


def _keyed_anchor_rest(value: str) -> str:
    """An anchor rest for `<keyword>[suffix] <separator> <value>` (folded alphabet), with
    detect-secrets' separators, which also allow blanks alone."""
    return rf"[a-z?]{{0,6}}{_KEY_CLOSE} *(?::=|=>|::|[:=]| +) *[\"']?{value}"


# AWS secret access keys are 40 base64 characters without a recognizable prefix, so their
# context is what identifies them: a key name (aws_secret_access_key, AWS_SECRET_KEY,
# SecretAccessKey...), or the access key id they are paired with ("AKIA...:<secret>", as in
# credential CSV exports and "id:secret" strings).
_AWS_KEY_ID = r"(?:a3t[a-z0-9]|abia|acca|akia|asia)[a-z0-9]{16}"
_AWS_SECRET = _Rule(
    "aws_secret_access_key",
    re.compile(
        rf"(?:secret[_-]?(?:access[_-]?)?key(?:[_-]?id)?{_SEPARATOR}"
        rf"|{_AWS_KEY_ID}[ \t,:;|=]{{1,3}})"
        r"[\"']?(?P<value>[a-z0-9/+]{40})(?![a-z0-9/+=])"
    ),
    _group("AWS_SECRET_KEY", "value"),
    (
        _Anchor("secret", rf"[a-z_-]{{0,20}}{_SEPARATOR}[\"']?[a-z0/+]{{40}}"),
        _Anchor("A", r"(?:0t[a-z0]|bia|cca|kia|sia)[a-z0]{16}[ \t,:;|=]{1,3}[\"']?[a-z0/+]{40}"),
    ),
    caseless=True,
)

_KEYED_VALUE = (
    rf"(?:\"(?P<dq>(?:[^\"\\{_LINE_BREAK_CLASS}]|\\.)*)\""
    rf"|'(?P<sq>(?:[^'\\{_LINE_BREAK_CLASS}]|\\.)*)'"
    r"|(?P<bare>[^\s\"',;&<>]+))"
)
# Keys whose value is a secret, beyond detect-secrets' KeywordDetector denylist (merged in
# at build time; "_?" there means an optional separator). A key must END with one of
# these: `password_hash=` and `max_tokens=` are not secrets.
_EXTRA_KEY_WORDS: Final = (
    "pass",  # only at the start of the key or after a separator: not "bypass"
    "passphrase",
    "token",
    "credential",
    "credentials",
    "access_?key",
    "secret_?key",
    "signing_?key",
    "encryption_?key",
    "master_?key",
)
_PASSWORD_HINTS: Final = ("pass", "pwd", "contrase")


def _alternation(words: Iterable[str]) -> str:
    """`a(?:pi_key|ccess_key)|p(?:assword|wd)...`: every branch led by a literal letter, so
    the regex engine only tries positions holding one of those letters."""
    by_first: dict[str, list[str]] = {}
    for word in sorted(set(words), key=len, reverse=True):
        by_first.setdefault(word[0], []).append(word[1:])
    return "|".join(f"{first}(?:{'|'.join(rests)})" for first, rests in sorted(by_first.items()))


def _key_word_anchor(word: str) -> _Anchor:
    """The anchor for one key word: the word itself, then a separator. Exact, because keys
    are everywhere in logs (`cache key=`, `api: 200`) and few of them hold secrets."""
    prefix = re.sub("[^a-z].*", "", word, flags=re.DOTALL)  # the leading letters
    rest = "".join("." if ord(char) > 127 else char for char in word[len(prefix) :])
    return _Anchor(prefix, rf"{rest}{_KEY_CLOSE}[ \t]*[:=>]")


def _keyword_rules(denylist: Iterable[str]) -> tuple[_Rule, _Rule]:
    """`password=...` and friends, and `--password ...` on command lines."""
    words = sorted({word.replace("_?", "[_-]?") for word in (*denylist, *_EXTRA_KEY_WORDS)})
    key = rf"(?P<key>{_alternation(words)})(?![a-z0-9_.-])"
    assignment = re.compile(
        rf"{key}(?:{_SEPARATOR}{_KEYED_VALUE}|{_KEY_CLOSE}>(?P<xml>[^<{_LINE_BREAK_CLASS}]+)</)"
    )
    command_line = re.compile(rf"-(?<![\w\]-]-)-?(?:[a-z0-9]+[_-])*?{key}[ \t]+(?!-){_KEYED_VALUE}")
    anchors = tuple(_key_word_anchor(word) for word in words)
    cli_anchor = _Anchor("--", r"[a-z0_-]{0,40}?(?:pass|pwd|secret|token|key|cred)")
    return (
        _Rule("keyword_assignment", assignment, _decide_keyword, anchors, caseless=True),
        _Rule("keyword_command_line", command_line, _decide_keyword, (cli_anchor,), True),
    )


def _decide_keyword(match: re.Match[str]) -> _Finding | None:
    key = match.group("key")
    key_start = match.start("key")
    if key == "pass" and key_start > 0 and _continues_word(match.string[key_start - 1]):
        return None  # "bypass", "compass"
    group = next((name for name in ("dq", "sq", "bare") if match.group(name) is not None), None)
    if group is None:
        group = "xml" if "xml" in match.re.groupindex and match.group("xml") else None
    if group is None:
        return None
    start, end = match.span(group)
    while end > start and match.string[end - 1] in " \t":
        end -= 1
    value = match.string[start:end].strip()
    if not value or _NOT_A_SECRET.fullmatch(value):
        return None
    kind = "PASSWORD" if any(hint in key for hint in _PASSWORD_HINTS) else "SECRET_KEYWORD"
    return (kind, start, end)


# --------------------------------------------------------------------------- personal data

# From the "@": the domain by regex, then the local part by walking back over its
# characters (a regex would have to try every word start of the text as a local part).
_EMAIL_DOMAIN = re.compile(r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,63}(?![A-Za-z0-9-])")
_LOCAL_PART_SYMBOLS: Final = frozenset("._%+-")


def _decide_email(match: re.Match[str]) -> _Finding | None:
    text, start = match.string, match.start()
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] in _LOCAL_PART_SYMBOLS):
        start -= 1
    return None if start == match.start() else ("EMAIL", start, match.end())


_EMAIL = _Rule("email", _EMAIL_DOMAIN, _decide_email, (), scope="pass")

# From the first dot: ".b.c.d" by regex, not followed by a letter, digit or ".x" (a 4-part
# version like 2.13.4.2.jar; a trailing full stop is fine), then the first octet by looking
# back at the digits before the dot, which must not follow a letter, digit or dot
# (v1.2.3.4, 10.1.2.3.4).
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4_TAIL = re.compile(rf"\.{_OCTET}\.{_OCTET}\.{_OCTET}(?![A-Za-z0-9]|\.[A-Za-z0-9])")
_DIGITS: Final = "0123456789"
_NOT_BEFORE_IPV4: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789."
)
_VERSION_WORDS: Final = ("version", "ver", "release", "build", "rev")
_VERSION_SEPARATORS: Final = " \t\"'=:"


def _decide_ipv4(match: re.Match[str]) -> _Finding | None:
    text, dot, end = match.string, match.start(), match.end()
    before = text[max(0, dot - 4) : dot]
    width = len(before) - len(before.rstrip(_DIGITS))  # 4: a digit run too long to be one
    start = dot - width
    if not 0 < width < 4 or (start > 0 and text[start - 1] in _NOT_BEFORE_IPV4):
        return None
    if (width > 1 and text[start] == "0") or int(text[start:dot]) > 255:
        return None
    if text.startswith(("0.0.0.0", "127.", "255."), start):  # noqa: S104 - kept
        return None
    if start and text[start - 1] in _VERSION_SEPARATORS:  # "version 1.2.3.4", "build=1.0.0.1"
        before = text[max(0, start - 12) : start].rstrip(_VERSION_SEPARATORS).lower()
        if before.endswith(_VERSION_WORDS):
            return None
    return ("IP", start, end)


_IPV4_RULE = _Rule("ipv4", _IPV4_TAIL, _decide_ipv4, (), scope="pass")

_HEX = "[0-9A-Fa-f]"
# A loose IPv6 shape, validated by `ipaddress`. Only lines holding "::<hex>" or a run of
# five colon-separated groups get here, so clock times (10:23:45) rarely reach the check.
_IPV6 = re.compile(
    # Not inside a word, a longer address or a version, but "addr:2001:db8::1" (a key
    # and a colon before it) is an address too.
    rf"(?:(?<![A-Za-z0-9:.\]])|(?<=[A-Za-z_]:))(?P<address>(?:{_HEX}{{0,4}}:){{2,7}}"
    rf"(?:[0-9]{{1,3}}(?:\.[0-9]{{1,3}}){{3}}|{_HEX}{{1,4}})?)"
    r"(?:%[A-Za-z0-9_.-]+)?(?![A-Za-z0-9:\[]|\.[0-9])"
)


def _decide_ipv6(match: re.Match[str]) -> _Finding | None:
    if not _identifying_ipv6(match.group("address")):
        return None
    return ("IP", *match.span("address"))


@lru_cache(maxsize=4096)  # logs repeat the same few addresses; parsing one costs ~2 us
def _identifying_ipv6(address: str) -> bool:
    # "a::b" is a valid address but far more often a C++/Rust path; real ones have digits.
    if _count_digits(address) == 0:
        return False
    try:
        parsed = ipaddress.IPv6Address(address)
    except ValueError:
        return False
    return not (parsed.is_loopback or parsed.is_unspecified)


_IPV6_RULE = _Rule(
    "ipv6",
    _IPV6,
    _decide_ipv6,
    (
        _Anchor(":", ":[0a-f]{0,4}(?![a-z0_])"),  # not "crate::module", "Foo::bar"
        _Anchor(":", "[0a-f]{1,4}:[0a-f]{1,4}:[0a-f]{1,4}:[0a-f]{1,4}:"),
    ),
)

# 13-19 digits, contiguous or in the printed groupings (4-4-4-4[-3], 4-6-5, 4-6-4), then
# the Luhn check. Issuer ranges start with 2-6; that alone keeps epoch timestamps in ms,
# us and ns (all starting with 1) out.
_CARD = re.compile(
    r"(?<![\w.+\]-])(?:[0-9]{13,19}"
    r"|[0-9]{4}(?P<s>[ -])[0-9]{4}(?P=s)[0-9]{4}(?P=s)[0-9]{1,4}(?:(?P=s)[0-9]{1,3})?"
    r"|[0-9]{4}(?P<a>[ -])[0-9]{6}(?P=a)[0-9]{4,5})"
    r"(?![\w\[-]|\.[0-9])"
)
# A bare digit run assigned to one of these keys (`trace_id=`, `"offset": `, `order #`) is an
# identifier, even if Luhn-valid. Assigned, not merely preceded: in "request 4111..." or
# "order 4111..." the word is prose and the number may well be a card.
_ID_CONTEXT = re.compile(
    r"(?i)(?:id|ids|trace|span|seq|sequence|offset|ts|time|timestamp|epoch|nonce|order"
    r"|invoice|txn|transaction|request|req|ref|build|version)"
    r"[\"'\s]{0,2}[:=#_-][\"'\s]{0,2}$"
)


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _decide_card(match: re.Match[str]) -> _Finding | None:
    candidate = match.group(0)
    digits = candidate.replace(" ", "").replace("-", "")
    if not 13 <= len(digits) <= 19 or digits[0] not in "23456" or not _luhn_valid(digits):
        return None
    # An ungrouped run is an id when its key says so ("trace_id=...").
    ungrouped = digits == candidate
    if ungrouped and _ID_CONTEXT.search(match.string, max(0, match.start() - 24), match.start()):
        return None
    return ("CARD", match.start(), match.end())


_CARD_RULE = _Rule(
    "payment_card",
    _CARD,
    _decide_card,
    (_Anchor("0000", "0{9}|[ -]000(?:0[ -]0000|000[ -]0000)"),),
)

# International numbers: "+", country code, then digit groups split by one separator or a
# parenthesized group. A mandatory separator between groups keeps the match linear.
_PHONE_INTERNATIONAL = re.compile(
    r"\+(?<![\w+\]]\+)[1-9][0-9]*(?:(?:[ .-]\(?|\()[0-9]+\)?)*(?![0-9A-Za-z\[])"
)


def _decide_international_phone(match: re.Match[str]) -> _Finding | None:
    start, end = match.span()
    if match.string[end - 1] == ")" and "(" not in match.string[start : end - 1]:
        end -= 1  # "(call +1 415 555 2671)": the parenthesis belongs to the sentence
    if not 8 <= _count_digits(match.string[start:end]) <= 15:
        return None
    return ("PHONE", start, end)


# North American numbers (NANP: area code and exchange start with 2-9) with separators:
# 415-555-2671, 415.555.2671, (415) 555-2671, 1-800-555-0199. Undelimited 10-digit runs are
# left alone: too many ids look like that.
_PHONE_NANP = re.compile(
    r"(?<![\w+.\]-])(?:1[ .-])?"
    r"(?:[2-9][0-9]{2}-[2-9][0-9]{2}-[0-9]{4}"
    r"|[2-9][0-9]{2}\.[2-9][0-9]{2}\.[0-9]{4}"
    r"|\([2-9][0-9]{2}\)[ .-]?[2-9][0-9]{2}[ .-][0-9]{4})"
    r"(?![\w\[-]|\.[0-9])"
)

_PHONE_RULES: Final = (
    _Rule(
        "phone_international",
        _PHONE_INTERNATIONAL,
        _decide_international_phone,
        (_Anchor("+", "0[0 ().-]{6}"),),  # 8+ digits: never a "+0000" time zone
    ),
    _Rule(
        "phone_nanp",
        _PHONE_NANP,
        _whole("PHONE"),
        (
            _Anchor("-", "000-0000"),
            _Anchor(".", r"000\.0000"),
            _Anchor("(", r"000\)[ .-]?000[ .-]0000"),
        ),
    ),
)


# --------------------------------------------------------------------------- detect-secrets


@dataclass(frozen=True, slots=True)
class _PluginSpec:
    """How to use one detect-secrets plugin's denylist here.

    `value_group`: the secret is capture group 1 of the plugin's regexes that have one
    (keyed formats like `cloudant_password=<secret>`), else the whole match.
    `grouped_kind`: the kind for those grouped regexes when it differs.
    `hint`: must occur in the match (case-insensitively) or the match is left to the
    generic keyword rule: IBM's regex also matches a bare `api_key = <44 chars>`, and
    calling that an IBM key would mislead.
    `trim`: strip the delimiters some regexes include around the token.
    `keep_prefix`: a literal leading part of the match that is not secret.
    `rewrite`: (old, new) replacements in the plugin's regex source. The Artifactory
    regexes accept a token only between blanks, `=`, `:` or double quotes, so one in single
    quotes, brackets, a URL query or a sentence went through whole: their delimiters
    become "no word character or dash on either side" (so `AP...` inside a longer token,
    a PyPI one, is not cut out of it), whatever the character is.
    """

    kind: str
    anchors: tuple[_Anchor, ...]
    value_group: bool = False
    grouped_kind: str | None = None
    hint: str | None = None
    trim: bool = False
    keep_prefix: str = ""
    rewrite: tuple[tuple[str, str], ...] = ()


def _keyed(words: Iterable[str], value: str) -> tuple[_Anchor, ...]:
    """Anchors for detect-secrets' keyed regexes (IBM, Cloudant, SoftLayer): the key's last
    word, a separator, and a value of the plugin's shape. The value shape matters: without
    it, every `token=` line would pay for these slow case-insensitive regexes."""
    return tuple(_Anchor(word, _keyed_anchor_rest(value)) for word in words)


_PLUGIN_SPECS: Final[Mapping[str, _PluginSpec]] = {
    "AWSKeyDetector": _PluginSpec(
        "AWS_ACCESS_KEY",
        (
            _Anchor("A", "(?:0t[a-z0]|bia|cca|kia|sia)[a-z0]{16}"),
            _Anchor("aws", r".{0,20}?(?:key|pw|pass|token).{0,20}?[\"'][a-z0/+]{40}[\"']"),
        ),
        value_group=True,
        grouped_kind="AWS_SECRET_KEY",
    ),
    "ArtifactoryDetector": _PluginSpec(
        "ARTIFACTORY_TOKEN",
        (_Anchor("A", r"(?<![a-z0_-]a)(?:kc[a-z0]{10}|p[0a-f][a-z0]{8})"),),
        hint="[0-9]",  # "APACHEHTTPD" has the shape of an Artifactory password
        trim=True,
        rewrite=(
            (r'(?:\s|=|:|"|^)', r"(?<![\w-])"),
            (r'(?:\s|"|$)', r"(?![\w-])"),
        ),
    ),
    "AzureStorageKeyDetector": _PluginSpec(
        "AZURE_STORAGE_KEY", (_Anchor("AccountKey="),), keep_prefix="AccountKey="
    ),
    "CloudantDetector": _PluginSpec(
        "CLOUDANT_CREDENTIALS",
        (
            *_keyed(("key", "pw", "pass", "token"), "(?:[0a-f]{64}|[a-z]{24})"),
            _Anchor(":", "//[a-z0_-]+:[a-z0]{24}"),
        ),
        value_group=True,
    ),
    "DiscordBotTokenDetector": _PluginSpec(
        "DISCORD_BOT_TOKEN", (_Anchor(".", r"[a-z0_-]{6}\.[a-z0_-]{27}"),)
    ),
    "GitHubTokenDetector": _PluginSpec("GITHUB_TOKEN", (_Anchor("gh", "[pousr]_"),)),
    "GitLabTokenDetector": _PluginSpec(
        "GITLAB_TOKEN",
        (
            _Anchor("gl", "(?:pat|dt|ft|soat|rt|cbt|imt|ptt|agent|oas)-"),
            _Anchor("GR1348941"),
        ),
    ),
    "IbmCloudIamDetector": _PluginSpec(
        "IBM_CLOUD_IAM_KEY",
        _keyed(("key", "pwd", "pass", "token"), "[a-z0_-]{44}"),
        value_group=True,
        hint="ibm|iam|cloud",
    ),
    "IbmCosHmacDetector": _PluginSpec(
        "IBM_COS_HMAC_KEY", _keyed(("key",), "[0a-f]{48}"), value_group=True, hint="ibm|cos"
    ),
    "MailchimpDetector": _PluginSpec("MAILCHIMP_KEY", (_Anchor("-us", "0"),)),
    "NpmDetector": _PluginSpec("NPM_TOKEN", (_Anchor("_authToken="),), value_group=True),
    "OpenAIDetector": _PluginSpec("OPENAI_KEY", (_Anchor("T3BlbkFJ"),)),
    "PypiTokenDetector": _PluginSpec("PYPI_TOKEN", (_Anchor("pypi-AgE"),)),
    "SendGridDetector": _PluginSpec("SENDGRID_KEY", (_Anchor("SG.", r"[a-z0_-]{22}\."),)),
    "SlackDetector": _PluginSpec(
        "SLACK_TOKEN", (_Anchor("xox", "[aboprs]-"), _Anchor("hooks.slack.com/services/"))
    ),
    "SoftlayerDetector": _PluginSpec(
        "SOFTLAYER_CREDENTIALS",
        (
            *_keyed(("key", "pwd", "pass", "token"), "[a-z0]{64}"),
            _Anchor(":", "//api.softlayer.com/soap/"),
        ),
        value_group=True,
    ),
    "SquareOAuthDetector": _PluginSpec("SQUARE_OAUTH_SECRET", (_Anchor("sq0csp-"),)),
    "StripeDetector": _PluginSpec("STRIPE_KEY", (_Anchor("k_live_"),)),
    "TelegramBotTokenDetector": _PluginSpec(
        "TELEGRAM_BOT_TOKEN", (_Anchor(":", "(?<=00000000:)[a-z0_-]{35}"),)
    ),
    "TwilioKeyDetector": _PluginSpec(
        "TWILIO_KEY", (_Anchor("A", "c[a-z0]{32}"), _Anchor("SK", "[a-z0]{32}"))
    ),
}

# Plugins covered by a rule of our own (or deliberately not used), and why.
EXCLUDED_PLUGINS: Final[Mapping[str, str]] = {
    "BasicAuthDetector": "URL credentials rule keeps scheme, user and host",
    "JwtTokenDetector": "its regex stops before the signature; own JWT rule",
    "KeywordDetector": "per-file-type machinery; own keyword rule reuses its DENYLIST",
    "PrivateKeyDetector": "matches the BEGIN line only; own rule removes the whole block",
    "IPPublicDetector": "IPs are PII here, private ranges included; own IPv4/IPv6 rules",
    "Base64HighEntropyString": "trace ids, SHAs and request ids are high-entropy too",
    "HexHighEntropyString": "trace ids, SHAs and request ids are high-entropy too",
}


def _kind_from_secret_type(secret_type: str) -> str:
    """A placeholder kind for a plugin we have no spec for: 'Foo Bar Key' -> FOO_BAR_KEY."""
    return re.sub(r"[^A-Za-z0-9]+", "_", secret_type).strip("_").upper() or "SECRET"


def _plugin_decide(spec: _PluginSpec, pattern: re.Pattern[str]) -> _Decide:
    grouped = spec.value_group and pattern.groups >= 1
    kind = (spec.grouped_kind or spec.kind) if grouped else spec.kind
    hint = re.compile(spec.hint, re.IGNORECASE) if spec.hint else None

    def decide(match: re.Match[str]) -> _Finding | None:
        if hint is not None and hint.search(match.group(0)) is None:
            return None
        if grouped:
            start, end = match.span(1)
            return None if start < 0 else (kind, start, end)
        start, end = match.span()
        if spec.keep_prefix and match.group(0).startswith(spec.keep_prefix):
            start += len(spec.keep_prefix)
        if spec.trim:
            while start < end and match.string[start] in " \t\r\"'=:":
                start += 1
            while end > start and match.string[end - 1] in " \t\r\"'":
                end -= 1
        return (kind, start, end)

    return decide


def _plugin_rules(plugins: Mapping[str, Any]) -> tuple[list[_Rule], list[_Rule]]:
    """Rules from detect-secrets' plugin classes (secret_type -> class): anchored ones for
    the plugins in _PLUGIN_SPECS and, for any plugin a newer detect-secrets adds, unanchored
    ones that run over the whole text (slower, but nothing is silently missed)."""
    anchored: list[_Rule] = []
    unanchored: list[_Rule] = []
    for secret_type, plugin_class in plugins.items():
        name = plugin_class.__name__
        if name in EXCLUDED_PLUGINS:
            continue
        spec = _PLUGIN_SPECS.get(name)
        patterns: Iterable[re.Pattern[str]] = getattr(plugin_class(), "denylist", ())
        for pattern in patterns:
            if spec is not None and spec.rewrite:
                pattern = _rewritten(pattern, spec.rewrite)
            if spec is None:
                kind = _kind_from_secret_type(secret_type)
                unanchored.append(_Rule(name, pattern, _whole(kind), ()))
            else:
                anchored.append(_Rule(name, pattern, _plugin_decide(spec, pattern), spec.anchors))
    return anchored, unanchored


def _rewritten(pattern: re.Pattern[str], rewrite: tuple[tuple[str, str], ...]) -> re.Pattern[str]:
    """The plugin's regex with `rewrite` applied; a replacement that no longer applies (a
    newer detect-secrets changed the regex) fails the build of the rule set loudly rather
    than silently keeping the narrower regex."""
    source = pattern.pattern
    for old, new in rewrite:
        if old not in source:
            raise ValueError(f"detect-secrets regex changed; cannot rewrite {old!r}")
        source = source.replace(old, new)
    return re.compile(source, pattern.flags)


def _detect_secrets() -> tuple[Mapping[str, Any], tuple[str, ...]]:
    """detect-secrets' plugin classes and its KeywordDetector denylist.

    Imported here, on first use, rather than at module import: it costs ~0.1 s (it pulls in
    `requests`), which a Lambda cold start that never redacts should not pay. Through
    importlib because the package ships no type information."""
    util = importlib.import_module("detect_secrets.core.plugins.util")
    keyword = importlib.import_module("detect_secrets.plugins.keyword")
    plugins: Mapping[str, Any] = util.get_mapping_from_secret_type_to_class()
    denylist: tuple[str, ...] = tuple(keyword.DENYLIST)
    return plugins, denylist


# --------------------------------------------------------------------------- engine


@dataclass(frozen=True, slots=True)
class _AnchorGroup:
    """All anchors whose prefixes start with the same character, found in one pass.

    The regex is `lcp(?=alt1|alt2...)(?:(?=(alt1))?)(?:(?=(alt2))?)...` where `lcp` is the
    longest literal prefix the anchors share. The regex engine looks for `lcp` at C speed
    and the first lookahead rejects most occurrences; the optional captures then tell which
    alternatives hold there (all of them, not just the first), so each hit maps straight
    to its rules. One pass over 10 MB costs a few milliseconds whatever the number of
    alternatives, which is why anchors are grouped rather than searched one by one.

    After a hit, the rest of its segment is only searched for the alternatives not seen
    there (`alternatives`, one regex each), then the scan jumps to the next segment: a line
    full of hits costs one step, not one per hit."""

    regex: re.Pattern[bytes]
    alternatives: tuple[re.Pattern[bytes], ...]
    rules_by_alternative: tuple[frozenset[int], ...]


@dataclass(frozen=True, slots=True)
class _Engine:
    """The rules in order of precedence, split by scope (see _Rule)."""

    text_rules: tuple[_Rule, ...]
    text_anchors: tuple[re.Pattern[bytes], ...]
    rules: tuple[_Rule, ...]  # the segment rules; anchor groups refer to them by index
    groups: tuple[_AnchorGroup, ...]
    passes: tuple[_Rule, ...]
    unanchored: tuple[_Rule, ...]


@cache
def _engine() -> _Engine:
    """Build the rule set once, on first use (see _detect_secrets)."""
    plugins, denylist = _detect_secrets()
    anchored_plugins, unanchored = _plugin_rules(plugins)
    rules = (
        *_PRIVATE_KEY_RULES,
        _JWT,
        _AWS_SECRET,  # before the plugins: an AKIA... run inside a secret key is no key id
        *anchored_plugins,
        _AUTH_RULE,
        _BEARER_RULE,
        _URL_CREDENTIALS,  # before emails: "user:pw@host.com" holds no email address
        *_keyword_rules(denylist),
        _IPV6_RULE,  # before IPv4: ::ffff:10.0.0.1 is one address
        _CARD_RULE,  # before phones: a grouped card number is never a phone number
        *_PHONE_RULES,
        _EMAIL,
        _IPV4_RULE,
    )
    text_rules = tuple(rule for rule in rules if rule.scope == "text")
    segment_rules = tuple(rule for rule in rules if rule.scope == "segment")
    text_anchors = tuple(
        re.compile(_fold(anchor.prefix) + anchor.rest.encode("ascii"))
        for anchor in dict.fromkeys(a for rule in text_rules for a in rule.anchors)
    )
    return _Engine(
        text_rules=text_rules,
        text_anchors=text_anchors,
        rules=segment_rules,
        groups=_anchor_groups(segment_rules),
        passes=tuple(rule for rule in rules if rule.scope == "pass"),
        unanchored=tuple(unanchored),
    )


_FOLD: Final = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ123456789", b"abcdefghijklmnopqrstuvwxyz000000000"
)


def _fold(text: str) -> bytes:
    """The folded view anchors are looked for in (see _Anchor), escaped line breaks and
    percent-encoded quotes shown as in _subject."""
    data = text.encode("ascii", "replace")
    if b"\\" in data:
        data = _ESCAPE_BYTES.sub(b"  ", data)
    if b"%22" in data or b"%27" in data:
        data = data.replace(b"%22", b'  "').replace(b"%27", b"  '")
    return data.translate(_FOLD)


def _anchor_groups(rules: tuple[_Rule, ...]) -> tuple[_AnchorGroup, ...]:
    # first character -> folded prefix -> rest -> rule ids
    by_first: dict[str, dict[str, dict[str, set[int]]]] = {}
    for index, rule in enumerate(rules):
        for anchor in rule.anchors:
            prefix = _fold(anchor.prefix).decode("ascii")
            rests = by_first.setdefault(prefix[0], {}).setdefault(prefix, {})
            rests.setdefault(anchor.rest, set()).add(index)
    groups = []
    for prefixes in by_first.values():
        shared = _common_prefix(list(prefixes))
        alternatives: list[str] = []
        rule_sets: list[frozenset[int]] = []
        for prefix, rests in prefixes.items():
            for rest, rule_ids in rests.items():
                alternatives.append(f"{re.escape(prefix[len(shared) :])}(?:{rest})")
                rule_sets.append(frozenset(rule_ids))
        lead = re.escape(shared)
        which = "".join(f"(?:(?=({alternative}))?)" for alternative in alternatives)
        regex = re.compile(f"{lead}(?={'|'.join(alternatives)}){which}".encode("ascii"))
        if regex.groups != len(alternatives):
            raise ValueError(f"anchor rests must not capture: {shared!r}")
        singles = tuple(re.compile(f"{lead}{alt}".encode("ascii")) for alt in alternatives)
        groups.append(_AnchorGroup(regex, singles, tuple(rule_sets)))
    return tuple(groups)


def _common_prefix(words: list[str]) -> str:
    shortest = min(words, key=len)
    for length, char in enumerate(shortest):
        if any(word[length] != char for word in words):
            return shortest[:length]
    return shortest


_BLANK: Final = re.compile(rb"[ \t]")


class _Segmenter:
    """Maps a position to its segment: its line, or for a line longer than _MAX_SEGMENT,
    the slice of it holding the position. Slices are a pure function of the line, so every
    position in one gets the same [start, end)."""

    def __init__(self, folded: bytes) -> None:
        self._text = folded
        self._line = (0, 0)

    def segment(self, position: int) -> tuple[int, int]:
        start, end = self._line
        if not start <= position < end:
            start = self._text.rfind(b"\n", 0, position) + 1
            end = self._text.find(b"\n", position)
            end = len(self._text) if end < 0 else end
            self._line = (start, end)
        if end - start <= _MAX_SEGMENT:
            return start, end
        index = (position - start) // _MAX_SEGMENT
        low = self._cut(start + index * _MAX_SEGMENT, start, end)
        if position < low:
            index -= 1
            low = self._cut(start + index * _MAX_SEGMENT, start, end)
        return low, self._cut(start + (index + 1) * _MAX_SEGMENT, start, end)

    def _cut(self, nominal: int, start: int, end: int) -> int:
        if nominal <= start or nominal >= end:
            return min(max(nominal, start), end)
        blank = _BLANK.search(self._text, nominal, min(nominal + _CUT_SLACK, end))
        return nominal if blank is None else blank.start()


_Segments = dict[int, tuple[int, set[int]]]


def _candidates(folded: bytes, engine: _Engine) -> _Segments:
    """Where the anchors are: segment start -> (segment end, ids of the rules anchored in
    it). `folded` is _fold(text)."""
    segmenter = _Segmenter(folded)
    segments: _Segments = {}
    for group in engine.groups:
        position = 0
        while (hit := group.regex.search(folded, position)) is not None:
            start, end = segmenter.segment(hit.start())
            entry = segments.get(start)
            if entry is None:
                entry = segments[start] = (end, set())
            for index, captured in enumerate(hit.groups()):
                if captured is None and (
                    group.alternatives[index].search(folded, hit.start() + 1, end) is None
                ):
                    continue
                entry[1].update(group.rules_by_alternative[index])
            position = max(end, hit.start() + 1)
    return segments


def _redact_segments(
    text: str, engine: _Engine, segments: _Segments, counts: dict[str, int]
) -> str:
    """Run, on each candidate segment, the rules anchored in it, in rule order."""
    pieces: list[str] = []
    done = 0
    for start in sorted(segments):
        end, rule_ids = segments[start]
        segment = text[start:end]
        for rule_id in sorted(rule_ids):
            segment = _apply(engine.rules[rule_id], segment, counts)
        pieces += (text[done:start], segment)
        done = end
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)
