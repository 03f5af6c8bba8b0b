"""Hypothesis strategies for one secret (or piece of PII) of every kind redaction knows,
placed in random log lines with random surroundings.

Shared by the unit-level property test (the analysis functions, many examples) and the
pipeline-level one (upload → Step Functions → stored evidence, chunks and API responses,
few examples). Every value is random: nothing here is a real credential.

A `Planted` value is what a line carries (`fragment`, e.g. `password="..."`) and the parts
of it that must never be seen again (`secrets`: the password, not the key name).
`KIND_STRATEGIES` maps each placeholder kind to its strategy, and the unit test checks
that every kind the redaction engine can emit has one, so a new detector cannot slip by
without a property test.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from hypothesis import strategies as st

UPPER_DIGITS = string.ascii_uppercase + string.digits
LOWER_DIGITS = string.ascii_lowercase + string.digits
ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "_-"
DIGITS = string.digits


@dataclass(frozen=True)
class Planted:
    kind: str
    fragment: str
    secrets: tuple[str, ...]


def chars(alphabet: str, size: int, max_size: int | None = None) -> st.SearchStrategy[str]:
    """A random run of `alphabet`, with at least three digits and three letters where the
    alphabet has both: a value like `aaaaaaaaaaaa` is an invalid credential and, worse, its
    8-character pieces turn up in ordinary words."""
    run = st.text(alphabet=alphabet, min_size=size, max_size=max_size or size)
    letters = "".join(c for c in alphabet if c.isalpha())
    digits = "".join(c for c in alphabet if c in DIGITS)
    if not letters or not digits or size < 6:
        return run
    mixed = st.tuples(
        run,
        st.text(alphabet=letters, min_size=3, max_size=3),
        st.text(digits, min_size=3, max_size=3),
    )
    return mixed.flatmap(lambda t: st.permutations(list(t[0][6:] + t[1] + t[2]))).map("".join)


def _token(kind: str, *parts: st.SearchStrategy[str] | str) -> st.SearchStrategy[Planted]:
    """A vendor token: literal prefixes and random runs, the whole of it secret."""
    pieces = [st.just(p) if isinstance(p, str) else p for p in parts]
    return st.tuples(*pieces).map(lambda t: "".join(t)).map(lambda v: Planted(kind, v, (v,)))


# Separators of `key <sep> value` forms, and how the value is quoted.
_KEYED_FORMS = (
    "{k}={v}",
    "{k}: {v}",
    '"{k}": "{v}"',
    "{k}='{v}'",
    '{k}="{v}"',
    "{k} => {v}",
    "?{k}={v}&page=2",
    "&{k}={v}",
    "--{k} {v}",
    "<{k}>{v}</{k}>",
)


def _keyed(
    kind: str,
    keys: st.SearchStrategy[str],
    value: st.SearchStrategy[str],
    forms: tuple[str, ...] = _KEYED_FORMS,
) -> st.SearchStrategy[Planted]:
    return st.tuples(keys, value, st.sampled_from(forms)).map(
        lambda t: Planted(kind, t[2].format(k=t[0], v=t[1]), (t[1],))
    )


def _pem() -> st.SearchStrategy[Planted]:
    label = st.sampled_from(
        ["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY"]
    )
    body = st.lists(chars(B64, 64), min_size=2, max_size=5)

    def build(t: tuple[str, list[str], bool]) -> Planted:
        name, lines, escaped = t
        newline = "\\n" if escaped else "\n"
        block = newline.join([f"-----BEGIN {name}-----", *lines, f"-----END {name}-----"])
        return Planted("PRIVATE_KEY", block, tuple(lines))

    return st.tuples(label, body, st.booleans()).map(build)


def _jwt() -> st.SearchStrategy[Planted]:
    return _token(
        "JWT",
        "eyJ",
        chars(URLSAFE, 20, 40),
        ".eyJ",
        chars(URLSAFE, 20, 60),
        ".",
        chars(URLSAFE, 43),
    )


def _card() -> st.SearchStrategy[Planted]:
    def luhn(payload: str) -> str:
        total = 0
        for position, char in enumerate(reversed(payload)):
            digit = int(char)
            if position % 2 == 0:
                digit = digit * 2 - 9 if digit > 4 else digit * 2
            total += digit
        return payload + str((10 - total % 10) % 10)

    def build(t: tuple[str, str, str]) -> Planted:
        first, rest, separator = t
        number = luhn(first + rest)
        shown = separator.join(number[i : i + 4] for i in range(0, 16, 4)) if separator else number
        return Planted("CARD", shown, (shown,))

    return st.tuples(
        st.sampled_from("2345"), chars(DIGITS, 14), st.sampled_from(["", " ", "-"])
    ).map(build)


def _ipv4() -> st.SearchStrategy[Planted]:
    octet = st.integers(0, 255).map(str)
    first = st.integers(1, 254).filter(lambda n: n not in (127, 255)).map(str)
    return st.tuples(first, octet, octet, octet).map(
        lambda t: Planted("IP", ".".join(t), (".".join(t),))
    )


def _ipv6() -> st.SearchStrategy[Planted]:
    # Real prefixes: an address without a single digit reads as a C++ path (a::b).
    first = st.sampled_from(["2001", "2a00", "2600", "fd12", "2804"])
    group = st.integers(0x1000, 0xFFFF).map(lambda n: f"{n:x}")
    full = st.tuples(first, st.lists(group, min_size=7, max_size=7)).map(
        lambda t: ":".join([t[0], *t[1]])
    )
    short = st.tuples(first, group, group).map(lambda t: f"{t[0]}:{t[1]}::{t[2]}")
    return st.one_of(full, short).map(lambda a: Planted("IP", a, (a,)))


def _email() -> st.SearchStrategy[Planted]:
    return (
        st.tuples(
            chars(LOWER_DIGITS, 6, 12),
            st.sampled_from([".", "_", "+", ""]),
            chars(LOWER_DIGITS, 4, 8),
            chars(string.ascii_lowercase, 5, 10),
            st.sampled_from(["com", "io", "org", "co.uk"]),
        )
        .map(lambda t: f"{t[0]}{t[1]}{t[2]}@{t[3]}.{t[4]}")
        .map(lambda v: Planted("EMAIL", v, (v,)))
    )


def _phone() -> st.SearchStrategy[Planted]:
    area = st.integers(200, 999).map(str)
    exchange = st.integers(200, 999).map(str)
    line = st.integers(0, 9999).map(lambda n: f"{n:04d}")
    nanp = st.tuples(area, exchange, line, st.sampled_from(["{}-{}-{}", "({}) {}-{}", "{}.{}.{}"]))
    international = st.tuples(
        st.sampled_from(["+44", "+49", "+33", "+1"]), area, exchange, line
    ).map(lambda t: f"{t[0]} {t[1]} {t[2]} {t[3]}")
    return st.one_of(nanp.map(lambda t: t[3].format(t[0], t[1], t[2])), international).map(
        lambda v: Planted("PHONE", v, (v,))
    )


def _password_value() -> st.SearchStrategy[str]:
    return chars(ALNUM + "!#%*+-./@^_~", 12, 24).filter(lambda v: v[0] not in "-")


KIND_STRATEGIES: dict[str, st.SearchStrategy[Planted]] = {
    "PRIVATE_KEY": _pem(),
    "JWT": _jwt(),
    "AWS_ACCESS_KEY": _token(
        "AWS_ACCESS_KEY", st.sampled_from(["AKIA", "ASIA", "ABIA", "ACCA"]), chars(UPPER_DIGITS, 16)
    ),
    "AWS_SECRET_KEY": _keyed(
        "AWS_SECRET_KEY",
        st.sampled_from(["aws_secret_access_key", "AWS_SECRET_KEY", "SecretAccessKey"]),
        chars(B64, 40),
        ("{k}={v}", "{k}: {v}", '"{k}": "{v}"', "{k}='{v}'", '{k}="{v}"', "?{k}={v}&page=2"),
    ),
    "ARTIFACTORY_TOKEN": _token("ARTIFACTORY_TOKEN", "AKC", chars(ALNUM, 10, 60)),
    "AZURE_STORAGE_KEY": _token("AZURE_STORAGE_KEY", chars(B64, 86), "==").map(
        lambda p: Planted(
            p.kind, f"DefaultEndpointsProtocol=https;AccountKey={p.fragment}", p.secrets
        )
    ),
    "CLOUDANT_CREDENTIALS": _keyed(
        "CLOUDANT_CREDENTIALS",
        st.sampled_from(["cloudant_password", "cloudant_api_key", "cl_token"]),
        chars(HEX, 64),
        ("{k}={v}", "{k}: {v}", '"{k}": "{v}"', "{k}='{v}'"),
    ),
    "DISCORD_BOT_TOKEN": _token(
        "DISCORD_BOT_TOKEN",
        st.sampled_from("MNO"),
        chars(URLSAFE, 23, 25),
        ".",
        chars(URLSAFE, 6),
        ".",
        chars(URLSAFE, 27),
    ),
    "GITHUB_TOKEN": _token(
        "GITHUB_TOKEN", st.sampled_from(["ghp", "gho", "ghu", "ghs", "ghr"]), "_", chars(ALNUM, 36)
    ),
    "GITLAB_TOKEN": _token(
        "GITLAB_TOKEN",
        st.sampled_from(["glpat-", "gldt-", "glrt-", "glft-"]),
        chars(ALNUM, 20, 30),
    ),
    "IBM_CLOUD_IAM_KEY": _keyed(
        "IBM_CLOUD_IAM_KEY",
        st.sampled_from(["ibm_cloud_iam_key", "ibm_api_key", "cloud_iam_token"]),
        chars(ALNUM, 44),
        ("{k}={v}", "{k}: {v}", '"{k}": "{v}"', "{k}='{v}'"),
    ),
    "IBM_COS_HMAC_KEY": _keyed(
        "IBM_COS_HMAC_KEY",
        st.sampled_from(["ibm_cos_hmac_secret_access_key", "cos_secret_access_key"]),
        chars(HEX, 48),
        ("{k}={v}", "{k}: {v}", '"{k}": "{v}"', "{k}='{v}'"),
    ),
    "MAILCHIMP_KEY": _token(
        "MAILCHIMP_KEY", chars(LOWER_DIGITS, 32), "-us", st.integers(1, 20).map(str)
    ),
    "NPM_TOKEN": _token("NPM_TOKEN", "npm_", chars(ALNUM, 36)).map(
        lambda p: Planted(p.kind, f"//registry.npmjs.org/:_authToken={p.fragment}", p.secrets)
    ),
    "OPENAI_KEY": _token("OPENAI_KEY", "sk-", chars(ALNUM, 20), "T3BlbkFJ", chars(ALNUM, 20)),
    "PYPI_TOKEN": _token("PYPI_TOKEN", "pypi-AgEIcHlwaS5vcmc", chars(URLSAFE, 70, 90)),
    "SENDGRID_KEY": _token("SENDGRID_KEY", "SG.", chars(URLSAFE, 22), ".", chars(URLSAFE, 43)),
    "SLACK_TOKEN": st.one_of(
        _token(
            "SLACK_TOKEN",
            st.sampled_from(["xoxb-", "xoxp-", "xoxa-"]),
            chars(DIGITS, 10, 12),
            "-",
            chars(DIGITS, 10, 12),
            "-",
            chars(LOWER_DIGITS, 24),
        ),
        st.tuples(chars(UPPER_DIGITS, 8, 10), chars(UPPER_DIGITS, 8, 10), chars(ALNUM, 24)).map(
            lambda t: Planted(
                "SLACK_TOKEN", f"https://hooks.slack.com/services/T{t[0]}/B{t[1]}/{t[2]}", t
            )
        ),
    ),
    "SOFTLAYER_CREDENTIALS": _keyed(
        "SOFTLAYER_CREDENTIALS",
        st.sampled_from(["softlayer_api_key", "sl_token", "softlayer_password"]),
        chars(LOWER_DIGITS, 64),
        ("{k}={v}", "{k}: {v}", '"{k}": "{v}"', "{k}='{v}'"),
    ),
    "SQUARE_OAUTH_SECRET": _token("SQUARE_OAUTH_SECRET", "sq0csp-", chars(URLSAFE, 43)),
    "STRIPE_KEY": _token("STRIPE_KEY", st.sampled_from(["sk_live_", "rk_live_"]), chars(ALNUM, 24)),
    "TELEGRAM_BOT_TOKEN": _token(
        "TELEGRAM_BOT_TOKEN", chars(DIGITS, 8, 10), ":", chars(URLSAFE, 35)
    ),
    "TWILIO_KEY": _token("TWILIO_KEY", st.sampled_from(["AC", "SK"]), chars(LOWER_DIGITS, 32)),
    "AUTHORIZATION": st.tuples(
        st.sampled_from(["Digest username=", "AWS4-HMAC-SHA256 Credential="]),
        chars(ALNUM, 20, 30),
        st.sampled_from(["Authorization: ", '"authorization": "', "-H 'Authorization: "]),
    ).map(lambda t: Planted("AUTHORIZATION", f"{t[2]}{t[0]}{t[1]}", (t[1],))),
    "BEARER_TOKEN": st.tuples(
        chars(URLSAFE + ".", 24, 40),
        st.sampled_from(["Authorization: Bearer ", "using bearer ", '"Authorization": "Bearer ']),
    ).map(lambda t: Planted("BEARER_TOKEN", t[1] + t[0], (t[0],))),
    "BASIC_AUTH": chars(B64, 16, 32).map(
        lambda v: Planted("BASIC_AUTH", f"Authorization: Basic {v}=", (v,))
    ),
    "URL_CREDENTIALS": st.tuples(
        st.sampled_from(["postgres", "redis", "https", "amqp", "mongodb+srv"]),
        chars(LOWER_DIGITS, 4, 8),
        # RFC 3986: "/", "?", "#" and "@" in a password are percent-encoded.
        chars(ALNUM + "!*+-._~%", 12, 24),
        chars(string.ascii_lowercase, 4, 10),
    ).map(
        lambda t: Planted(
            "URL_CREDENTIALS", f"{t[0]}://{t[1]}:{t[2]}@{t[3]}.internal:5432", (t[2],)
        )
    ),
    "PASSWORD": _keyed(
        "PASSWORD",
        st.sampled_from(["password", "db_password", "PASSWORD", "passwd", "pwd", "db_pass"]),
        _password_value().map(lambda v: v.replace("/", "")),
    ),
    "SECRET_KEYWORD": _keyed(
        "SECRET_KEYWORD",
        st.sampled_from(["api_key", "client_secret", "access_token", "auth_token", "secret"]),
        chars(ALNUM + "_-", 16, 40).filter(lambda v: v[0] != "-"),
    ),
    "EMAIL": _email(),
    "IP": st.one_of(_ipv4(), _ipv6()),
    "PHONE": _phone(),
    "CARD": _card(),
}

# How a value can be surrounded in a line: quoted, assigned, in a URL query, a JSON value,
# brackets, a base64-ish blob, end of a sentence. `{}` is the planted fragment.
SURROUNDINGS = (
    " {} ",
    ' "{}" ',
    " '{}' ",
    " value={} ",
    " value={};next=1 ",
    " key:{} ",
    " key: {}, ",
    " https://api.example.net/v1/items?q={}&page=2 ",
    ' {{"value": "{}", "n": 1}} ',
    " ({}) ",
    " [{}] ",
    " <{}> ",
    " ,{}, ",
    "\t{}\t",
    " data:base64,{}== ",
    " failed: {}. ",
    ' {{\\"msg\\": \\"{}\\"}} ',  # JSON inside a JSON string: escaped quotes
    " \\n{}\\n ",  # escaped line breaks around it
    " q=%22{}%22&x=1 ",  # URL-encoded quotes
    " `{}` ",
    " |{}| ",
)

_WORDS = (
    "request",
    "failed",
    "connection",
    "refused",
    "upstream",
    "timeout",
    "retrying",
    "worker",
    "shard",
    "queue",
    "handler",
    "payload",
    "rejected",
    "latency",
    "ms",
    "status",
    "user",
    "session",
    "cache",
    "miss",
)


@st.composite
def log_line(draw: st.DrawFn, planted: Planted | None = None) -> str:
    """A log line (timestamp, level, words, maybe the planted fragment among them)."""
    second = draw(st.integers(0, 59))
    level = draw(st.sampled_from(["INFO", "WARN", "ERROR", "DEBUG", "FATAL"]))
    words = draw(st.lists(st.sampled_from(_WORDS), min_size=2, max_size=10))
    if planted is not None:
        surrounding = draw(st.sampled_from(SURROUNDINGS))
        position = draw(st.integers(0, len(words)))
        words.insert(position, surrounding.format(planted.fragment).strip(" "))
    number = draw(st.integers(0, 99999))
    return f"2026-12-01T10:00:{second:02d}Z {level} {' '.join(words)} id={number}"


@st.composite
def log_with_secrets(
    draw: st.DrawFn, kinds: tuple[str, ...], filler: int = 30
) -> tuple[str, list[Planted]]:
    """A log of ordinary lines with one planted value of each of `kinds`, each on a random
    line (several may share one)."""
    planted = [draw(KIND_STRATEGIES[kind]) for kind in kinds]
    lines = [draw(log_line()) for _ in range(draw(st.integers(1, filler)))]
    for item in planted:
        index = draw(st.integers(0, len(lines)))
        lines.insert(index, draw(log_line(item)))
    return "\n".join(lines) + "\n", planted


def _mixed(piece: str) -> bool:
    return any(c.isdigit() for c in piece) and any(c.isalpha() for c in piece)


def leaked_pieces(secrets: tuple[str, ...] | list[str], haystack: str, size: int = 8) -> list[str]:
    """Every `size`-character piece of a secret that occurs in `haystack`."""
    found = []
    for secret in secrets:
        for start in range(max(1, len(secret) - size + 1)):
            piece = secret[start : start + size]
            # A piece counts when it mixes letters and digits, as every fragment of a real
            # key or token does: a generated near-constant secret ("0000000000AAA000") or
            # one made of words ("…insights.") otherwise matches the floats, numbers and
            # field names stored beside it by chance. A whole leaked secret still has
            # mixed pieces.
            if len(piece) == size and _mixed(piece) and piece in haystack:
                found.append(piece)
    return found
