"""Redaction of secrets and PII: typed placeholders, no false positives on ordinary logs,
line structure kept, idempotent, never raising, fast on pathological input.

Every credential below is fake: documented example values (AKIAIOSFODNN7EXAMPLE...) or
random-looking strings of the right shape, built here.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import random
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faultmaven.preprocessing import redact as redact_module
from faultmaven.preprocessing.redact import PII_KINDS, Redaction, placeholder, redact
from tests.regex_work import Work, counting

_RNG = random.Random(1234)


def _fake(alphabet: str, length: int) -> str:
    return "".join(_RNG.choice(alphabet) for _ in range(length))


_ALNUM = string.ascii_letters + string.digits
_LOWER_ALNUM = string.ascii_lowercase + string.digits
_HEX = "0123456789abcdef"
_B64 = string.ascii_letters + string.digits + "+/"


def _b64url(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


JWT = (
    _b64url({"alg": "HS256", "typ": "JWT"})
    + "."
    + _b64url({"sub": "1234567890", "name": "Jane Doe", "iat": 1516239022})
    + ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
PEM_BODY = [_fake(_B64, 64) for _ in range(6)] + [_fake(_B64, 20) + "=="]
PEM = "\n".join(["-----BEGIN RSA PRIVATE KEY-----", *PEM_BODY, "-----END RSA PRIVATE KEY-----"])
OPENSSH = "\n".join(
    ["-----BEGIN OPENSSH PRIVATE KEY-----", *PEM_BODY[:3], "-----END OPENSSH PRIVATE KEY-----"]
)


def _assert_redacted(text: str, kind: str, secret: str) -> Redaction:
    result = redact(text)
    assert secret not in result.text, result.text
    assert placeholder(kind) in result.text, result.text
    assert result.counts.get(kind, 0) >= 1, result.counts
    return result


# --------------------------------------------------------------------------- secrets

SENDGRID = f"SG.{_fake(_ALNUM, 22)}.{_fake(_ALNUM, 43)}"
TWILIO = f"SK{_fake(_HEX, 32)}"
NPM = f"npm_{_fake(_ALNUM, 36)}"
OPENAI = f"sk-proj{_fake(_ALNUM, 20)}T3BlbkFJ{_fake(_ALNUM, 20)}"
PYPI = f"pypi-AgEIcHlwaS5vcmc{_fake(_ALNUM, 80)}"
SQUARE = f"sq0csp-{_fake(_ALNUM, 43)}"
MAILCHIMP = f"{_fake(_HEX, 32)}-us12"
AZURE = f"{_fake(_B64, 86)}=="
IBM_IAM = _fake(_ALNUM, 44)
CLOUDANT = _fake(_HEX, 64)
SOFTLAYER = _fake(_LOWER_ALNUM, 64)
IBM_COS = _fake(_HEX, 48)

SECRETS = [
    # (text, kind, the secret that must be gone)
    (f"aws_access_key_id = {AWS_KEY_ID}", "AWS_ACCESS_KEY", AWS_KEY_ID),
    (f"creds: {AWS_KEY_ID}:{AWS_SECRET}", "AWS_ACCESS_KEY", AWS_KEY_ID),
    (f"creds: {AWS_KEY_ID}:{AWS_SECRET}", "AWS_SECRET_KEY", AWS_SECRET),
    (f"aws_secret_access_key = {AWS_SECRET}", "AWS_SECRET_KEY", AWS_SECRET),
    (f'{{"SecretAccessKey": "{AWS_SECRET}"}}', "AWS_SECRET_KEY", AWS_SECRET),
    (f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}", "AWS_SECRET_KEY", AWS_SECRET),
    (f'aws_key = "{AWS_SECRET}"', "AWS_SECRET_KEY", AWS_SECRET),
    (f"token {JWT} accepted", "JWT", JWT),
    (f"Authorization: Bearer {JWT}", "JWT", JWT.split(".")[2]),
    ("Authorization: Bearer 8f14e45fceea167a5a36dedd4bea2543", "BEARER_TOKEN", "8f14e45fceea"),
    ("authorization: basic dXNlcjpodW50ZXIy", "BASIC_AUTH", "dXNlcjpodW50ZXIy"),
    ('curl -H "Authorization: Token 9a8b7c6d5e4f3a2b1c0d"', "AUTHORIZATION", "9a8b7c6d5e4f"),
    (
        'Authorization: Digest username="bob", response="6629fae49393a05397450978507c4ef1"',
        "AUTHORIZATION",
        "6629fae49393",
    ),
    ("calling with Bearer 0a1b2c3d4e5f6a7b8c9d", "BEARER_TOKEN", "0a1b2c3d4e5f"),
    ("token ghp_16C7e42F292c6912E7710c838347Ae178B4a", "GITHUB_TOKEN", "16C7e42F292c"),
    ("GITLAB_TOKEN=glpat-Xb7RrQ2m9kLp4sT1vWz8", "GITLAB_TOKEN", "Xb7RrQ2m9kLp4sT1vWz8"),
    (
        "slack xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx posted",
        "SLACK_TOKEN",
        "AbCdEfGhIjKlMnOpQrStUvWx",
    ),
    (
        "webhook https://hooks.slack.com/services/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",
        "SLACK_TOKEN",
        "q1w2e3r4t5y6u7i8o9p0a1s2",
    ),
    ("stripe key sk_live_4eC39HqLyjWDarjtT1zdp7dc", "STRIPE_KEY", "4eC39HqLyjWDarjtT1zdp7dc"),
    (f"SENDGRID={SENDGRID}", "SENDGRID_KEY", SENDGRID),
    (f"twilio {TWILIO} ok", "TWILIO_KEY", TWILIO),
    (f"//registry.npmjs.org/:_authToken={NPM}", "NPM_TOKEN", NPM),
    (f"OPENAI {OPENAI}", "OPENAI_KEY", OPENAI),
    (f"upload with {PYPI}", "PYPI_TOKEN", PYPI),
    (f"square {SQUARE}", "SQUARE_OAUTH_SECRET", SQUARE),
    (
        "bot 110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawX online",
        "TELEGRAM_BOT_TOKEN",
        "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawX",
    ),
    (
        "discord MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs",
        "DISCORD_BOT_TOKEN",
        "ZnCjm1XVW7vRze4b7Cq4se7kKWs",
    ),
    (f"mailchimp {MAILCHIMP}", "MAILCHIMP_KEY", MAILCHIMP),
    (
        f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={AZURE};",
        "AZURE_STORAGE_KEY",
        AZURE,
    ),
    ("artifactory AKCp8jQ8tM3bCpV2f2kS4uF6hJ9wX1yZ3nB5 ok", "ARTIFACTORY_TOKEN", "AKCp8jQ8"),
    (f"ibm_cloud_iam_api_key = {IBM_IAM}", "IBM_CLOUD_IAM_KEY", IBM_IAM),
    (f"cloudant_password = {CLOUDANT}", "CLOUDANT_CREDENTIALS", CLOUDANT),
    (f"softlayer_api_key: {SOFTLAYER}", "SOFTLAYER_CREDENTIALS", SOFTLAYER),
    (f"ibm_cos_secret_access_key = {IBM_COS}", "IBM_COS_HMAC_KEY", IBM_COS),
]


@pytest.mark.parametrize(("text", "kind", "secret"), SECRETS)
def test_each_secret_kind_gets_its_placeholder(text: str, kind: str, secret: str) -> None:
    result = _assert_redacted(text, kind, secret)
    assert result.secrets_detected
    # Whatever was replaced, no long random-looking run of the input survives.
    for token in text.replace("=", " ").replace(":", " ").split():
        if len(token) >= 24 and any(ch.isdigit() for ch in token):
            assert token not in result.text, (token, result.text)


@pytest.mark.parametrize(
    ("text", "kind", "kept", "secret"),
    [
        ("login password=hunter2 user=ann", "PASSWORD", "password=", "hunter2"),
        ("password: hunter2", "PASSWORD", "password: ", "hunter2"),
        ('{"password": "hunter 2 words", "user": "ann"}', "PASSWORD", '"password": "', "hunter"),
        ("{'db_password': 'hunter2'}", "PASSWORD", "'db_password': '", "hunter2"),
        ("export PGPASSWORD=hunter2; psql -h db", "PASSWORD", "PGPASSWORD=", "hunter2"),
        ("MYSQL_PWD=hunter2 mysql", "PASSWORD", "MYSQL_PWD=", "hunter2"),
        ("psql --password hunter2 -h db", "PASSWORD", "--password ", "hunter2"),
        ("vault login --db-pass=hunter2", "PASSWORD", "--db-pass=", "hunter2"),
        ("<password>hunter2</password>", "PASSWORD", "<password>", "hunter2"),
        ("$config['passwd'] = 'hunter2';", "PASSWORD", "['passwd'] = '", "hunter2"),
        ("user.password => hunter2", "PASSWORD", "password => ", "hunter2"),
        ("contraseña: hunter2", "PASSWORD", "contraseña: ", "hunter2"),
        ("client_secret=abc123def456", "SECRET_KEYWORD", "client_secret=", "abc123def456"),
        ("X-Api-Key: 5f0c7e1a9b", "SECRET_KEYWORD", "X-Api-Key: ", "5f0c7e1a9b"),
        ('{"accessToken":"t0k3n-value"}', "SECRET_KEYWORD", '"accessToken":"', "t0k3n-value"),
        ("csrf_token=a1b2c3", "SECRET_KEYWORD", "csrf_token=", "a1b2c3"),
        ("private_key: 0123abcd", "SECRET_KEYWORD", "private_key: ", "0123abcd"),
        ("cli --api-key a1b2c3d4", "SECRET_KEYWORD", "--api-key ", "a1b2c3d4"),
    ],
)
def test_passwords_and_keyed_secrets_keep_the_key(
    text: str, kind: str, kept: str, secret: str
) -> None:
    result = _assert_redacted(text, kind, secret)
    assert kept in result.text


@pytest.mark.parametrize(
    "text",
    [
        "password_hash=abc123 max_tokens=4096 tokens_used=12 passwordless=true",
        "bypass=1 compass=north passed=5 password_policy=strong",
        "password=null token=none secret=*** api_key=${API_KEY} token=<redacted> password=",
        "invalid password for user bob",
        "Bearer undefined",
        "secret-volume mounted; Secret default/app-secret not found",
    ],
)
def test_keys_that_are_not_secrets_or_values_that_are_not_secrets_stay(text: str) -> None:
    assert redact(text).text == text


def test_pem_private_key_block_is_replaced_whole_keeping_lines() -> None:
    text = f"loading key\n{PEM}\ndone"
    result = _assert_redacted(text, "PRIVATE_KEY", PEM_BODY[0])
    assert result.counts["PRIVATE_KEY"] == 1
    assert all(line not in result.text for line in PEM_BODY)
    assert "BEGIN" not in result.text and "END RSA" not in result.text
    assert result.text.count("\n") == text.count("\n")
    lines = result.text.split("\n")
    # The key's lines stay, empty; the last one (the END line) holds the placeholder.
    assert lines == ["loading key", *[""] * (len(PEM_BODY) + 1), placeholder("PRIVATE_KEY"), "done"]


@pytest.mark.parametrize(
    "block",
    [
        OPENSSH,
        PEM.replace("RSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY"),
        PEM.replace("RSA PRIVATE KEY", "PGP PRIVATE KEY BLOCK"),
        PEM.replace(
            "-----BEGIN RSA PRIVATE KEY-----",
            "-----BEGIN EC PRIVATE KEY-----\n"
            "Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0123456789ABCDEF\n",
        ).replace("END RSA", "END EC"),
        "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\n"
        + "\n".join(PEM_BODY)
        + "\n---- END SSH2 ENCRYPTED PRIVATE KEY ----",
    ],
)
def test_other_private_key_formats(block: str) -> None:
    result = _assert_redacted(f"key:\n{block}\nnext", "PRIVATE_KEY", PEM_BODY[1])
    assert result.text.endswith("\nnext")
    assert result.text.count("\n") == block.count("\n") + 2


def test_private_key_escaped_on_one_line_in_json() -> None:
    text = json.dumps({"tls_key": PEM, "host": "api"})
    result = _assert_redacted(text, "PRIVATE_KEY", PEM_BODY[2])
    assert json.loads(result.text) == {"tls_key": placeholder("PRIVATE_KEY"), "host": "api"}


def test_truncated_private_key_still_loses_its_body() -> None:
    text = "\n".join(["-----BEGIN PRIVATE KEY-----", *PEM_BODY[:3], "2024-01-15 next log line"])
    result = _assert_redacted(text, "PRIVATE_KEY", PEM_BODY[0])
    assert all(line not in result.text for line in PEM_BODY[:3])
    assert result.text.endswith("\n2024-01-15 next log line")
    assert result.text.count("\n") == text.count("\n")


def test_putty_key_file() -> None:
    text = "\n".join(
        [
            "PuTTY-User-Key-File-2: ssh-rsa",
            "Encryption: none",
            "Comment: imported-openssh-key",
            "Public-Lines: 2",
            *PEM_BODY[:2],
            "Private-Lines: 2",
            *PEM_BODY[2:4],
            f"Private-MAC: {_fake(_HEX, 40)}",
        ]
    )
    result = _assert_redacted(text, "PRIVATE_KEY", PEM_BODY[3])
    assert result.text.count("\n") == text.count("\n")


def test_url_credentials_keep_scheme_user_and_host() -> None:
    result = redact("db=postgres://orders:s3cr3t-Pa55@db.internal.example.com:5432/orders ok")
    assert result.text == (
        "db=postgres://orders:[REDACTED:URL_CREDENTIALS]@db.internal.example.com:5432/orders ok"
    )
    assert result.counts == {"URL_CREDENTIALS": 1}
    assert result.secrets_detected and not result.pii_detected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("redis://:hunter2@cache:6379/0", "redis://:[REDACTED:URL_CREDENTIALS]@cache:6379/0"),
        ("amqp://guest:p@ss@rabbit/vhost", "amqp://guest:[REDACTED:URL_CREDENTIALS]@rabbit/vhost"),
        (
            "https://user:pw@host.example.com/x",
            "https://user:[REDACTED:URL_CREDENTIALS]@host.example.com/x",
        ),
        ("http://host:8080/path?mail=a", "http://host:8080/path?mail=a"),
    ],
)
def test_url_credential_forms(text: str, expected: str) -> None:
    assert redact(text).text == expected


# --------------------------------------------------------------------------- PII


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("user=alice.smith@example.com logged in", "user=[REDACTED:EMAIL] logged in"),
        ("<bob+ops@mail.example.co.uk>", "<[REDACTED:EMAIL]>"),
        ("from 203.0.113.42:51234 via 10.0.0.5", "from [REDACTED:IP]:51234 via [REDACTED:IP]"),
        ("cidr 192.168.10.0/24", "cidr [REDACTED:IP]/24"),
        ("client=2001:db8:85a3::8a2e:370:7334 port 443", "client=[REDACTED:IP] port 443"),
        ("[fe80::1ff:fe23:4567:890a%eth0]:22", "[[REDACTED:IP]%eth0]:22"),
        ("peer ::ffff:198.51.100.7 closed", "peer [REDACTED:IP] closed"),
        ("call +1 415-555-2671 now", "call [REDACTED:PHONE] now"),
        ("call +14155552671.", "call [REDACTED:PHONE]."),
        ("tel +44 20 7946 0958", "tel [REDACTED:PHONE]"),
        ("tel +49 (30) 1234 5678", "tel [REDACTED:PHONE]"),
        ("phone (415) 555-2671", "phone [REDACTED:PHONE]"),
        ("phone 415.555.2671", "phone [REDACTED:PHONE]"),
        ("phone 1-800-555-0199", "phone [REDACTED:PHONE]"),
        ("(call +1 415 555 2671)", "(call [REDACTED:PHONE])"),
    ],
)
def test_pii_kinds(text: str, expected: str) -> None:
    result = redact(text)
    assert result.text == expected
    assert result.pii_detected and not result.secrets_detected


@pytest.mark.parametrize(
    "number",
    [
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "4111111111111111",
        "5500 0000 0000 0004",
        "3782 822463 10005",
        "378282246310005",
        "6011111111111117",
        "4222222222222",
    ],
)
def test_luhn_valid_card_numbers_are_redacted(number: str) -> None:
    result = redact(f"charged card {number} ok")
    assert result.text == "charged card [REDACTED:CARD] ok"
    assert result.counts == {"CARD": 1}


@pytest.mark.parametrize(
    "text",
    [
        "card 4111 1111 1111 1112 declined",  # fails the Luhn check
        "order 1234567812345678 shipped",  # fails the Luhn check
        "order_id=4111111111111111",  # Luhn-valid, but named an id
        "dd.trace_id=5398478245566431234 span_id=1234",
        "ts=1705312345678 epoch_ns=1705312345678901234",  # start with 1: not an issuer
        "bytes=4111111111111111111111",  # 22 digits: too long for a card
    ],
)
def test_numbers_that_are_not_cards_stay(text: str) -> None:
    assert redact(text).text == text


@pytest.mark.parametrize(
    "text",
    [
        "listening on 0.0.0.0:8080 and 127.0.0.1:9090, [::1]:8443, [::]:80",
        "netmask 255.255.255.0 broadcast 255.255.255.255",
        "jackson-databind-2.13.4.2.jar loaded",
        "version 1.2.3.4 released; build=10.0.19041.1",
        "oid 1.3.6.1.4.1.2021 and 10.1.2.3.4",
        "std::vector<int> Foo::bar a::b",
        "mac 00:1a:2b:3c:4d:5e at 10:23:45.123",
    ],
)
def test_addresses_that_identify_nobody_and_lookalikes_stay(text: str) -> None:
    assert redact(text).text == text


def test_escaped_line_breaks_separate_tokens() -> None:
    text = r'{"log": "start\n10.1.2.3 - GET /\nalice@example.com\tpassword=hunter2\n"}'
    result = redact(text)
    assert result.text == (
        r'{"log": "start\n[REDACTED:IP] - GET /\n[REDACTED:EMAIL]\tpassword=[REDACTED:PASSWORD]\n"}'
    )


# --------------------------------------------------------------------------- clean logs

CLEAN_LOG = "\n".join(
    [
        "=== ordinary log content, nothing to redact ===",
        (
            "2024-01-15T10:23:45.123Z INFO  [main] c.e.orders.OrderService - Processed order"
            " 8f14e45f-ceea-467f-a8e6-2d7c1b2a3f90 in 123 ms"
        ),
        (
            "2024-01-15 10:23:45,678 WARN  [http-nio-8080-exec-7] o.a.c.c.C.[Tomcat].[localhost]"
            " - request_id=req_01HMX3K9ZB2Q7 took 5.003s (p99 4.8s)"
        ),
        (
            '{"ts":"2024-01-15T10:23:45.123456+00:00","level":"error","msg":"upstream'
            ' timeout","status":504,"duration_ms":5003,"trace_id":"4bf92f3577b34da6a3ce92'
            '9d0e0e4736","span_id":"00f067aa0ba902b7"}'
        ),
        (
            '127.0.0.1 - - [15/Jan/2024:10:23:45 +0000] "GET /api/v1/orders?page=2 HTTP/1.1"'
            ' 200 1534 "-" "kube-probe/1.28"'
        ),
        (
            'I0115 10:23:45.123456       1 controller.go:123] "Reconciled"'
            ' object="default/web-7d9f8b6c5d-x2k4q" generation=42 elapsed="1.234567s"'
        ),
        (
            "2024-01-15T10:23:46Z Warning BackOff pod/api-7d9f8b6c5d-x2k4q Back-off restarting"
            " failed container api in pod"
            " api-7d9f8b6c5d-x2k4q_default(3b2e8a1c-9f4d-4e6b-8a7c-1d2e3f4a5b6c)"
        ),
        (
            "commit a94a8fe5ccb19ba61c4c0873d391e987982fbbd3 (tag: v1.24.3) deployed image"
            " sha256:9b2c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c"
        ),
        (
            "Caused by: java.net.SocketTimeoutException: Read timed out after 30000ms (attempt"
            " 3/5, retry in 250ms)"
        ),
        "\tat com.example.orders.Client.call(Client.java:142) ~[orders-1.24.3.jar:1.24.3]",
        (
            "2024-01-15 10:23:47 UTC [4021] LOG:  duration: 1534.221 ms  statement: SELECT *"
            " FROM orders WHERE id = 8812 AND created_at > '2024-01-01'"
        ),
        (
            "Jan 15 10:23:48 node-3 kernel: [123456.789012]"
            " oom-kill:constraint=CONSTRAINT_MEMCG,task=java,pid=31337,uid=1000"
        ),
        ('http_requests_total{code="500",method="GET",route="/api/v1/orders"} 1027 1705314228000'),
        (
            "ERROR 2024-01-15T10:23:49.001Z go.uber.org/zap: dial tcp: lookup db on [::1]:53:"
            " server misbehaving; retrying in 2s"
        ),
        (
            "Total: 12 passed, 0 failed, 3 skipped in 4m31.2s; coverage 87.3%; ports 80, 443,"
            " 5432, 6379"
        ),
        "",
    ]
)


def test_ordinary_log_content_is_untouched() -> None:
    result = redact(CLEAN_LOG)
    assert result.text == CLEAN_LOG
    assert result.counts == {}
    assert not result.secrets_detected and not result.pii_detected


# --------------------------------------------------------------------------- properties

MIXED = "\n".join(
    [
        "2024-01-15T10:23:45Z login ok user=alice@example.com from 198.51.100.23",
        f"aws_access_key_id={AWS_KEY_ID}",
        f"aws_secret_access_key={AWS_SECRET}",
        f"Authorization: Bearer {JWT}",
        PEM,
        "db=postgres://app:s3cr3t@db.example.com/app password=hunter2",
        "card 4111 1111 1111 1111 phone +1 415-555-2671 ip 2001:db8::7",
        "token ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "trailing line without newline",
    ]
)


def test_counts_and_flags() -> None:
    result = redact(MIXED)
    assert result.counts == {
        "AWS_ACCESS_KEY": 1,
        "AWS_SECRET_KEY": 1,
        "CARD": 1,
        "EMAIL": 1,
        "GITHUB_TOKEN": 1,
        "IP": 2,
        "JWT": 1,
        "PASSWORD": 1,
        "PHONE": 1,
        "PRIVATE_KEY": 1,
        "URL_CREDENTIALS": 1,
    }
    assert result.secrets_detected and result.pii_detected
    assert set(result.counts) & PII_KINDS == {"CARD", "EMAIL", "IP", "PHONE"}


def test_line_structure_is_kept() -> None:
    text = MIXED + "\r\nwindows line\r\n\u2028separator\x85next\n"
    result = redact(text)
    assert result.text.count("\n") == text.count("\n")
    assert len(result.text.splitlines()) == len(text.splitlines())
    assert result.text.splitlines()[0].startswith("2024-01-15T10:23:45Z login ok")


def test_idempotent() -> None:
    once = redact(MIXED)
    twice = redact(once.text)
    assert twice.text == once.text
    assert twice.counts == {}
    assert not twice.secrets_detected and not twice.pii_detected


def test_placeholders_match_no_rule() -> None:
    kinds = sorted({kind for _, kind, _ in SECRETS} | PII_KINDS | {"PASSWORD", "PRIVATE_KEY"})
    text = " ".join(f"password={placeholder(kind)} {placeholder(kind)}" for kind in kinds)
    assert redact(text).text == text


# Log-ish text: single characters mixed with fragments that trigger the rules, so that
# generated inputs keep landing next to, inside and across real findings.
_FRAGMENTS = (
    *"abcxyzAKIAeyJ0123456789 .:-_=@+/()[]\"'\n\t\\",
    "password=",
    "token: ",
    "--password ",
    "Authorization: Bearer ",
    "://u:p@",
    "10.0.0.",
    "2001:db8::",
    "::",
    "4111 1111 ",
    "+1 415 ",
    "555-2671",
    "@example.com",
    "AKIAIOSFODNN7EXAMPLE",
    "eyJhbGciOiJIUzI1NiJ9.",
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----END RSA PRIVATE KEY-----",
    "[REDACTED:IP]",
    "\\n",
    "\u0130",
    "\u2028",
)
_LOGGY = st.lists(st.sampled_from(_FRAGMENTS), max_size=80).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_LOGGY)
def test_property_idempotent_keeps_lines_and_never_raises(text: str) -> None:
    once = redact(text)
    twice = redact(once.text)
    assert twice.text == once.text
    assert twice.counts == {}
    assert once.text.count("\n") == text.count("\n")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_property_arbitrary_unicode(text: str) -> None:
    once = redact(text)
    assert redact(once.text).text == once.text
    assert len(once.text.splitlines()) == len(text.splitlines())


# --------------------------------------------------------------------------- robustness


@dataclasses.dataclass
class _EngineWork:
    work: Work
    whole_text_rules: frozenset[str]  # run over the whole text: text and pass scopes
    rules: int


def _observed_engine(monkeypatch: pytest.MonkeyPatch) -> _EngineWork:
    """The real rule set with every rule's regex counted (see tests/regex_work.py)."""
    engine = redact_module._engine()
    work = Work()
    names = iter(range(10_000))

    def counted(rules: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(
            dataclasses.replace(
                rule, pattern=counting(f"{rule.name}#{next(names)}", rule.pattern, work)
            )
            for rule in rules
        )

    observed = dataclasses.replace(
        engine,
        text_rules=counted(engine.text_rules),
        rules=counted(engine.rules),
        passes=counted(engine.passes),
        unanchored=counted(engine.unanchored),
    )
    monkeypatch.setattr(redact_module, "_engine", lambda: observed)
    whole = frozenset(r.pattern._name for r in (*observed.text_rules, *observed.passes))
    return _EngineWork(work, whole, len(engine.rules) + len(whole) + len(engine.unanchored))


def _assert_linear(observed: _EngineWork, text: str) -> None:
    """Whole-text rules run once, and line rules only see one segment (a line,
    or an 8 KiB slice of a very long one) at a time: the work is linear in the text, and
    backtracking (superlinear only in the subject's length) is bounded per segment."""
    work = observed.work
    segment_limit = redact_module._MAX_SEGMENT + 2 * redact_module._CUT_SLACK
    assert work.largest(excluding=observed.whole_text_rules) <= segment_limit
    for name in observed.whole_text_rules:
        assert len(work.calls.get(name, [])) <= 1  # one pass, however many matches
    # Placeholders are longer than some values they replace, so later rules see a text
    # that grew: at most [REDACTED:EMAIL] for "a@b.co", well under 3x.
    assert work.total() <= observed.rules * 3 * len(text)


def test_a_9_mb_single_line_is_redacted_in_bounded_slices(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    observed = _observed_engine(monkeypatch)
    words = ["GET", "/api/v1/orders", "200", "1534", "10.0.0.1", "a@b.co", "2024-01-15T10:23:45Z"]
    line = " ".join(_RNG.choice(words) for _ in range(1_300_000))[:9_000_000]
    result = redact(line)
    _assert_linear(observed, line)
    assert "a@b.co" not in result.text and "10.0.0.1" not in result.text
    observed.work.calls.clear()
    blob = _fake(_B64, 9_000_000)  # base64 without a single blank
    redact(blob)
    _assert_linear(observed, blob)


def test_binary_ish_text_is_bounded_and_keeps_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    observed = _observed_engine(monkeypatch)
    rng = random.Random(7)
    chunks = [
        chr(rng.randrange(0x80, 0x2FFFF))
        if rng.random() < 0.3
        else rng.choice("ab\ufffd\x00\n1.:@")
        for _ in range(1_000_000)
    ]
    text = "".join(chunks)
    result = redact(text)
    _assert_linear(observed, text)
    assert result.text.count("\n") == text.count("\n")


def test_many_unterminated_private_keys_are_each_removed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every BEGIN without an END: the key rules run once over the text (a bounded
    lookahead, not a rescan of the rest per BEGIN; timed in benchmarks/redaction.py)."""
    observed = _observed_engine(monkeypatch)
    text = ("-----BEGIN RSA PRIVATE KEY-----\n" + "MIIEpAIBAAKCAQEA\n" * 3) * 20_000
    result = redact(text)
    _assert_linear(observed, text)
    assert "MIIEpAIBAAKCAQEA" not in result.text
    assert result.counts == {"PRIVATE_KEY": 20_000}
    assert result.text.count("\n") == text.count("\n")


def test_non_string_input_does_not_raise() -> None:
    assert redact(b"user=alice@example.com").text == "user=[REDACTED:EMAIL]"  # type: ignore[arg-type]
    assert redact(None).text == ""  # type: ignore[arg-type]


def test_an_internal_failure_withholds_the_text_and_logs_no_content(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(text: str, counts: dict[str, int]) -> str:
        raise RuntimeError(f"cannot handle {text}")

    monkeypatch.setattr(redact_module, "_redact", broken)
    with caplog.at_level(logging.DEBUG):
        result = redact("password=hunter2\n\nalice@example.com")
    assert result.text == f"{placeholder('WITHHELD')}\n\n{placeholder('WITHHELD')}"
    assert result.counts == {"WITHHELD": 2}
    assert result.secrets_detected and result.pii_detected
    assert "RuntimeError" in caplog.text
    assert "hunter2" not in caplog.text and "alice" not in caplog.text


def test_nothing_is_logged_while_redacting(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        redact(MIXED)
    assert "hunter2" not in caplog.text
    assert AWS_SECRET not in caplog.text


def test_every_detect_secrets_plugin_is_used_or_deliberately_excluded() -> None:
    """A detect-secrets upgrade adding a plugin must be looked at: unspecified plugins
    still run, but over the whole text, without anchors."""
    plugins, _ = redact_module._detect_secrets()
    names = {plugin.__name__ for plugin in plugins.values()}
    covered = set(redact_module._PLUGIN_SPECS) | set(redact_module.EXCLUDED_PLUGINS)
    assert names <= covered, names - covered
    assert not set(redact_module._PLUGIN_SPECS) & set(redact_module.EXCLUDED_PLUGINS)
    assert redact_module._engine().unanchored == ()
