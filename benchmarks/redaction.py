"""Redaction throughput on a ~10 MB, ~100k-line log, against its 0.4 s budget.

Every artifact goes through `faultmaven.preprocessing.redact.redact` before anything is
stored, indexed or sent to an LLM; the whole classify + extract + redact step has 1.5 s
for 10 MB, of which redaction may take 0.4 s. The log is synthetic but shaped like real
ones (nginx access lines, Java and Go service logs, Kubernetes events, JSON lines,
PostgreSQL and Python errors) full of the things that must NOT be redacted (timestamps,
UUIDs, trace ids, SHAs, versions, durations, ports, status codes), with a secret or a
piece of PII on about one line in 250. It is built from a fixed seed, so every run
redacts the same text.

Two logs are measured: the mixed one (about one line in eight carries a client IP) and an
access log where every line does, the heaviest common case. The first call builds the
rule set (and imports detect-secrets); it is reported apart, then each log is redacted
three times in this process and the median is kept.

Figures are printed, never asserted: machines differ, and a benchmark that fails a build
on a noisy laptop teaches people to ignore it.
"""

from __future__ import annotations

import base64
import json
import random
import time
from collections.abc import Callable

from _support import header, median

from faultmaven.preprocessing.redact import Redaction, redact

REPETITIONS = 3
TARGET_BYTES = 10_000_000
BUDGET_S = 0.4
SEED = 20240115
SECRET_EVERY = 250  # lines

_HEX = "0123456789abcdef"
_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"


def _b64(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


# Fake credentials and personal data, the documented example values where there is one.
FAKE_JWT = (
    _b64({"alg": "HS256", "typ": "JWT"})
    + "."
    + _b64({"sub": "1234567890", "name": "Bench User", "iat": 1516239022})
    + ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
FAKE_PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n"
    "KUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQJAIJLixBy2qpFoS4DSmoEm\n"
    "-----END RSA PRIVATE KEY-----"
)
SPRINKLES = (
    "user=alice.smith@example.com logged in from the mobile app",
    "loaded credentials aws_access_key_id=AKIAIOSFODNN7EXAMPLE region=eu-west-1",
    "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "connecting to postgres://orders:s3cr3t-Pa55@db.internal.example.com:5432/orders",
    'config {"db_password": "correct-horse-battery", "pool": 10}',
    f"GET /api/v1/me Authorization: Bearer {FAKE_JWT}",
    "upstream 2001:db8:85a3::8a2e:370:7334 reset the connection",
    "callback number +1 415-555-2671 stored on the ticket",
    "payment declined for card 4111 1111 1111 1111 (insufficient funds)",
    "git clone with token ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "exec: psql --password Tr0ub4dor&3 -h 10.20.30.40",
    "slack notify via xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
)


class LogBuilder:
    """Deterministic log lines, ~100 bytes on average, one kind per method."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.line_no = 0

    def hex(self, n: int) -> str:
        return "".join(self.rng.choice(_HEX) for _ in range(n))

    def uuid(self) -> str:
        h = self.hex
        return f"{h(8)}-{h(4)}-4{h(3)}-{self.rng.choice('89ab')}{h(3)}-{h(12)}"

    def ip(self) -> str:
        r = self.rng.randrange
        return f"{r(1, 224)}.{r(256)}.{r(256)}.{r(1, 255)}"

    def clock(self) -> str:
        n = self.line_no
        return f"10:{n // 60000 % 60:02d}:{n // 1000 % 60:02d}.{n % 1000:03d}"

    def nginx(self) -> str:
        r = self.rng
        path = r.choice(("/api/v1/orders", "/healthz", "/api/v2/search", "/static/app.js"))
        status = r.choice((200, 200, 201, 304, 404, 502))
        return (
            f'{self.ip()} - - [15/Jan/2024:{self.clock()[:8]} +0000] "GET {path}?page='
            f'{r.randrange(9)} HTTP/1.1" {status} {r.randrange(100, 90000)} '
            f'"-" "curl/8.{r.randrange(9)}.0" rt={r.random():.3f}'
        )

    def java(self) -> str:
        r = self.rng
        return (
            f"2024-01-15 {self.clock()} INFO [exec-{r.randrange(1, 20)}] c.e.OrderService - "
            f"order {self.uuid()} done in {r.randrange(2, 900)} ms trace={self.hex(32)}"
        )

    def k8s(self) -> str:
        pod = f"api-{self.hex(10)}-{''.join(self.rng.choice(_ALNUM) for _ in range(5))}"
        return f"2024-01-15T{self.clock()}Z Warning BackOff pod/{pod} restarting failed container"

    def json_line(self) -> str:
        r = self.rng
        return json.dumps(
            {
                "ts": f"2024-01-15T{self.clock()}Z",
                "lvl": r.choice(("info", "warn", "error")),
                "req": f"req_{self.hex(16)}",
                "ms": r.randrange(1, 6000),
                "status": r.choice((200, 499, 504)),
                "v": f"1.{r.randrange(30)}.{r.randrange(10)}",
            },
            separators=(",", ":"),
        )

    def klog(self) -> str:
        r = self.rng
        return (
            f"I0115 {self.clock()}000 1 controller.go:{r.randrange(900)}] Reconciled "
            f'object="default/web-{r.randrange(9)}" generation={r.randrange(99)}'
        )

    def postgres(self) -> str:
        return (
            f"2024-01-15 {self.clock()} UTC [{self.rng.randrange(40000)}] LOG:  duration: "
            f"{self.rng.random() * 900:.3f} ms  statement: SELECT 1"
        )

    def python(self) -> str:
        r = self.rng
        return (
            f'  File "/app/worker/tasks.py", line {r.randrange(999)}, in run_job '
            f"TimeoutError: job {r.randrange(10**9)} exceeded 30s (commit {self.hex(40)})"
        )

    def java_frame(self) -> str:
        frames = (
            "org.apache.catalina.core.ApplicationFilterChain.internalDoFilter",
            "org.springframework.web.servlet.FrameworkServlet.service",
            "com.zaxxer.hikari.pool.HikariPool.getConnection",
        )
        return f"\tat {self.rng.choice(frames)}(Source.java:{self.rng.randrange(900)})"

    def rust(self) -> str:
        r = self.rng
        target = r.choice(("hyper::proto::h1::conn", "tower_http::trace", "sqlx::query"))
        return f"2024-01-15T{self.clock()}Z DEBUG {target}: completed in {r.randrange(90)}ms"

    def image(self) -> str:
        return (
            f'Successfully pulled image "registry.example.com/api@sha256:{self.hex(64)}" in '
            f"{self.rng.random() * 9:.3f}s (200)"
        )

    def cache(self) -> str:
        r = self.rng
        return f"cache miss key=user:{r.randrange(10**5)}:profile ttl=300s api: 200 OK"

    def build(self, target_bytes: int, kinds: tuple[Callable[[], str], ...]) -> str:
        lines: list[str] = []
        size = 0
        while size < target_bytes:
            self.line_no += 1
            line = self.rng.choice(kinds)()
            if self.line_no % SECRET_EVERY == 0:
                line = f"{line} {self.rng.choice(SPRINKLES)}"
            if self.line_no % (SECRET_EVERY * 40) == 0:
                line = f"{line} key follows\n{FAKE_PEM}"
            lines.append(line)
            size += len(line) + 1
        return "\n".join(lines) + "\n"


def mixed_log() -> str:
    b = LogBuilder(SEED)
    kinds = (
        *(b.nginx, b.java, b.java, b.k8s, b.json_line, b.klog, b.postgres, b.python),
        *(b.java_frame, b.rust, b.image, b.cache),
    )
    return b.build(TARGET_BYTES, kinds)


def access_log() -> str:
    b = LogBuilder(SEED + 1)
    return b.build(TARGET_BYTES, (b.nginx,))


def measure(text: str) -> tuple[list[float], Redaction]:
    samples: list[float] = []
    result = redact(text)
    for _ in range(REPETITIONS):
        started = time.perf_counter()
        result = redact(text)
        samples.append(time.perf_counter() - started)
    return samples, result


def report(title: str, text: str) -> None:
    samples, result = measure(text)
    seconds = median(samples)
    megabytes = len(text.encode()) / 1e6
    lines = text.count("\n")
    verdict = "ok" if seconds <= BUDGET_S else "OVER"
    header(f"{title}: {megabytes:.1f} MB, {lines:,} lines")
    print(
        f"  redact: median {seconds * 1000:.0f} ms of {REPETITIONS} "
        f"(min {min(samples) * 1000:.0f}, max {max(samples) * 1000:.0f}), "
        f"{megabytes / seconds:.0f} MB/s, {lines / seconds / 1000:.0f}k lines/s   "
        f"budget {BUDGET_S:.1f} s: {verdict}"
    )
    print(f"  lines kept: {result.text.count(chr(10)) == lines}")
    print(f"  secrets: {result.secrets_detected}, PII: {result.pii_detected}")
    for kind, count in sorted(result.counts.items(), key=lambda item: (-item[1], item[0])):
        print(f"    {kind:24} {count:>7,}")


def pathological() -> dict[str, str]:
    """Inputs that would be quadratic or worse for a careless rule set. The unit tests
    (tests/unit/test_redact.py) bound the work done on them; the seconds are here."""
    rng = random.Random(SEED)
    words = ["GET", "/api/v1/orders", "200", "1534", "10.0.0.1", "a@b.co", "2024-01-15T10:23:45Z"]
    b64 = _ALNUM + _ALNUM.upper() + "+/"
    oddities = "ab\ufffd\x00\n1.:@"
    return {
        "9 MB single line of log words": " ".join(rng.choice(words) for _ in range(1_300_000))[
            :9_000_000
        ],
        "9 MB base64 blob, no blank": "".join(rng.choice(b64) for _ in range(9_000_000)),
        "1M chars of binary-ish text": "".join(
            chr(rng.randrange(0x80, 0x2FFFF)) if rng.random() < 0.3 else rng.choice(oddities)
            for _ in range(1_000_000)
        ),
        "20k unterminated private keys": (
            "-----BEGIN RSA PRIVATE KEY-----\n" + "MIIEpAIBAAKCAQEA\n" * 3
        )
        * 20_000,
    }


def report_pathological() -> None:
    header("Pathological inputs (median of 3)")
    for label, text in pathological().items():
        samples, _ = measure(text)
        print(f"  {label:32} {median(samples) * 1000:8.0f} ms")


def main() -> None:
    started = time.perf_counter()
    redact("warm-up: builds the rule set and imports detect-secrets")
    print(f"first call (rule set + detect-secrets import): {time.perf_counter() - started:.3f} s")
    report("Mixed service logs", mixed_log())
    report("Access log, a client IP on every line", access_log())
    report_pathological()


if __name__ == "__main__":
    main()
