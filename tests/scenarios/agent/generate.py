"""Writes the large evidence files of the agent scenarios
(`python -m tests.scenarios.agent.generate`).

The short files (`kubectl describe`, `openssl s_client`, `df -h`, configs, EXPLAIN
output) are written by hand and committed as they are. The long ones — logs, thread
dumps, metric dumps, event lists — are committed too, and this script is how they were
made: each scenario's incident lines are written by hand below, and the noise around
them (healthy requests, routine INFO lines, other pods' events) is drawn from a
generator seeded with the scenario's name, so every run writes the same bytes (a unit
test checks that the committed files are this script's output). Nothing here is copied
from a public data set.
"""

# The f-strings below that look like SQL are log lines quoting statements, never run.
# ruff: noqa: S608

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
DAY = datetime(2026, 11, 30, tzinfo=UTC)

Writer = Callable[[Path, random.Random], None]
SCENARIOS: dict[str, Writer] = {}


def scenario(slug: str) -> Callable[[Writer], Writer]:
    def register(writer: Writer) -> Writer:
        SCENARIOS[slug] = writer
        return writer

    return register


def ticks(start: datetime, count: int, rng: random.Random, mean_ms: float) -> Iterator[datetime]:
    """`count` increasing instants from `start`, about `mean_ms` apart."""
    now = start
    for _ in range(count):
        now += timedelta(milliseconds=rng.expovariate(1 / mean_ms))
        yield now


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def spring(at: datetime, level: str, thread: str, logger: str, message: str) -> str:
    return f"{iso(at)} {level:5} 1 --- [{thread:>15}] {logger:40} : {message}"


def clf(at: datetime) -> str:
    return at.strftime("%d/%b/%Y:%H:%M:%S +0000")


_PATHS = [
    "/api/v1/orders",
    "/api/v1/orders/{n}",
    "/api/v1/cart",
    "/api/v1/catalog/items/{n}",
    "/api/v1/users/me",
    "/healthz",
    "/api/v1/search?q=boots",
    "/static/app.{n}.js",
]
_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 Version/18.1 Safari/605",
    "kube-probe/1.30",
    "okhttp/4.12.0",
    "curl/8.5.0",
]


def nginx_line(at: datetime, rng: random.Random, status: int = 200, path: str = "") -> str:
    path = path or rng.choice(_PATHS).replace("{n}", str(rng.randint(1000, 99999)))
    method = "POST" if path in ("/api/v1/orders", "/api/v1/cart") and rng.random() < 0.5 else "GET"
    size = rng.randint(120, 48000) if status < 400 else rng.randint(150, 600)
    rt = rng.uniform(0.002, 0.180) if status < 500 else rng.uniform(0.5, 30.0)
    agent = rng.choice(_AGENTS)
    client = f"198.51.100.{rng.randint(2, 254)}"
    return (
        f'{client} - - [{clf(at)}] "{method} {path} HTTP/1.1" {status} {size} "-" "{agent}" '
        f"rt={rt:.3f} uct=0.001 urt={rt:.3f}"
    )


def write(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


_ROUTINE = [
    ("o.s.web.servlet.DispatcherServlet", "Completed 200 OK"),
    ("c.s.orders.web.OrderController", "GET /api/v1/orders/{n} customer={n} items=3"),
    ("c.s.orders.service.PricingService", "priced cart {n} in 4ms (rules=17)"),
    ("o.h.engine.internal.StatisticsImpl", "Session metrics: 1 JDBC statement, 2 ms"),
    ("c.s.orders.client.CatalogClient", "catalog lookup item={n} cache=hit"),
    ("c.s.common.audit.AuditPublisher", "published audit event order.viewed id={n}"),
]


def routine(at: datetime, rng: random.Random, service: str = "orders") -> str:
    logger, message = rng.choice(_ROUTINE)
    message = message.replace("{n}", str(rng.randint(10000, 999999)))
    thread = f"http-nio-8080-exec-{rng.randint(1, 200)}"
    return spring(at, "INFO", thread, logger.replace("orders", service), message)


# --- 1. connection-pool exhaustion ----------------------------------------------------


@scenario("db-pool-exhaustion")
def db_pool(out: Path, rng: random.Random) -> None:
    lines: list[str] = []
    start = DAY.replace(hour=13, minute=50)
    for at in ticks(start, 1200, rng, 900):
        incident = at >= DAY.replace(hour=14, minute=2)
        roll = rng.random()
        if incident and roll < 0.22:
            waiting = rng.randint(90, 160)
            lines.append(
                spring(
                    at,
                    "ERROR",
                    f"http-nio-8080-exec-{rng.randint(1, 200)}",
                    "o.h.engine.jdbc.spi.SqlExceptionHelper",
                    "HikariPool-1 - Connection is not available, request timed out after "
                    f"30000ms (total=20, active=20, idle=0, waiting={waiting})",
                )
            )
        elif incident and roll < 0.26:
            lines.append(
                spring(
                    at,
                    "WARN",
                    "HikariPool-1 housekeeper",
                    "com.zaxxer.hikari.pool.HikariPool",
                    "HikariPool-1 - Thread starvation or clock leap detected "
                    "(housekeeper delta=1m2s).",
                )
            )
        elif incident and roll < 0.28:
            lines.append(
                spring(
                    at,
                    "WARN",
                    f"http-nio-8080-exec-{rng.randint(1, 200)}",
                    "c.s.orders.service.ReportExportService",
                    "export job report-export holding connection for 248s "
                    "(SELECT * FROM order_lines WHERE created_at > now() - interval '90 days')",
                )
            )
        else:
            lines.append(routine(at, rng))
    lines.insert(
        200,
        spring(
            DAY.replace(hour=13, minute=52, second=11),
            "INFO",
            "main",
            "com.zaxxer.hikari.HikariDataSource",
            "HikariPool-1 - Start completed. maximumPoolSize=20, connectionTimeout=30000",
        ),
    )
    write(out / "orders-api.log", lines)
    # Prometheus range query result, as `curl /api/v1/query_range` returns it.
    base = int(DAY.replace(hour=13, minute=50).timestamp())
    series = []
    for metric, shape in (
        ("hikaricp_connections_active", lambda i: 6 + rng.randint(0, 4) if i < 24 else 20),
        ("hikaricp_connections_pending", lambda i: 0 if i < 24 else 80 + rng.randint(0, 80)),
    ):
        values = [[base + 30 * i, str(shape(i))] for i in range(60)]
        series.append(
            {
                "metric": {
                    "__name__": metric,
                    "pool": "HikariPool-1",
                    "application": "orders-api",
                    "pod": "orders-api-7d9c6b5f4-x2k8p",
                },
                "values": values,
            }
        )
    query = {"status": "success", "data": {"resultType": "matrix", "result": series}}
    (out / "hikari-metrics.json").write_text(json.dumps(query, indent=1) + "\n", "utf-8")


# --- 2. OOMKilled pod ---------------------------------------------------------------


@scenario("oomkilled-pod")
def oomkilled(out: Path, rng: random.Random) -> None:
    events = [
        "LAST SEEN   TYPE      REASON             OBJECT                                  MESSAGE"
    ]
    pods = ["cart-6c4d9f7b8-m2p9r", "search-7f5b8d6c9-kk3lw", "checkout-84d6f9c7b-tt6vn"]
    for _ in range(160):
        age = f"{rng.randint(1, 59)}m"
        roll = rng.random()
        if roll < 0.12:
            events.append(
                f"{age:<11} Warning   OOMKilling         "
                "node/ip-10-20-3-41.eu-west-1.compute.internal"
                f"   Memory cgroup out of memory: Killed process {rng.randint(2000, 9000)} (java) "
                "total-vm:4012312kB, anon-rss:523716kB, file-rss:0kB, shmem-rss:0kB, UID:1000 "
                "pgtables:1840kB oom_score_adj:-997"
            )
        elif roll < 0.2:
            events.append(
                f"{age:<11} Warning   BackOff            pod/recommender-5f8b7c9d6-q4wzt"
                "          Back-off restarting failed container recommender in pod "
                "recommender-5f8b7c9d6-q4wzt_shop"
            )
        else:
            pod = rng.choice(pods)
            reason, message = rng.choice(
                [
                    ("Scheduled", f"Successfully assigned shop/{pod} to ip-10-20-1-12"),
                    ("Pulled", "Container image already present on machine"),
                    ("Created", "Created container app"),
                    ("Started", "Started container app"),
                    ("SuccessfulCreate", f"Created pod: {pod}"),
                    ("ScalingReplicaSet", "Scaled up replica set to 4"),
                ]
            )
            events.append(f"{age:<11} Normal    {reason:<18} pod/{pod:<36} {message}")
    write(out / "events.txt", events)
    lines: list[str] = []
    start = DAY.replace(hour=14, minute=18, second=44)
    cache = 1000
    for at in ticks(start, 900, rng, 800):
        cache = min(250000, cache + rng.randint(80, 240))
        roll = rng.random()
        if roll < 0.05:
            lines.append(
                spring(
                    at,
                    "INFO",
                    "cache-loader-1",
                    "c.s.reco.model.EmbeddingCache",
                    f"loaded embeddings for {cache} items (cache size {cache}/250000, "
                    f"heap used {min(505, 180 + cache // 800)}MB of 512MB)",
                )
            )
        elif roll < 0.07:
            lines.append(
                spring(
                    at,
                    "WARN",
                    "G1 Conc#0",
                    "c.s.reco.jvm.GcMonitor",
                    f"GC overhead {rng.randint(40, 97)}% over last 60s (Full GC count "
                    f"{rng.randint(3, 40)})",
                )
            )
        else:
            lines.append(routine(at, rng, service="reco"))
    lines.append(
        spring(
            start + timedelta(minutes=12, seconds=12),
            "ERROR",
            "cache-loader-1",
            "c.s.reco.model.EmbeddingCache",
            "Terminating due to java.lang.OutOfMemoryError: Java heap space",
        )
    )
    lines += [
        "java.lang.OutOfMemoryError: Java heap space",
        "\tat java.base/java.util.Arrays.copyOf(Arrays.java:3537)",
        "\tat java.base/java.util.HashMap.resize(HashMap.java:702)",
        "\tat com.shop.reco.model.EmbeddingCache.put(EmbeddingCache.java:88)",
        "\tat com.shop.reco.model.EmbeddingCache.warm(EmbeddingCache.java:61)",
        "\tat com.shop.reco.model.CacheLoader.run(CacheLoader.java:40)",
        "\tat java.base/java.lang.Thread.run(Thread.java:1583)",
    ]
    write(out / "recommender-previous.log", lines)


# --- 3. DNS resolution failure ------------------------------------------------------


@scenario("dns-resolution-failure")
def dns(out: Path, rng: random.Random) -> None:
    lines: list[str] = []
    start = DAY.replace(hour=9, minute=0)
    for at in ticks(start, 1000, rng, 900):
        incident = at >= DAY.replace(hour=9, minute=7, second=30)
        stamp = at.strftime("%Y/%m/%d %H:%M:%S")
        roll = rng.random()
        if incident and roll < 0.3:
            lines.append(
                f'{stamp} level=error service=checkout msg="ledger call failed" '
                'err="Post \\"http://ledger.payments.svc.cluster.local:8080/v1/entries\\": '
                'dial tcp: lookup ledger.payments.svc.cluster.local: i/o timeout" '
                f"attempt={rng.randint(1, 3)} trace_id={rng.getrandbits(64):016x}"
            )
        elif incident and roll < 0.33:
            lines.append(
                f'{stamp} level=warn service=checkout msg="circuit breaker open" '
                "dependency=ledger failures=50 window=30s"
            )
        else:
            lines.append(
                f'{stamp} level=info service=checkout msg="request served" '
                f"method=POST path=/v1/checkout status=200 duration_ms={rng.randint(12, 90)} "
                f"trace_id={rng.getrandbits(64):016x}"
            )
    write(out / "checkout.log", lines)
    core: list[str] = [
        "[INFO] plugin/reload: Running configuration SHA512 = 7be0d1f0a3c2",
        "CoreDNS-1.11.3",
        "linux/amd64, go1.22.7, a6338e9",
    ]
    for at in ticks(start, 900, rng, 1000):
        incident = at >= DAY.replace(hour=9, minute=7, second=30)
        if incident and rng.random() < 0.35:
            core.append(
                "[ERROR] plugin/errors: 2 ledger.payments.svc.cluster.local. A: "
                "plugin/forward: no healthy upstreams"
            )
        elif incident and rng.random() < 0.1:
            core.append(
                "[WARNING] plugin/kubernetes: Kubernetes API connection failure: "
                'Get "https://kubernetes.default.svc:443/version": dial tcp: i/o timeout'
            )
        else:
            name = rng.choice(
                [
                    "cart.shop.svc.cluster.local.",
                    "search.shop.svc.cluster.local.",
                    "api.github.com.",
                ]
            )
            core.append(
                f"[INFO] 10.0.{rng.randint(0, 9)}.{rng.randint(2, 250)}:"
                f"{rng.randint(30000, 60000)} "
                f'- {rng.randint(1, 65000)} "A IN {name} udp 62 false 1232" NOERROR qr,aa,rd '
                f"{rng.randint(80, 300)} 0.000{rng.randint(100, 999)}s"
            )
    core.insert(
        700,
        "[INFO] Reloading complete: Corefile changed (configmap coredns, resourceVersion 918273)",
    )
    write(out / "coredns.log", core)


# --- 4. TLS certificate expiry ------------------------------------------------------


@scenario("tls-cert-expiry")
def tls(out: Path, rng: random.Random) -> None:
    lines: list[str] = []
    start = DAY.replace(hour=5, minute=30)
    for at in ticks(start, 1000, rng, 4000):
        stamp = at.strftime("%Y/%m/%d %H:%M:%S")
        incident = at >= DAY.replace(hour=6, minute=14, second=9)
        if incident and rng.random() < 0.4:
            lines.append(
                f"{stamp} [error] 31#31: *{rng.randint(100000, 999999)} upstream SSL certificate "
                "verify error: (10:certificate has expired) while SSL handshaking to upstream, "
                'client: 198.51.100.23, server: payments-gw, request: "POST /v2/transfers '
                'HTTP/1.1", upstream: "https://api.partner-bank.example:443/v2/transfers", '
                'host: "payments-gw.shop.internal"'
            )
        elif rng.random() < 0.05:
            lines.append(
                f"{stamp} [warn] 31#31: *{rng.randint(100000, 999999)} an upstream response is "
                "buffered to a temporary file /var/cache/nginx/proxy_temp/1/00/0000000001 while "
                'reading upstream, client: 198.51.100.40, server: payments-gw, request: "GET '
                '/v2/statements HTTP/1.1"'
            )
        else:
            lines.append(
                f"{stamp} [info] 31#31: *{rng.randint(100000, 999999)} client 198.51.100."
                f"{rng.randint(2, 250)} closed keepalive connection"
            )
    write(out / "payments-gw-error.log", lines)


# --- 5. disk full -------------------------------------------------------------------


@scenario("disk-full")
def disk(out: Path, rng: random.Random) -> None:
    lines: list[str] = []
    start = DAY.replace(hour=2, minute=0)
    for at in ticks(start, 1000, rng, 2000):
        stamp = at.strftime("%Y-%m-%d %H:%M:%S.") + f"{at.microsecond // 1000:03d} UTC"
        pid = rng.randint(1000, 40000)
        incident = at >= DAY.replace(hour=2, minute=21)
        roll = rng.random()
        if incident and roll < 0.25:
            lines.append(
                f"{stamp} [{pid}] orders@orders ERROR:  could not extend file "
                f'"base/16384/{rng.randint(16400, 16900)}": No space left on device'
            )
            lines.append(f"{stamp} [{pid}] orders@orders HINT:  Check free disk space.")
        elif incident and roll < 0.28:
            lines.append(f"{stamp} [812] LOG:  archive command failed with exit code 1")
            lines.append(
                f"{stamp} [812] DETAIL:  The failed archive command was: aws s3 cp "
                f'"pg_wal/0000000100000A2B000000{rng.randint(10, 99)}" '
                '"s3://orders-wal-archive/16/0000000100000A2B" --only-show-errors'
            )
        elif incident and roll < 0.29:
            lines.append(
                f'{stamp} [788] PANIC:  could not write to file "pg_wal/xlogtemp.788": '
                "No space left on device"
            )
        elif roll < 0.05:
            lines.append(
                f"{stamp} [{pid}] LOG:  checkpoint complete: wrote {rng.randint(200, 9000)} "
                f"buffers ({rng.uniform(0.1, 5):.1f}%); 0 WAL file(s) added, 0 removed, "
                f"{rng.randint(1, 40)} recycled; write={rng.uniform(1, 200):.3f} s"
            )
        else:
            lines.append(
                f"{stamp} [{pid}] orders@orders LOG:  duration: {rng.uniform(0.2, 40):.3f} ms  "
                f"statement: SELECT id, status FROM orders WHERE id = {rng.randint(1, 10**7)}"
            )
    write(out / "postgresql-2026-11-30.log", lines)


# --- 6. bad deploy ------------------------------------------------------------------


@scenario("bad-deploy")
def bad_deploy(out: Path, rng: random.Random) -> None:
    release = DAY.replace(hour=14, minute=5, second=12)
    lines: list[str] = []
    for at in ticks(DAY.replace(hour=13, minute=40), 1000, rng, 2500):
        after = at >= release
        path = ""
        status = 200
        if after and rng.random() < 0.35:
            status, path = 500, f"/api/v1/cart/{rng.randint(1000, 99999)}/checkout"
        elif rng.random() < 0.02:
            status = 404
        lines.append(nginx_line(at, rng, status, path))
    write(out / "ingress-access.log", lines)
    app: list[str] = []
    for at in ticks(release - timedelta(minutes=3), 600, rng, 1000):
        if at >= release and rng.random() < 0.2:
            app.append(
                spring(
                    at,
                    "ERROR",
                    f"http-nio-8080-exec-{rng.randint(1, 200)}",
                    "o.a.c.c.C.[.[.[/].[dispatcherServlet]",
                    "Servlet.service() for servlet [dispatcherServlet] threw exception "
                    "java.lang.NullPointerException: Cannot invoke "
                    '"com.shop.cart.promo.Coupon.getDiscount()" because "coupon" is null',
                )
            )
            app += [
                "java.lang.NullPointerException: Cannot invoke "
                '"com.shop.cart.promo.Coupon.getDiscount()" because "coupon" is null',
                "\tat com.shop.cart.checkout.TotalsCalculator.applyPromotions"
                "(TotalsCalculator.java:142)",
                "\tat com.shop.cart.checkout.CheckoutService.checkout(CheckoutService.java:77)",
                "\tat com.shop.cart.web.CheckoutController.checkout(CheckoutController.java:39)",
            ]
        else:
            app.append(routine(at, rng, service="cart"))
    app.insert(
        200,
        spring(
            release,
            "INFO",
            "main",
            "c.s.cart.CartApplication",
            "Started CartApplication v2.14.0 (git 4e7a1c9, feature flag promo-stacking=on) "
            "in 9.8 seconds",
        ),
    )
    write(out / "cart-service.log", app)


# --- 7. Kafka consumer lag ----------------------------------------------------------


@scenario("kafka-consumer-lag")
def kafka(out: Path, rng: random.Random) -> None:
    rows = [
        "$ kafka-consumer-groups.sh --bootstrap-server kafka-0.kafka:9092 --describe "
        "--group orders-enricher",
        "",
        "GROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG     "
        "CONSUMER-ID                                          HOST            CLIENT-ID",
    ]
    total = 0
    for partition in range(12):
        current = 48_000_000 + rng.randint(0, 900_000)
        lag = rng.randint(95_000, 140_000) if partition < 9 else rng.randint(0, 40)
        total += lag
        consumer = (
            f"enricher-{partition % 3}-{rng.getrandbits(48):012x}"
            if partition < 9
            else f"enricher-3-{rng.getrandbits(48):012x}"
        )
        rows.append(
            f"orders-enricher order-events    {partition:<10} {current:<15} {current + lag:<15} "
            f"{lag:<7} {consumer:<52} /10.4.{partition}.9      enricher"
        )
    write(out / "consumer-groups.txt", rows)
    lines: list[str] = []
    for at in ticks(DAY.replace(hour=11, minute=0), 700, rng, 900):
        roll = rng.random()
        if roll < 0.06:
            lines.append(
                spring(
                    at,
                    "WARN",
                    "kafka-coordinator-heartbeat-thread | orders-enricher",
                    "o.a.k.c.c.i.ConsumerCoordinator",
                    "[Consumer clientId=enricher, groupId=orders-enricher] consumer poll "
                    "timeout has expired. This means the time between subsequent calls to "
                    "poll() was longer than the configured max.poll.interval.ms, which "
                    "typically implies that the poll loop is spending too much time "
                    "processing messages.",
                )
            )
        elif roll < 0.1:
            lines.append(
                spring(
                    at,
                    "ERROR",
                    "org.springframework.kafka.KafkaListenerEndpointContainer#0-0-C-1",
                    "o.s.k.l.KafkaMessageListenerContainer",
                    "Consumer exception: org.apache.kafka.clients.consumer."
                    "CommitFailedException: Offset commit cannot be completed since the "
                    "consumer is not part of an active group for auto partition assignment; "
                    "it is likely that the consumer was kicked out of the group.",
                )
            )
        elif roll < 0.14:
            lines.append(
                spring(
                    at,
                    "INFO",
                    "org.springframework.kafka.KafkaListenerEndpointContainer#0-0-C-1",
                    "o.a.k.c.c.i.ConsumerCoordinator",
                    "[Consumer clientId=enricher, groupId=orders-enricher] Revoke previously "
                    "assigned partitions order-events-0, order-events-3, order-events-6",
                )
            )
        else:
            lines.append(
                spring(
                    at,
                    "INFO",
                    "org.springframework.kafka.KafkaListenerEndpointContainer#0-0-C-1",
                    "c.s.enricher.OrderEnricher",
                    f"enriched batch of 500 records in {rng.randint(240, 420)}s "
                    "(geo-lookup p95 610ms per record)",
                )
            )
    write(out / "enricher.log", lines)
    exposition = [
        "# HELP kafka_consumergroup_lag Current approximate lag of a consumer group at "
        "topic/partition",
        "# TYPE kafka_consumergroup_lag gauge",
    ]
    for partition in range(12):
        exposition.append(
            f'kafka_consumergroup_lag{{consumergroup="orders-enricher",partition="{partition}",'
            f'topic="order-events"}} {rng.randint(95_000, 140_000) if partition < 9 else 12}'
        )
    exposition += [
        "# HELP kafka_consumergroup_members Number of members in the consumer group",
        "# TYPE kafka_consumergroup_members gauge",
        'kafka_consumergroup_members{consumergroup="orders-enricher"} 4',
        "# HELP kafka_topic_partition_current_offset Current offset of a broker at topic/partition",
        "# TYPE kafka_topic_partition_current_offset gauge",
    ]
    for partition in range(12):
        exposition.append(
            f'kafka_topic_partition_current_offset{{partition="{partition}",'
            f'topic="order-events"}} {48_000_000 + rng.randint(0, 1_000_000)}'
        )
    write(out / "kafka-exporter.prom", exposition)


# --- 8. thread-pool starvation ------------------------------------------------------


@scenario("thread-pool-starvation")
def thread_pool(out: Path, rng: random.Random) -> None:
    dump = [
        "2026-11-30 16:42:07",
        "Full thread dump OpenJDK 64-Bit Server VM (21.0.5+11-LTS mixed mode, sharing):",
        "",
        "Threads class SMR info:",
        "_java_thread_list=0x00007f3a9c01f2a0, length=231, elements={",
        "0x00007f3b4802a000, 0x00007f3b4802c800, 0x00007f3b48031000, 0x00007f3b48033000",
        "}",
        "",
    ]
    for i in range(1, 201):
        tid = 0x7F3A00000000 + i * 0x1000
        dump += [
            f'"http-nio-8080-exec-{i}" #{40 + i} daemon prio=5 os_prio=0 cpu=812.33ms '
            f"elapsed=3811.52s tid=0x{tid:016x} nid={9000 + i} waiting on condition  "
            "[0x00007f39d1dfe000]",
            "   java.lang.Thread.State: WAITING (parking)",
            "\tat jdk.internal.misc.Unsafe.park(java.base@21.0.5/Native Method)",
            f"\t- parking to wait for  <0x00000000c{i:07x}> (a java.util.concurrent."
            "CompletableFuture$Signaller)",
            "\tat java.util.concurrent.locks.LockSupport.park"
            "(java.base@21.0.5/LockSupport.java:371)",
            "\tat java.util.concurrent.CompletableFuture$Signaller.block"
            "(java.base@21.0.5/CompletableFuture.java:1898)",
            "\tat java.util.concurrent.CompletableFuture.join(java.base@21.0.5/"
            "CompletableFuture.java:2117)",
            "\tat com.shop.inventory.client.StockClient.reserveAll(StockClient.java:58)",
            "\tat com.shop.orders.service.PlaceOrderService.place(PlaceOrderService.java:104)",
            "\tat com.shop.orders.web.OrderController.create(OrderController.java:51)",
            "\tat org.apache.tomcat.util.threads.ThreadPoolExecutor.runWorker"
            "(ThreadPoolExecutor.java:1190)",
            "",
        ]
    for i in range(1, 9):
        dump += [
            f'"stock-client-{i}" #{300 + i} prio=5 os_prio=0 cpu=20411.02ms elapsed=3810.90s '
            f"tid=0x00007f3a7{i:011x} nid={9500 + i} runnable  [0x00007f39a11fd000]",
            "   java.lang.Thread.State: RUNNABLE",
            "\tat sun.nio.ch.Net.poll(java.base@21.0.5/Native Method)",
            "\tat sun.nio.ch.NioSocketImpl.park(java.base@21.0.5/NioSocketImpl.java:191)",
            "\tat sun.nio.ch.NioSocketImpl.timedRead(java.base@21.0.5/NioSocketImpl.java:280)",
            "\tat java.net.SocketInputStream.read(java.base@21.0.5/SocketInputStream.java:68)",
            "\tat com.shop.inventory.client.StockClient.lambda$reserveAll$0(StockClient.java:52)",
            "\tat java.util.concurrent.ThreadPoolExecutor.runWorker"
            "(java.base@21.0.5/ThreadPoolExecutor.java:1144)",
            "",
        ]
    dump += [
        '"GC Thread#0" os_prio=0 cpu=1822.14ms elapsed=3812.01s tid=0x00007f3b48051000 '
        "nid=8812 runnable",
        '"VM Thread" os_prio=0 cpu=402.19ms elapsed=3811.98s tid=0x00007f3b481d4000 nid=8820 '
        "runnable",
        "",
        "JNI global refs: 24, weak refs: 0",
    ]
    write(out / "orders-threaddump.txt", dump)
    lines: list[str] = []
    for at in ticks(DAY.replace(hour=16, minute=20), 900, rng, 1200):
        incident = at >= DAY.replace(hour=16, minute=31)
        roll = rng.random()
        if incident and roll < 0.15:
            lines.append(
                spring(
                    at,
                    "WARN",
                    "http-nio-8080-Acceptor",
                    "o.apache.tomcat.util.net.NioEndpoint",
                    "All threads (200) are currently busy, waiting. Increase maxThreads (200) "
                    "or check the servlet status",
                )
            )
        elif incident and roll < 0.25:
            lines.append(
                spring(
                    at,
                    "ERROR",
                    f"http-nio-8080-exec-{rng.randint(1, 200)}",
                    "c.s.orders.web.ErrorHandler",
                    "request failed: java.util.concurrent.TimeoutException: "
                    "StockClient.reserveAll did not complete within 30000ms "
                    "(stock-client pool: active=8, queued=1742)",
                )
            )
        else:
            lines.append(routine(at, rng))
    write(out / "orders-api.log", lines)


# --- 9. Redis eviction storm --------------------------------------------------------


@scenario("redis-eviction-storm")
def redis_storm(out: Path, rng: random.Random) -> None:
    lines: list[str] = []
    for at in ticks(DAY.replace(hour=19, minute=0), 1500, rng, 400):
        incident = at >= DAY.replace(hour=19, minute=4)
        roll = rng.random()
        stamp = iso(at)
        if incident and roll < 0.2:
            lines.append(
                f'{{"ts":"{stamp}","level":"warn","svc":"web-bff","msg":"session lookup miss, '
                f'user logged out","session_store":"redis",'
                f'"key":"sess:{rng.getrandbits(40):010x}"}}'
            )
        elif incident and roll < 0.25:
            lines.append(
                f'{{"ts":"{stamp}","level":"error","svc":"web-bff","msg":"cache stampede: '
                f'recomputing recs:precomputed:all","duration_ms":{rng.randint(8000, 20000)}}}'
            )
        else:
            lines.append(
                f'{{"ts":"{stamp}","level":"info","svc":"web-bff","msg":"request",'
                f'"path":"/home","status":200,"ms":{rng.randint(8, 60)}}}'
            )
    write(out / "web-bff.log", lines)
    metrics = [
        "# HELP redis_evicted_keys_total evicted_keys metric",
        "# TYPE redis_evicted_keys_total counter",
        'redis_evicted_keys_total{instance="sessions-cache:6379"} 18204419',
        "# HELP redis_memory_used_bytes used_memory metric",
        "# TYPE redis_memory_used_bytes gauge",
        'redis_memory_used_bytes{instance="sessions-cache:6379"} 4294412288',
        "# HELP redis_memory_max_bytes maxmemory metric",
        "# TYPE redis_memory_max_bytes gauge",
        'redis_memory_max_bytes{instance="sessions-cache:6379"} 4294967296',
        "# HELP redis_keyspace_hits_total keyspace_hits metric",
        "# TYPE redis_keyspace_hits_total counter",
        'redis_keyspace_hits_total{instance="sessions-cache:6379"} 71022871',
        "# HELP redis_keyspace_misses_total keyspace_misses metric",
        "# TYPE redis_keyspace_misses_total counter",
        'redis_keyspace_misses_total{instance="sessions-cache:6379"} 59381120',
    ]
    write(out / "redis-exporter.prom", metrics)


# --- 10. rate-limited upstream ------------------------------------------------------


@scenario("rate-limited-upstream")
def rate_limited(out: Path, rng: random.Random) -> None:
    lines: list[str] = []
    for at in ticks(DAY.replace(hour=10, minute=0), 1500, rng, 1000):
        incident = at >= DAY.replace(hour=10, minute=12)
        stamp = iso(at)
        roll = rng.random()
        if incident and roll < 0.3:
            lines.append(
                f"{stamp} WARN  [geo-worker-{rng.randint(1, 32)}] GeocodeClient - upstream "
                "geo-upstream answered 429 Too Many Requests (x-ratelimit-limit=600, "
                "x-ratelimit-remaining=0, retry-after=60) for POST /v3/geocode"
            )
        elif incident and roll < 0.36:
            lines.append(
                f"{stamp} WARN  [geo-worker-{rng.randint(1, 32)}] RetryTemplate - retrying "
                f"POST /v3/geocode immediately (attempt {rng.randint(2, 5)}/5, backoff=0ms)"
            )
        elif incident and roll < 0.4:
            lines.append(
                f"{stamp} ERROR [geo-worker-{rng.randint(1, 32)}] AddressValidationJob - "
                "address validation failed after 5 attempts: rate_limit_exceeded"
            )
        else:
            lines.append(
                f"{stamp} INFO  [geo-worker-{rng.randint(1, 32)}] GeocodeClient - geocoded "
                f"address {rng.randint(10**6, 10**7)} in {rng.randint(40, 180)}ms"
            )
    write(out / "address-service.log", lines)


# --- 11. clock skew: JWT rejected ---------------------------------------------------


@scenario("clock-skew-jwt")
def clock_skew(out: Path, rng: random.Random) -> None:
    lines: list[str] = []
    for at in ticks(DAY.replace(hour=7, minute=0), 1200, rng, 700):
        stamp = iso(at)
        node = rng.choice(["api-gw-0", "api-gw-1", "api-gw-2"])
        if node == "api-gw-2" and rng.random() < 0.8:
            lines.append(
                f"{stamp} WARN  [{node}] JwtAuthFilter - JWT rejected: token not yet valid "
                "(iat is 184s in the future; allowed clock skew 30s) "
                f"kid=auth-2026-11 sub=user-{rng.randint(1000, 99999)}"
            )
        else:
            lines.append(
                f"{stamp} INFO  [{node}] AccessLog - GET /api/v1/profile 200 {rng.randint(5, 40)}ms"
            )
    write(out / "api-gateway.log", lines)


# --- 12. slow SQL after a missing index ---------------------------------------------


@scenario("slow-sql-missing-index")
def slow_sql(out: Path, rng: random.Random) -> None:
    lines: list[str] = []
    for at in ticks(DAY.replace(hour=12, minute=0), 1100, rng, 1600):
        stamp = at.strftime("%Y-%m-%d %H:%M:%S.") + f"{at.microsecond // 1000:03d} UTC"
        pid = rng.randint(1000, 40000)
        incident = at >= DAY.replace(hour=12, minute=15)
        if incident and rng.random() < 0.3:
            lines.append(
                f"{stamp} [{pid}] shop@shop LOG:  duration: {rng.uniform(4200, 9800):.3f} ms  "
                "execute <unnamed>: SELECT oi.* FROM order_items oi WHERE oi.customer_id = $1 "
                "ORDER BY oi.created_at DESC LIMIT 50"
            )
        elif rng.random() < 0.04:
            lines.append(f'{stamp} [{pid}] LOG:  automatic analyze of table "shop.public.sessions"')
        else:
            lines.append(
                f"{stamp} [{pid}] shop@shop LOG:  duration: {rng.uniform(0.1, 30):.3f} ms  "
                f"execute <unnamed>: SELECT * FROM carts WHERE id = $1"
            )
    write(out / "postgresql-slow.log", lines)


# --- 13. cron job overlap -----------------------------------------------------------


@scenario("cron-job-overlap")
def cron_overlap(out: Path, rng: random.Random) -> None:
    jobs = ["$ kubectl -n billing get jobs -l app=billing-reconcile"]
    jobs.append("NAME                          COMPLETIONS   DURATION   AGE")
    for i, (done, duration, age) in enumerate(
        [("0/1", "34m", "34m"), ("0/1", "24m", "24m"), ("0/1", "14m", "14m"), ("0/1", "4m", "4m")]
    ):
        jobs.append(f"billing-reconcile-2938{4710 + i * 10:<8}  {done:<13} {duration:<10} {age}")
    jobs.append("billing-reconcile-29384700    1/1           9m12s      44m")
    write(out / "jobs.txt", jobs)
    lines: list[str] = []
    for at in ticks(DAY.replace(hour=1, minute=0), 1000, rng, 2400):
        stamp = at.strftime("%Y-%m-%d %H:%M:%S.") + f"{at.microsecond // 1000:03d} UTC"
        pid = rng.randint(1000, 40000)
        incident = at >= DAY.replace(hour=1, minute=20)
        roll = rng.random()
        if incident and roll < 0.08:
            lines.append(f"{stamp} [{pid}] billing@billing ERROR:  deadlock detected")
            lines.append(
                f"{stamp} [{pid}] billing@billing DETAIL:  Process {pid} waits for ShareLock on "
                f"transaction {rng.randint(10**7, 10**8)}; blocked by process "
                f"{rng.randint(1000, 40000)}."
            )
            lines.append(
                f"{stamp} [{pid}] billing@billing STATEMENT:  UPDATE invoices SET "
                "reconciled_at = now() WHERE id = ANY($1) -- billing-reconcile"
            )
        elif incident and roll < 0.12:
            lines.append(
                f"{stamp} [{pid}] billing@billing LOG:  process {pid} still waiting for "
                "ShareLock on transaction after 1000.112 ms"
            )
        else:
            lines.append(
                f"{stamp} [{pid}] billing@billing LOG:  duration: {rng.uniform(0.1, 20):.3f} ms "
                " statement: SELECT id FROM invoices WHERE status = 'open' LIMIT 100"
            )
    write(out / "billing-db.log", lines)


# --- 14. memory leak ----------------------------------------------------------------


@scenario("memory-leak")
def memory_leak(out: Path, rng: random.Random) -> None:
    base = int(DAY.replace(hour=0).timestamp())
    values = []
    memory = 310_000_000
    for i in range(288):
        memory += rng.randint(2_400_000, 4_200_000)
        if i in (96, 192):
            memory = 310_000_000  # restarts
        values.append([base + 300 * i, str(memory)])
    query = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [
                {
                    "metric": {
                        "__name__": "container_memory_working_set_bytes",
                        "container": "notifications",
                        "namespace": "shop",
                        "pod": "notifications-6b9d8c7f5-h7tqz",
                    },
                    "values": values,
                }
            ],
        },
    }
    (out / "working-set.json").write_text(json.dumps(query) + "\n", encoding="utf-8")
    lines: list[str] = []
    start = DAY.replace(hour=15, minute=40)
    listeners = 10
    for at in ticks(start, 1500, rng, 1100):
        roll = rng.random()
        stamp = iso(at)
        if roll < 0.04:
            listeners += 11
            lines.append(
                f"{stamp} warn notifications (node:1) MaxListenersExceededWarning: Possible "
                f"EventEmitter memory leak detected. {listeners} message listeners added to "
                "[WebSocketHub]. Use emitter.setMaxListeners() to increase limit"
            )
        else:
            lines.append(
                f"{stamp} info notifications ws connection opened user={rng.randint(1000, 99999)} "
                f"subscriptions={rng.randint(1, 5)}"
            )
    lines += [
        "",
        "<--- Last few GCs --->",
        "",
        "[1:0x6b4c2e0] 28801012 ms: Mark-Compact 1012.4 (1043.2) -> 1008.9 (1041.6) MB, "
        "1342.11 / 0.00 ms  (average mu = 0.121, current mu = 0.018) allocation failure;",
        "",
        "<--- JS stacktrace --->",
        "",
        "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
        " 1: 0xb8a8a0 node::Abort() [node]",
        " 2: 0xa96834  [node]",
        " 3: 0xd5d130 v8::Utils::ReportOOMFailure(v8::internal::Isolate*, char const*, bool) "
        "[node]",
    ]
    write(out / "notifications.log", lines)


def main(root: Path = HERE) -> None:
    for slug, writer in SCENARIOS.items():
        out = root / slug
        out.mkdir(parents=True, exist_ok=True)
        writer(out, random.Random(slug))
        total = sum(
            p.stat().st_size for p in out.iterdir() if p.is_file() and p.name != "scenario.toml"
        )
        print(f"{slug:28} {total / 1024:8.1f} KiB")


if __name__ == "__main__":
    main()
