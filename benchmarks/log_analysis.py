"""Log analysis ("crime scene extraction"): speed on a realistic 10 MB log, and template
grouping accuracy on the labeled logs of tests/data/logs.

The 10 MB log is generated in memory, deterministically: a Java service (logback lines,
stack traces, an outage with a burst of connection errors), its nginx access log, a JSON
sidecar and Kubernetes klog lines, interleaved as `kubectl logs` of a pod would show them.

Figures are printed, never asserted: machines differ, and a benchmark that fails a build
on a noisy laptop teaches people to ignore it. Targets: analyze_log on 10 MB <= 0.8 s on
one core; grouping accuracy >= 0.9.
"""

from __future__ import annotations

import csv
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

from _support import ROOT, header

from faultmaven.preprocessing.evaluation import grouping_accuracy
from faultmaven.preprocessing.log_lines import shape_lines, split_lines
from faultmaven.preprocessing.log_templates import mine, new_miner
from faultmaven.preprocessing.logs import analyze_log, line_templates

REPETITIONS = 3
TARGET_BYTES = 10 * 1024 * 1024
TARGET_SECONDS = 0.8
LABELED = ROOT / "tests" / "data" / "logs"
START = datetime(2026, 11, 22, 9, 0, tzinfo=UTC).timestamp()
OUTAGE = (START + 2400, START + 2520)  # 2 minutes where the database is down

_USERS = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy")
_PATHS = ("/api/v1/orders", "/api/v1/cart", "/api/v1/users", "/api/v1/search", "/healthz")
_AGENTS = ("Mozilla/5.0 (X11; Linux x86_64)", "curl/8.4.0", "kube-probe/1.28", "okhttp/4.12.0")
_STACK = [
    "java.net.ConnectException: Connection refused",
    "\tat java.base/sun.nio.ch.Net.pollConnect(Native Method)",
    "\tat java.base/sun.nio.ch.NioSocketImpl.timedFinishConnect(NioSocketImpl.java:542)",
    "\tat org.postgresql.core.PGStream.createSocket(PGStream.java:243)",
    "\tat org.postgresql.core.v3.ConnectionFactoryImpl.openConnectionImpl"
    "(ConnectionFactoryImpl.java:262)",
    "\tat com.zaxxer.hikari.pool.HikariPool.createPoolEntry(HikariPool.java:476)",
    "\tat com.acme.orders.OrderRepository.save(OrderRepository.java:88)",
    "\tat com.acme.orders.OrderService.place(OrderService.java:61)",
    "\t... 87 common frames omitted",
]


def _stamp(moment: float) -> str:
    t = datetime.fromtimestamp(moment, UTC)
    return f"{t:%Y-%m-%d %H:%M:%S}.{t.microsecond // 1000:03d}"


_PRODUCTS = ("espresso beans", "green tea", "oat milk", "dark chocolate", "olive oil")
_REASONS = ("insufficient funds", "card expired", "fraud suspected", "limit exceeded")
# (weight, level, logger, message): {u} user, {n} number, {h} hex id, {p} product, {r} reason
_JAVA_EVENTS = (
    (30, "INFO", "c.a.orders.OrderController", "Order {n} placed by {u} with {n} items in {n} ms"),
    (12, "DEBUG", "c.a.orders.CartCache", "cache hit for cart {h} (size={n}, ttl={n}s)"),
    (8, "DEBUG", "c.a.orders.CartCache", "cache miss for cart {h}"),
    (8, "INFO", "c.a.orders.Metrics", "pool active={n} idle={n} waiting={n} heap={n}MB"),
    (6, "INFO", "c.a.orders.CatalogService", "Product '{p}' viewed by {u}"),
    (5, "DEBUG", "o.h.SQL", "select o.id, o.status from orders o where o.customer_id=? limit {n}"),
    (4, "INFO", "c.a.orders.InventoryClient", "Reserved {n} units of sku-{n} for order {n}"),
    (3, "INFO", "c.a.orders.AuthFilter", "User {u} authenticated via {a} in {n} ms"),
    (
        3,
        "WARN",
        "c.a.orders.PaymentClient",
        "Slow response from payments after {n} ms (attempt {n}/3)",
    ),
    (2, "INFO", "c.a.orders.ShippingService", "Shipment {h} for order {n} handed to carrier {c}"),
    (2, "DEBUG", "c.a.orders.EventBus", "published OrderPlaced event {h} to topic orders.v1"),
    (1.5, "WARN", "c.a.orders.RateLimiter", "Rate limit reached for {u}: {n} requests in 60 s"),
    (1, "ERROR", "c.a.orders.PaymentClient", "Payment {n} declined: {r}"),
    (1, "WARN", "o.s.w.s.PageNotFound", "No mapping for GET /api/v1/legacy/{n}"),
    (0.02, "INFO", "c.a.orders.Application", "Started Application in {n}.{n} seconds"),
    (0.5, "WARN", "c.z.h.p.HikariPool", "HikariPool-1 - Thread starvation or clock leap detected"),
    (0.3, "ERROR", "c.a.orders.ShippingService", "Carrier {c} rejected shipment {h}: {r}"),
    (0.01, "INFO", "c.a.orders.Application", "Shutting down executor 'applicationTaskExecutor'"),
)
_FILLS: dict[str, Callable[[random.Random], str]] = {
    "u": lambda r: r.choice(_USERS) + str(r.randint(1, 300)),
    "n": lambda r: str(r.randint(1, 99999)),
    "h": lambda r: f"{r.getrandbits(64):016x}",
    "p": lambda r: r.choice(_PRODUCTS),
    "r": lambda r: r.choice(_REASONS),
    "a": lambda r: r.choice(("password", "oauth", "api-key")),
    "c": lambda r: r.choice(("DHL", "UPS", "FedEx")),
}


def _fill(r: random.Random, message: str) -> str:
    out = []
    for i, part in enumerate(message.split("{")):
        if i == 0:
            out.append(part)
            continue
        name, rest = part[0], part[2:]
        out.append(_FILLS[name](r) + rest)
    return "".join(out)


def _java(r: random.Random, moment: float) -> list[str]:
    thread = f"http-nio-8080-exec-{r.randint(1, 50)}"
    head = f"{_stamp(moment)} "
    if OUTAGE[0] <= moment < OUTAGE[1] and r.random() < 0.6:
        line = (
            f"{head}ERROR [{thread}] c.a.orders.OrderService - Order {r.randint(10**5, 10**6)} "
            f"failed: could not open connection to db-{r.randint(1, 3)}.internal:5432"
        )
        return [line, *_STACK] if r.random() < 0.3 else [line]
    _, level, logger, message = r.choices(_JAVA_EVENTS, [e[0] for e in _JAVA_EVENTS])[0]
    return [f"{head}{level:<5} [{thread}] {logger} - {_fill(r, message)}"]


def _nginx(r: random.Random, moment: float) -> list[str]:
    t = datetime.fromtimestamp(moment, UTC)
    status = 502 if OUTAGE[0] <= moment < OUTAGE[1] and r.random() < 0.5 else 200
    method = r.choice(("GET", "GET", "GET", "POST", "PUT"))
    path = f"{r.choice(_PATHS)}/{r.randint(1, 99999)}"
    return [
        f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)} - - "
        f'[{t:%d/%b/%Y:%H:%M:%S} +0000] "{method} {path} HTTP/1.1" {status} '
        f'{r.randint(100, 90000)} "-" "{r.choice(_AGENTS)}"'
    ]


def _json(r: random.Random, moment: float) -> list[str]:
    record = {
        "ts": int(moment * 1000),
        "level": r.choice(("info", "info", "info", "warn")),
        "msg": f"exported {r.randint(1, 500)} spans to collector",
        "trace_id": f"{r.getrandbits(64):016x}",
    }
    return [json.dumps(record)]


def _klog(r: random.Random, moment: float) -> list[str]:
    t = datetime.fromtimestamp(moment, UTC)
    level = "E" if r.random() < 0.05 else "I"
    message = (
        f"Failed to update lease kube-system/orders-{r.randint(1, 9)}: context deadline exceeded"
        if level == "E"
        else f"Successfully reconciled pod default/orders-{r.getrandbits(24):06x}"
    )
    source = f"controller.go:{r.randint(100, 400)}"
    return [
        f"{level}{t:%m%d %H:%M:%S}.{t.microsecond:06d}    {r.randint(1, 99)} {source}] {message}"
    ]


_SOURCES: tuple[tuple[Callable[[random.Random, float], list[str]], float], ...] = (
    (_java, 0.62),
    (_nginx, 0.26),
    (_json, 0.08),
    (_klog, 0.04),
)


def realistic_log(target_bytes: int = TARGET_BYTES) -> str:
    """About `target_bytes` of interleaved service logs, the same on every run."""
    r = random.Random(20261122)
    lines: list[str] = []
    size = 0
    moment = START
    sources = [s for s, _ in _SOURCES]
    weights = [w for _, w in _SOURCES]
    while size < target_bytes:
        moment += r.expovariate(1 / 0.04)
        for line in r.choices(sources, weights)[0](r, moment):
            lines.append(line)
            size += len(line) + 1
    return "\n".join(lines) + "\n"


def labeled_systems() -> list[tuple[str, str, list[str]]]:
    systems = []
    for structured in sorted(LABELED.glob("*_structured.csv")):
        name = structured.name.removesuffix("_structured.csv")
        with structured.open(encoding="utf-8") as rows:
            truth = [row["EventId"] for row in csv.DictReader(rows)]
        systems.append((name, (LABELED / f"{name}.log").read_text(encoding="utf-8"), truth))
    return systems


def _timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def bench_analyze(text: str) -> None:
    lines = text.count("\n")
    print(f"log: {len(text.encode()) / 1e6:.1f} MB, {lines:,} lines (generated)")
    times = [_timed(lambda: analyze_log(text)) for _ in range(REPETITIONS)]
    median, best = statistics.median(times), min(times)
    verdict = "OK" if median <= TARGET_SECONDS else "SLOW"
    print(
        f"analyze_log: median {median:.3f} s, best {best:.3f} s over {REPETITIONS} runs "
        f"({lines / median:,.0f} lines/s)  target <= {TARGET_SECONDS} s: {verdict}"
    )
    analysis = analyze_log(text)
    print(
        f"  {analysis.template_count} templates, {len(analysis.clusters)} error/warn clusters, "
        f"{len(analysis.bursts)} bursts, {len(analysis.stack_traces)} distinct stack traces, "
        f"extraction {len(analysis.to_extraction().encode())} bytes, summary "
        f"{len(analysis.summary)} chars"
    )
    print(f"  summary: {analysis.summary}")


def bench_miner(text: str) -> None:
    """Drain alone: on the distinct masked messages (what analyze_log does) vs on every raw
    line (what a naive integration does)."""
    line_set = split_lines(text)
    shapes = shape_lines(line_set.lines)
    messages = list(dict.fromkeys(s.content for s in shapes.shapes if s.content))
    lines = len(line_set.lines)
    runs = 20
    dedup = _timed(lambda: [mine(messages) for _ in range(runs)]) / runs
    print(
        f"drain3 on {len(messages):,} distinct masked messages: {dedup * 1000:.1f} ms "
        f"-> {lines / dedup:,.0f} log lines/s"
    )
    miner = new_miner()
    raw = _timed(lambda: [miner.add_log_message(line) for line in line_set.lines])
    print(
        f"drain3 on all {lines:,} raw lines (no masking, no dedup): {raw:.3f} s "
        f"-> {lines / raw:,.0f} lines/s, {len(miner.drain.clusters):,} clusters"
    )


def bench_accuracy() -> None:
    scores = []
    for name, text, truth in labeled_systems():
        score = grouping_accuracy(line_templates(text), truth)
        scores.append((score, len(truth)))
        print(f"  {name:<10} {score:.3f}  ({len(truth):,} lines, {len(set(truth))} events)")
    total = sum(n for _, n in scores)
    overall = sum(s * n for s, n in scores) / total if total else 0.0
    print(f"  {'overall':<10} {overall:.3f}  (target >= 0.9)")


def main() -> int:
    header("log analysis: analyze_log on a realistic 10 MB log")
    text = realistic_log()
    bench_analyze(text)
    header("template miner alone")
    bench_miner(text)
    header("grouping accuracy on tests/data/logs (Loghub metric)")
    bench_accuracy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
