"""Deterministic synthetic logs, labeled with their event template, for log-analysis tests.

Run `python tests/data/logs/generate.py` to rewrite every file in this directory. For each
system it writes `<system>.log` and `<system>_structured.csv` (LineId, EventId,
EventTemplate): the ground truth of Loghub's "grouping accuracy". Lines follow the real
formats of those systems (header layout, component names, message wording, frequencies
modelled on the Loghub 2k samples) with varying parameters: numbers, ids, addresses, but
also user names, host names, program names and states, which cheap masking cannot erase.

It also writes small fixtures: stack traces (Python, Java, Go, with repeats), CRLF line
endings, invalid UTF-8, mixed/missing timestamps and JSON lines.

Labeling policy (Loghub's conventions): parameters are what varies between occurrences
of one event: numbers, ids, addresses, paths, names (users, hosts, programs, clients,
packages) and free text. The fixed vocabulary of a message is part of its template, even
where it takes a few values: actions and states (VM Started / VM Paused, startup /
shutdown, LOOKING / FOLLOWING), units (KB / MB), protocols (HTTPS / SOCKS5), HTTP methods.
Such words are written `alt(...)`: each value is its own event (EventId `E4[KB|GB]`).

Nothing here depends on the analyzer: the ground truth is the generator's event id.
"""

from __future__ import annotations

import csv
import json
import random
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
LINES_PER_SYSTEM = 2000

Fill = Callable[[random.Random], str]


# --- parameter generators ------------------------------------------------------------


def ip(r: random.Random) -> str:
    return f"10.{r.randint(250, 251)}.{r.randint(0, 255)}.{r.randint(1, 254)}"


def public_ip(r: random.Random) -> str:
    return ".".join(str(r.randint(1, 254)) for _ in range(4))


def port(r: random.Random) -> str:
    return str(r.randint(1024, 65535))


def hexs(n: int) -> Fill:
    return lambda r: "".join(r.choice("0123456789abcdef") for _ in range(n))


def uuid(r: random.Random) -> str:
    h = hexs(32)(r)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def num(low: int, high: int) -> Fill:
    return lambda r: str(r.randint(low, high))


def decimal(low: float, high: float, digits: int = 2) -> Fill:
    return lambda r: f"{r.uniform(low, high):.{digits}f}"


def pick(*values: str) -> Fill:
    return lambda r: r.choice(values)


def word(r: random.Random) -> str:
    return "".join(r.choice(string.ascii_lowercase) for _ in range(r.randint(4, 9)))


def blk(r: random.Random) -> str:
    sign = "-" if r.random() < 0.5 else ""
    return f"blk_{sign}{r.randint(10**17, 10**19 - 1)}"


@dataclass(frozen=True)
class Alt:
    """Alternative wordings that are different events, not a parameter."""

    values: tuple[str, ...]


def alt(*values: str) -> Alt:
    return Alt(values)


@dataclass(frozen=True)
class Event:
    id: str
    weight: float
    level: str
    component: str
    message: str  # str.format template; every {field} is a parameter unless it is an Alt
    fields: dict[str, Fill | Alt]

    def render(self, r: random.Random) -> tuple[str, str, str]:
        """(message, event id, ground-truth template) of one occurrence."""
        chosen = {name: r.choice(f.values) for name, f in self.fields.items() if isinstance(f, Alt)}
        values = {
            name: chosen[name] if isinstance(fill, Alt) else fill(r)
            for name, fill in self.fields.items()
        }
        template = "".join(
            text + ("" if name is None else chosen.get(name, "<*>"))
            for text, name, _, _ in string.Formatter().parse(self.message)
        )
        event_id = self.id + (f"[{'|'.join(chosen.values())}]" if chosen else "")
        return self.message.format(**values), event_id, template


def ev(
    id_: str, weight: float, level: str, component: str, message: str, **fields: Fill | Alt
) -> Event:
    return Event(id_, weight, level, component, message, fields)


Header = Callable[[random.Random, float, Event, str], str]


@dataclass(frozen=True)
class System:
    name: str
    start: datetime
    mean_gap_s: float
    header: Header
    events: tuple[Event, ...]

    def lines(self, count: int) -> Iterator[tuple[str, str, str]]:
        """(line, event id, template) for `count` lines."""
        r = random.Random(self.name)
        moment = self.start.timestamp()
        weights = [e.weight for e in self.events]
        for _ in range(count):
            moment += r.expovariate(1 / self.mean_gap_s)
            event = r.choices(self.events, weights)[0]
            message, event_id, template = event.render(r)
            yield self.header(r, moment, event, message), event_id, template


def utc(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, UTC)


# --- systems ---------------------------------------------------------------------------

DATANODE_PORT = "50010"


def _hdfs_header(r: random.Random, moment: float, e: Event, message: str) -> str:
    return f"{utc(moment):%y%m%d %H%M%S} {r.randint(13, 9000)} {e.level} {e.component}: {message}"


HDFS = System(
    "hdfs",
    datetime(2008, 11, 9, 20, 35, tzinfo=UTC),
    0.4,
    _hdfs_header,
    (
        ev(
            "E5",
            22,
            "INFO",
            "dfs.DataNode$DataXceiver",
            "Receiving block {b} src: /{a}:{p} dest: /{c}:50010",
            b=blk,
            a=ip,
            p=port,
            c=ip,
        ),
        ev(
            "E11",
            21,
            "INFO",
            "dfs.DataNode$PacketResponder",
            "PacketResponder {n} for block {b} terminating",
            n=num(0, 2),
            b=blk,
        ),
        ev(
            "E9",
            21,
            "INFO",
            "dfs.DataNode$PacketResponder",
            "Received block {b} of size {s} from /{a}",
            b=blk,
            s=pick("67108864", "3549234", "91178"),
            a=ip,
        ),
        ev(
            "E26",
            21,
            "INFO",
            "dfs.FSNamesystem",
            "BLOCK* NameSystem.addStoredBlock: blockMap updated: {a}:50010 is added to {b} "
            "size {s}",
            a=ip,
            b=blk,
            s=num(1000, 67108864),
        ),
        ev(
            "E22",
            6,
            "INFO",
            "dfs.FSNamesystem",
            "BLOCK* NameSystem.allocateBlock: /user/root/rand{d}/_temporary/_task_{t}_m_{m}_0/"
            "part-{m} {b}",
            d=num(1, 9),
            t=num(200811092030, 200811092099),
            m=num(10000, 99999),
            b=blk,
        ),
        ev(
            "E21",
            6,
            "INFO",
            "dfs.FSDataset",
            "Deleting block {b} file /mnt/hadoop/dfs/data/current/subdir{d}/{b2}",
            b=blk,
            d=num(0, 63),
            b2=blk,
        ),
        ev(
            "E23",
            6,
            "INFO",
            "dfs.FSNamesystem",
            "BLOCK* NameSystem.delete: {b} is added to invalidSet of {a}:50010",
            b=blk,
            a=ip,
        ),
        ev(
            "E3", 3, "INFO", "dfs.DataNode", "{a}:50010 Served block {b} to /{c}", a=ip, b=blk, c=ip
        ),
        ev(
            "E4",
            2,
            "WARN",
            "dfs.DataNode",
            "{a}:50010:Got exception while serving {b} to /{c}:",
            a=ip,
            b=blk,
            c=ip,
        ),
        ev("E2", 2, "INFO", "dfs.DataBlockScanner", "Verification succeeded for {b}", b=blk),
        ev(
            "E6",
            1.5,
            "INFO",
            "dfs.DataNode$DataXceiver",
            "Received block {b} src: /{a}:{p} dest: /{c}:50010 of size {s}",
            b=blk,
            a=ip,
            p=port,
            c=ip,
            s=num(1000, 67108864),
        ),
        ev(
            "E18",
            0.6,
            "INFO",
            "dfs.DataNode",
            "{a}:50010 Starting thread to transfer block {b} to {c}:50010",
            a=ip,
            b=blk,
            c=ip,
        ),
        ev(
            "E16",
            0.6,
            "INFO",
            "dfs.DataNode",
            "{a}:50010:Transmitted block {b} to /{c}:50010",
            a=ip,
            b=blk,
            c=ip,
        ),
        ev(
            "E25",
            0.6,
            "INFO",
            "dfs.FSNamesystem",
            "BLOCK* ask {a}:50010 to replicate {b} to datanode(s) {c}:50010",
            a=ip,
            b=blk,
            c=ip,
        ),
        ev(
            "E7",
            0.5,
            "INFO",
            "dfs.DataNode$DataXceiver",
            "writeBlock {b} received exception java.io.IOException: {why}",
            b=blk,
            why=pick("Could not read from stream", "Connection reset by peer"),
        ),
        ev(
            "E10",
            0.4,
            "INFO",
            "dfs.DataNode$PacketResponder",
            "PacketResponder {b} {n} Exception java.io.InterruptedIOException: Interruped while "
            "waiting for IO on channel java.nio.channels.SocketChannel[connected local=/{a}:{p} "
            "remote=/{c}:50010]. 60000 millis timeout left.",
            b=blk,
            n=num(0, 2),
            a=ip,
            p=port,
            c=ip,
        ),
        ev(
            "E13",
            0.3,
            "INFO",
            "dfs.DataNode$DataXceiver",
            "Receiving empty packet for block {b}",
            b=blk,
        ),
        ev(
            "E24",
            0.3,
            "WARN",
            "dfs.PendingReplicationMonitor",
            "PendingReplicationMonitor timed out block {b}",
            b=blk,
        ),
        ev(
            "E1",
            0.2,
            "WARN",
            "dfs.DataNode",
            "{a}:50010:Adding an already existing block {b}",
            a=ip,
            b=blk,
        ),
    ),
)


def _apache_header(r: random.Random, moment: float, e: Event, message: str) -> str:
    return f"[{utc(moment):%a %b %d %H:%M:%S %Y}] [{e.level}] {message}"


_CGI = pick("awstats", "awstats.pl", "formmail", "test.cgi", "php", "nph-proxy.cgi")
APACHE = System(
    "apache",
    datetime(2005, 12, 4, 4, 47, tzinfo=UTC),
    30,
    _apache_header,
    (
        ev(
            "E1",
            33,
            "notice",
            "",
            "jk2_init() Found child {n} in scoreboard slot {s}",
            n=num(1000, 32000),
            s=num(6, 10),
        ),
        ev("E2", 32, "notice", "", "workerEnv.init() ok /etc/httpd/conf/workers2.properties"),
        ev("E3", 22, "error", "", "mod_jk child workerEnv in error state {n}", n=num(6, 9)),
        ev(
            "E4",
            6,
            "error",
            "",
            "[client {a}] Directory index forbidden by rule: /var/www/html/",
            a=public_ip,
        ),
        ev(
            "E5",
            2,
            "error",
            "",
            "jk2_init() Can't find child {n} in scoreboard",
            n=num(1000, 32000),
        ),
        ev("E6", 2, "error", "", "mod_jk child init {a} {b}", a=num(1, 2), b=pick("-2", "-1")),
        ev(
            "E7",
            1.5,
            "error",
            "",
            "[client {a}] File does not exist: /var/www/html/{f}",
            a=public_ip,
            f=pick(
                "favicon.ico",
                "robots.txt",
                "phpmyadmin",
                "MSOffice",
                "_vti_bin",
                "scripts",
                "sumthin",
            ),
        ),
        ev(
            "E8",
            0.8,
            "error",
            "",
            "[client {a}] script not found or unable to stat: /var/www/cgi-bin/{f}",
            a=public_ip,
            f=_CGI,
        ),
        ev("E9", 0.3, "notice", "", "caught SIGTERM, shutting down"),
        ev(
            "E10",
            0.3,
            "notice",
            "",
            "Apache/2.0.49 (Fedora) configured -- resuming normal operations",
        ),
        ev("E11", 0.3, "notice", "", "Digest: generating secret for digest authentication ..."),
        ev("E12", 0.3, "notice", "", "Digest: done"),
        ev(
            "E13",
            0.4,
            "error",
            "",
            "[client {a}] client denied by server configuration: /var/www/html/{f}",
            a=public_ip,
            f=pick("admin", "server-status", ".htaccess"),
        ),
        ev(
            "E14",
            0.3,
            "error",
            "",
            "[client {a}] request failed: error reading the headers",
            a=public_ip,
        ),
    ),
)


_USERS = pick("root", "cyrus", "news", "test", "guest", "admin", "webmaster", "oracle")


def _linux_header(r: random.Random, moment: float, e: Event, message: str) -> str:
    stamp = f"{utc(moment):%b} {utc(moment).day:2d} {utc(moment):%H:%M:%S}"
    component = e.component.replace("PID", str(r.randint(1000, 32000)))
    return f"{stamp} combo {component}: {message}"


def _rhost(r: random.Random) -> str:
    return r.choice(
        [
            public_ip(r),
            f"{public_ip(r).replace('.', '-')}.hinet-ip.hinet.net",
            f"host{r.randint(1, 250)}.{r.choice(['adsl', 'dsl', 'cable'])}.example.net",
            f"{word(r)}.{r.choice(['com', 'net', 'ru', 'cn'])}",
        ]
    )


LINUX = System(
    "linux",
    datetime(2005, 6, 14, 15, 16, tzinfo=UTC),
    120,
    _linux_header,
    (
        ev(
            "E1",
            28,
            "",
            "sshd(pam_unix)[PID]",
            "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost={h}",
            h=_rhost,
        ),
        ev(
            "E2",
            12,
            "",
            "sshd(pam_unix)[PID]",
            "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost={h}  user={u}",
            h=_rhost,
            u=_USERS,
        ),
        ev("E3", 14, "", "sshd(pam_unix)[PID]", "check pass; user unknown"),
        ev(
            "E4",
            10,
            "",
            "su(pam_unix)[PID]",
            "session opened for user {u} by (uid={n})",
            u=_USERS,
            n=pick("0", "500", "509"),
        ),
        ev("E5", 10, "", "su(pam_unix)[PID]", "session closed for user {u}", u=_USERS),
        ev(
            "E6",
            5,
            "",
            "ftpd[PID]",
            "connection from {a} ({h}) at {d}",
            a=public_ip,
            h=lambda r: r.choice(["", f"{word(r)}.example.com", "adsl-dyn.isp.net"]),
            d=lambda r: (
                f"{r.choice(['Mon', 'Fri', 'Sat'])} Jun {r.randint(10, 28)} "
                f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d} 2005"
            ),
        ),
        ev("E7", 4, "", "logrotate", "ALERT exited abnormally with [1]"),
        ev(
            "E8",
            3,
            "",
            "xinetd[PID]",
            "START: {s} pid={p} from={a}",
            s=pick("ftp", "telnet", "rsync"),
            p=num(1000, 32000),
            a=public_ip,
        ),
        ev(
            "E9",
            2,
            "",
            "gpm[PID]",
            "*** info [startup.c(95)]: Started gpm successfully. Entered daemon mode.",
        ),
        ev(
            "E10",
            2,
            "",
            "kernel",
            "Memory: {a}k/{b}k available ({c}k kernel code, {d}k "
            "reserved, {e}k data, {f}k init, {g}k highmem)",
            a=num(120000, 130000),
            b=num(129000, 131000),
            c=num(1000, 2000),
            d=num(3000, 4000),
            e=num(500, 700),
            f=num(100, 200),
            g=num(0, 0),
        ),
        ev(
            "E11",
            2,
            "",
            "kernel",
            "Linux version 2.6.5-1.358 (bhcompile@bugs.build.redhat.com) "
            "(gcc version 3.3.3 20040412 (Red Hat Linux 3.3.3-7)) #1 Sat May 8 09:04:50 EDT 2004",
        ),
        ev("E12", 2, "", "syslogd 1.4.1", "restart."),
        ev("E13", 1.5, "", "syslog", "syslogd startup succeeded"),
        ev("E14", 1.5, "", "cups", "cupsd shutdown succeeded"),
        ev("E15", 1.5, "", "cups", "cupsd startup succeeded"),
        ev("E16", 1, "", "rpc.statd[PID]", "Version 1.0.6 Starting"),
        ev(
            "E17",
            1,
            "",
            "named[PID]",
            "lame server resolving '{h}' (in '{z}'?): {a}#53",
            h=lambda r: f"{word(r)}.{r.choice(['com', 'net', 'org'])}",
            z=lambda r: f"{word(r)}.{r.choice(['com', 'net', 'org'])}",
            a=public_ip,
        ),
        ev(
            "E18",
            1,
            "",
            "kernel",
            "audit({t}:{n}): initialized",
            t=num(1118000000, 1119000000),
            n=num(0, 9),
        ),
        ev(
            "E19",
            0.6,
            "",
            "sshd[PID]",
            "Did not receive identification string from {a}",
            a=public_ip,
        ),
    ),
)


def _windows_header(r: random.Random, moment: float, e: Event, message: str) -> str:
    return f"{utc(moment):%Y-%m-%d %H:%M:%S}, {e.level:<22}{e.component:<7}{message}"


def _kb_package(r: random.Random) -> str:
    kb, minor, build = r.randint(2500000, 3200000), r.randint(1, 4), r.randint(0, 9)
    return f"Package_for_KB{kb}~31bf3856ad364e35~amd64~~6.1.{minor}.{build}"


_E_FAIL = "[HRESULT = 0x80004005 - E_FAIL]"
_INVALID_ITEM = "[HRESULT = 0x800f080d - CBS_E_MANIFEST_INVALID_ITEM]"
_NOT_FOUND = "[HRESULT = 0x80070002 - ERROR_FILE_NOT_FOUND]"
WINDOWS = System(
    "windows",
    datetime(2016, 9, 28, 4, 30, tzinfo=UTC),
    2,
    _windows_header,
    (
        ev(
            "E1",
            14,
            "Info",
            "CBS",
            "Read out cached package applicability for package: {k}, "
            "ApplicableState: {a}, CurrentState:{c}",
            k=_kb_package,
            a=pick("112", "80", "0"),
            c=pick("112", "0", "32"),
        ),
        ev(
            "E2",
            10,
            "Info",
            "CSI",
            "{a}@{d} CSI Transaction @{p} initialized for deployment "
            "engine {{d16d444c-56d8-11d5-882d-0080c847b195}} with flags {f} and client id [{n}]"
            '"TI5.{s}:{q}/"',
            a=hexs(8),
            d=lambda r: (
                f"2016/9/28:20:{r.randint(10, 59)}:{r.randint(10, 59)}.{r.randint(100, 999)}"
            ),
            p=lambda r: "0x" + hexs(7)(r),
            f=pick("00000002", "00000000"),
            n=num(10, 99),
            s=num(30546174, 30546999),
            q=lambda r: f"{r.randint(1630000000, 1639999999)}:1",
        ),
        ev(
            "E3",
            8,
            "Info",
            "CBS",
            "Session: {s}_{t} initialized by client {c}.",
            s=num(30546174, 30546999),
            t=num(1630000000, 1639999999),
            c=pick("WindowsUpdateAgent", "DISM Package Manager Provider", "SPP"),
        ),
        ev("E4", 6, "Info", "CBS", "SQM: Initializing online with Windows opt-in: False"),
        ev("E5", 6, "Info", "CBS", "SQM: Cleaning up report files older than 10 days."),
        ev("E6", 6, "Info", "CBS", "SQM: Requesting upload of all unsent reports."),
        ev(
            "E7",
            6,
            "Info",
            "CBS",
            "SQM: Failed to start upload with file pattern: "
            f"C:\\Windows\\servicing\\sqm\\*_std.sqm, flags: 0x2 {_E_FAIL}",
        ),
        ev("E8", 6, "Info", "CBS", f"SQM: Failed to start standard sample upload. {_E_FAIL}"),
        ev(
            "E9",
            5,
            "Info",
            "CBS",
            "SQM: Queued {n} file(s) for upload with pattern: "
            "C:\\Windows\\servicing\\sqm\\*_all.sqm, flags: 0x6",
            n=num(0, 3),
        ),
        ev(
            "E10", 5, "Info", "CBS", f"SQM: Warning: Failed to upload all unsent reports. {_E_FAIL}"
        ),
        ev(
            "E11",
            4,
            "Info",
            "CBS",
            "Loaded Servicing Stack v6.1.7601.{v} with Core: "
            "C:\\Windows\\winsxs\\amd64_microsoft-windows-servicingstack_31bf3856ad364e35_6.1."
            "7601.{v}_none_{h}\\cbscore.dll",
            v=num(17514, 23505),
            h=hexs(16),
        ),
        ev("E12", 4, "Info", "CBS", "Ending TrustedInstaller initialization."),
        ev("E13", 4, "Info", "CBS", "Starting the TrustedInstaller main loop."),
        ev("E14", 4, "Info", "CBS", "TrustedInstaller service starts successfully."),
        ev(
            "E15",
            3,
            "Info",
            "CBS",
            "No startup processing required, TrustedInstaller service "
            "was not set as autostart, or else a reboot is still pending.",
        ),
        ev(
            "E16",
            3,
            "Info",
            "CBS",
            "NonStart: Checking to ensure startup processing was not required.",
        ),
        ev("E17", 3, "Info", "CBS", "Startup processing thread terminated normally"),
        ev("E18", 2, "Info", "CBS", "Warning: Unrecognized packageExtended attribute."),
        ev("E19", 2, "Info", "CBS", f"Expecting attribute name {_INVALID_ITEM}"),
        ev("E20", 2, "Info", "CBS", f"Failed to get next element {_INVALID_ITEM}"),
        ev(
            "E21",
            1,
            "Warning",
            "CBS",
            f"Failed to resolve package '{{k}}' {_NOT_FOUND}",
            k=_kb_package,
        ),
        ev("E22", 1, "Error", "CBS", f"Failed to internally open package. {_E_FAIL}"),
    ),
)


def _android_header(r: random.Random, moment: float, e: Event, message: str) -> str:
    pid = {"system": 1702, "ui": 2227, "phone": 2626}.get(e.component.split("/")[0], 1702)
    tag = e.component.split("/")[-1]
    stamp = f"{utc(moment):%m-%d %H:%M:%S}.{int(moment * 1000) % 1000:03d}"
    return f"{stamp} {pid:5d} {r.randint(1700, 9000):5d} {e.level} {tag}: {message}"


_PKG = pick(
    "com.tencent.qt.qtl",
    "com.android.systemui",
    "com.tencent.mm",
    "com.android.phone",
    "com.huawei.android.launcher",
    "com.sina.weibo",
)
_LOCK_TAG = pick('"View Lock"', '"RILJ_ACK_WL"', '"AudioMix"', '"*alarm*"', '"WindowManager"')
ANDROID = System(
    "android",
    datetime(2017, 3, 17, 16, 13, tzinfo=UTC),
    0.3,
    _android_header,
    (
        ev(
            "E1",
            16,
            "D",
            "system/PowerManagerService",
            "acquire lock={l}, flags=0x{f}, tag={t}, name={p}, ws=null, uid={u}, pid={q}",
            l=num(10**8, 10**9),
            f=pick("1", "0", "20"),
            t=_LOCK_TAG,
            p=_PKG,
            u=num(1000, 10100),
            q=num(1000, 9000),
        ),
        ev(
            "E2",
            16,
            "D",
            "system/PowerManagerService",
            "release:lock={l}, flg=0x0, tag={t}, name={p}, ws=null, uid={u}, pid={q}",
            l=num(10**8, 10**9),
            t=_LOCK_TAG,
            p=_PKG,
            u=num(1000, 10100),
            q=num(1000, 9000),
        ),
        ev(
            "E3",
            12,
            "D",
            "system/PowerManagerService",
            "ready=true,policy={p},wakefulness=1,wksummary=0x{w},uasummary=0x{u},"
            "bootcompleted=true,boostinprogress=false,waitmodeenable=false,mode=false,"
            "manual={m},auto=-1,adj=0.0userId=0",
            p=pick("3", "2"),
            w=pick("23", "1", "3"),
            u=pick("1", "0"),
            m=num(20, 60),
        ),
        ev(
            "E4",
            6,
            "V",
            "system/WindowManager",
            "Skipping AppWindowToken{{{a} token=Token{{{b} ActivityRecord{{{c} u0 {p}/{act} "
            "t{t}}}}}}} -- going to hide",
            a=hexs(7),
            b=hexs(7),
            c=hexs(7),
            p=_PKG,
            act=pick(".activity.info.NewsDetailXmlActivity", ".MainActivity", ".ui.LauncherUI"),
            t=num(700, 800),
        ),
        ev("E5", 6, "D", "ui/TextView", "visible is system.time.showampm"),
        ev("E6", 6, "D", "ui/TextView", "mVisiblity.getValue is {v}", v=alt("false", "true")),
        ev(
            "E7",
            5,
            "I",
            "system/DisplayPowerController",
            "Animating brightness: target={t}, rate={r}",
            t=num(20, 255),
            r=pick("200", "40"),
        ),
        ev(
            "E8",
            4,
            "D",
            "system/WindowManager",
            "printFreezingDisplayLogsopening app wtoken = AppWindowToken{{{a} token=Token{{{b} "
            "ActivityRecord{{{c} u0 {p}/.MainActivity t{t}}}}}}}, allDrawn= {d}, startingDisplayed "
            "=  {d}, startingMoved =  false, isRelaunching =  false",
            a=hexs(7),
            b=hexs(7),
            c=hexs(7),
            p=_PKG,
            t=num(700, 800),
            d=alt("false", "true"),
        ),
        ev(
            "E9",
            4,
            "I",
            "system/ActivityManager",
            "Start proc {n}:{p}/u0a{u} for {w} {p}/{c}",
            n=num(1000, 30000),
            p=_PKG,
            u=num(10, 300),
            w=alt("activity", "service", "broadcast"),
            c=pick(".MainService", ".push.PushReceiver", ".LauncherActivity"),
        ),
        ev(
            "E10",
            3,
            "I",
            "system/chatty",
            "uid=1000(system) Binder:1702_{b} expire {n} lines",
            b=pick("1", "2", "D", "A"),
            n=num(1, 40),
        ),
        ev(
            "E11",
            3,
            "D",
            "system/ConnectivityService",
            "notifyType CAP_CHANGED for NetworkAgentInfo [{t} () - {n}]",
            t=alt("WIFI", "MOBILE"),
            n=num(100, 200),
        ),
        ev(
            "E12",
            2,
            "W",
            "system/ActivityManager",
            "Unable to start service Intent {{ act={a} pkg={p} }} U=0: not found",
            a=pick("com.tencent.mm.push", "com.huawei.intent.action.PUSH"),
            p=_PKG,
        ),
        ev(
            "E13",
            2,
            "E",
            "system/AndroidRuntime",
            "FATAL EXCEPTION: {t}",
            t=pick("main", "Thread-12", "AsyncTask #3"),
        ),
        ev(
            "E14",
            2,
            "I",
            "system/ActivityManager",
            "Process {p} (pid {n}) has died",
            p=_PKG,
            n=num(1000, 30000),
        ),
        ev(
            "E15",
            2,
            "D",
            "phone/RILJ",
            "[{n}]> {c} [SUB{s}]",
            n=num(1000, 9999),
            c=alt("GET_CURRENT_CALLS", "SIGNAL_STRENGTH", "OPERATOR"),
            s=pick("0", "1"),
        ),
        ev(
            "E16",
            2,
            "W",
            "system/InputMethodManagerService",
            "Window already focused, ignoring focus gain of: com.android.internal.view."
            "IInputMethodClient$Stub$Proxy@{a} attribute=null, token = android.os.BinderProxy@{b}",
            a=hexs(7),
            b=hexs(7),
        ),
    ),
)


def _openstack_header(r: random.Random, moment: float, e: Event, message: str) -> str:
    service, _, component = e.component.partition(" ")
    pid = {"nova-api": 25746, "nova-compute": 2931, "nova-scheduler": 3110}[service]
    stamp = f"{utc(moment):%Y-%m-%d %H:%M:%S}.{int(moment * 1000) % 1000:03d}"
    context = (
        f"[req-{uuid(r)} {hexs(32)(r)} {hexs(32)(r)} - - -]"
        if service == "nova-api"
        else f"[req-{uuid(r)} - - - - -]"
    )
    prefix = f"{service}.log.1.2017-05-16_13:53:08"  # Loghub keeps the file name in front
    return f"{prefix} {stamp} {pid} {e.level} {component} {context} {message}"


def _instance(r: random.Random) -> str:
    return f"[instance: {uuid(r)}]"


_NODE = "cp-1.slowvm1.tcloud-pg0.utah.cloudlab.us"
_SECONDS = decimal(0.01, 30.0, 2)
OPENSTACK = System(
    "openstack",
    datetime(2017, 5, 16, 0, 0, tzinfo=UTC),
    0.6,
    _openstack_header,
    (
        ev(
            "E25",
            46,
            "INFO",
            "nova-api nova.osapi_compute.wsgi.server",
            '{a} "GET /v2/{t}/servers/detail HTTP/1.1" status: 200 len: {n} time: {s}',
            a=ip,
            t=hexs(32),
            n=num(1500, 2000),
            s=decimal(0.1, 0.4, 7),
        ),
        ev(
            "E26",
            4,
            "INFO",
            "nova-api nova.osapi_compute.wsgi.server",
            '{a} "POST /v2/{t}/os-server-external-events HTTP/1.1" status: 200 len: {n} time: {s}',
            a=ip,
            t=hexs(32),
            n=num(370, 390),
            s=decimal(0.05, 0.2, 7),
        ),
        ev(
            "E27",
            2,
            "INFO",
            "nova-api nova.osapi_compute.wsgi.server",
            '{a} "DELETE /v2/{t}/servers/{u} HTTP/1.1" status: 204 len: 203 time: {s}',
            a=ip,
            t=hexs(32),
            u=uuid,
            s=decimal(0.1, 0.4, 7),
        ),
        ev(
            "E25",
            3,
            "INFO",
            "nova-api nova.metadata.wsgi.server",
            '{a},{b} "GET /openstack/2013-10-17/meta_data.json HTTP/1.1" status: 200 len: {n} '
            "time: {s}",
            a=ip,
            b=ip,
            n=num(900, 1000),
            s=decimal(0.1, 0.4, 7),
        ),
        ev(
            "E25",
            3,
            "INFO",
            "nova-api nova.metadata.wsgi.server",
            '{a},{b} "GET /latest/meta-data/{k} HTTP/1.1" status: 200 len: {n} time: {s}',
            a=ip,
            b=ip,
            k=pick("instance-id", "hostname", "local-ipv4", "public-keys/"),
            n=num(100, 300),
            s=decimal(0.1, 0.4, 7),
        ),
        ev(
            "E1",
            4,
            "INFO",
            "nova-compute nova.compute.manager",
            "{i} VM Started (Lifecycle Event)",
            i=_instance,
        ),
        ev(
            "E2",
            3,
            "INFO",
            "nova-compute nova.compute.manager",
            "{i} VM Paused (Lifecycle Event)",
            i=_instance,
        ),
        ev(
            "E3",
            3,
            "INFO",
            "nova-compute nova.compute.manager",
            "{i} VM Resumed (Lifecycle Event)",
            i=_instance,
        ),
        ev(
            "E4",
            2,
            "INFO",
            "nova-compute nova.compute.manager",
            "{i} VM Stopped (Lifecycle Event)",
            i=_instance,
        ),
        ev(
            "E5",
            2,
            "INFO",
            "nova-compute nova.compute.manager",
            "{i} During sync_power_state the instance has a pending task (spawning). Skip.",
            i=_instance,
        ),
        ev(
            "E6",
            2,
            "INFO",
            "nova-compute nova.compute.claims",
            "{i} Attempting claim: memory {m} MB, disk {d} GB, vcpus {v} CPU",
            i=_instance,
            m=pick("2048", "512", "4096"),
            d=pick("20", "1", "40"),
            v=pick("1", "2"),
        ),
        ev(
            "E7",
            2,
            "INFO",
            "nova-compute nova.compute.claims",
            "{i} Total memory: 64172 MB, used: {u} MB",
            i=_instance,
            u=decimal(512, 8000),
        ),
        ev(
            "E8",
            2,
            "INFO",
            "nova-compute nova.compute.claims",
            "{i} memory limit: 96258.00 MB, free: {f} MB",
            i=_instance,
            f=decimal(80000, 96000),
        ),
        ev(
            "E9", 2, "INFO", "nova-compute nova.compute.claims", "{i} Claim successful", i=_instance
        ),
        ev(
            "E10",
            2,
            "INFO",
            "nova-compute nova.virt.libvirt.driver",
            "{i} Creating image",
            i=_instance,
        ),
        ev(
            "E11",
            2,
            "INFO",
            "nova-compute nova.compute.manager",
            "{i} Took {s} seconds to spawn the instance on the hypervisor.",
            i=_instance,
            s=_SECONDS,
        ),
        ev(
            "E12",
            2,
            "INFO",
            "nova-compute nova.compute.manager",
            "{i} Took {s} seconds to build instance.",
            i=_instance,
            s=_SECONDS,
        ),
        ev(
            "E13",
            2,
            "INFO",
            "nova-compute nova.compute.manager",
            "{i} Terminating instance",
            i=_instance,
        ),
        ev(
            "E14",
            2,
            "INFO",
            "nova-compute nova.virt.libvirt.driver",
            "{i} Deleting instance files /var/lib/nova/instances/{u}_del",
            i=_instance,
            u=uuid,
        ),
        ev(
            "E15",
            2,
            "INFO",
            "nova-compute nova.virt.libvirt.driver",
            "{i} Deletion of /var/lib/nova/instances/{u}_del complete",
            i=_instance,
            u=uuid,
        ),
        ev(
            "E16",
            2,
            "INFO",
            "nova-compute nova.compute.manager",
            "{i} Took {s} seconds to destroy the instance on the hypervisor.",
            i=_instance,
            s=_SECONDS,
        ),
        ev(
            "E17",
            3,
            "INFO",
            "nova-compute nova.virt.libvirt.imagecache",
            "image {u} at (/var/lib/nova/instances/_base/{h}): checking",
            u=uuid,
            h=hexs(40),
        ),
        ev(
            "E18",
            3,
            "INFO",
            "nova-compute nova.virt.libvirt.imagecache",
            "image {u} at (/var/lib/nova/instances/_base/{h}): in use: on this node {n} local, "
            "0 on other nodes sharing this instance storage",
            u=uuid,
            h=hexs(40),
            n=num(0, 3),
        ),
        ev(
            "E19",
            2,
            "INFO",
            "nova-compute nova.virt.libvirt.imagecache",
            "Active base files: /var/lib/nova/instances/_base/{h}",
            h=hexs(40),
        ),
        ev(
            "E20",
            1,
            "INFO",
            "nova-compute nova.compute.resource_tracker",
            f"Auditing locally available compute resources for node {_NODE}",
        ),
        ev(
            "E21",
            1,
            "INFO",
            "nova-compute nova.compute.resource_tracker",
            "Total usable vcpus: 16, total allocated vcpus: {n}",
            n=num(0, 16),
        ),
        ev(
            "E22",
            1,
            "INFO",
            "nova-compute nova.compute.resource_tracker",
            f"Final resource view: name={_NODE} phys_ram=64172MB used_ram={{r}}MB phys_disk=15GB "
            "used_disk={d}GB total_vcpus=16 used_vcpus={v} pci_stats=[]",
            r=num(512, 9000),
            d=num(0, 80),
            v=num(0, 16),
        ),
        ev(
            "E23",
            1,
            "INFO",
            "nova-compute nova.compute.resource_tracker",
            f"Compute_service record updated for {_NODE}:{_NODE}",
        ),
        ev(
            "E24",
            0.5,
            "WARNING",
            "nova-compute nova.compute.manager",
            "{i} Instance shutdown by itself. Calling the stop API. Current vm_state: active, "
            "current task_state: None, original DB power_state: 1, current VM power_state: 4",
            i=_instance,
        ),
        ev(
            "E30",
            0.3,
            "ERROR",
            "nova-compute nova.compute.manager",
            "{i} Instance failed to spawn",
            i=_instance,
        ),
    ),
)


def _spark_header(r: random.Random, moment: float, e: Event, message: str) -> str:
    return f"{utc(moment):%y/%m/%d %H:%M:%S} {e.level} {e.component}: {message}"


def _task(r: random.Random) -> str:
    return f"{r.randint(0, 40)}.0"


_SIZE = decimal(0.1, 900, 1)
_UNIT = alt("B", "KB", "KB", "MB")
_FREE_UNIT = alt("KB", "MB", "GB", "GB")
SPARK = System(
    "spark",
    datetime(2017, 6, 9, 20, 10, tzinfo=UTC),
    0.2,
    _spark_header,
    (
        ev(
            "E1",
            10,
            "INFO",
            "executor.Executor",
            "Running task {t} in stage {s} (TID {n})",
            t=_task,
            s=_task,
            n=num(0, 5000),
        ),
        ev(
            "E2",
            10,
            "INFO",
            "executor.Executor",
            "Finished task {t} in stage {s} (TID {n}). {b} bytes result sent to driver",
            t=_task,
            s=_task,
            n=num(0, 5000),
            b=num(900, 3000),
        ),
        ev(
            "E3",
            10,
            "INFO",
            "executor.CoarseGrainedExecutorBackend",
            "Got assigned task {n}",
            n=num(0, 5000),
        ),
        ev(
            "E4",
            7,
            "INFO",
            "storage.MemoryStore",
            "Block {b} stored as bytes in memory (estimated size {s} {u}, free {f} {v})",
            b=lambda r: f"broadcast_{r.randint(0, 99)}_piece0",
            s=_SIZE,
            u=_UNIT,
            f=_SIZE,
            v=_FREE_UNIT,
        ),
        ev(
            "E5",
            7,
            "INFO",
            "storage.MemoryStore",
            "Block {b} stored as values in memory (estimated size {s} {u}, free {f} {v})",
            b=lambda r: r.choice(
                [f"broadcast_{r.randint(0, 99)}", f"rdd_{r.randint(0, 9)}_{r.randint(0, 99)}"]
            ),
            s=_SIZE,
            u=_UNIT,
            f=_SIZE,
            v=_FREE_UNIT,
        ),
        ev(
            "E6",
            7,
            "INFO",
            "broadcast.TorrentBroadcast",
            "Started reading broadcast variable {n}",
            n=num(0, 99),
        ),
        ev(
            "E7",
            7,
            "INFO",
            "broadcast.TorrentBroadcast",
            "Reading broadcast variable {n} took {m} ms",
            n=num(0, 99),
            m=num(5, 400),
        ),
        ev(
            "E8",
            6,
            "INFO",
            "rdd.HadoopRDD",
            "Input split: hdfs://10.10.34.11:9000/pjhe/{d}/part-{p}:{o}+{n}",
            d=pick("test/1", "test/2", "logs"),
            p=num(10000, 99999),
            o=num(0, 9999999),
            n=num(1000, 9999999),
        ),
        ev(
            "E9",
            5,
            "INFO",
            "spark.CacheManager",
            "Partition {r} not found, computing it",
            r=lambda r: f"rdd_{r.randint(0, 9)}_{r.randint(0, 99)}",
        ),
        ev(
            "E10",
            5,
            "INFO",
            "storage.BlockManager",
            "Found block {r} locally",
            r=lambda r: f"rdd_{r.randint(0, 9)}_{r.randint(0, 99)}",
        ),
        ev(
            "E11",
            4,
            "INFO",
            "python.PythonRunner",
            "Times: total = {a}, boot = {b}, init = {c}, finish = {d}",
            a=num(10, 900),
            b=num(-5, 400),
            c=num(0, 400),
            d=num(0, 50),
        ),
        ev(
            "E12",
            3,
            "INFO",
            "output.FileOutputCommitter",
            "Saved output of task 'attempt_{a}_{b}_m_{c}_{d}' to hdfs://10.10.34.11:9000/pjhe/"
            "output/_temporary/0/task_{a}_{b}_m_{c}",
            a=num(201706090000, 201706092359),
            b=num(1000, 9999),
            c=num(100000, 999999),
            d=num(0, 3),
        ),
        ev(
            "E13",
            3,
            "INFO",
            "mapred.SparkHadoopMapRedUtil",
            "attempt_{a}_{b}_m_{c}_{d}: Committed",
            a=num(201706090000, 201706092359),
            b=num(1000, 9999),
            c=num(100000, 999999),
            d=num(0, 3),
        ),
        ev(
            "E14",
            1,
            "INFO",
            "executor.CoarseGrainedExecutorBackend",
            "Registered signal handlers for [TERM, HUP, INT]",
        ),
        ev(
            "E15",
            1,
            "INFO",
            "spark.SecurityManager",
            "Changing view acls to: {u}",
            u=pick("yarn,curi", "yarn,hadoop", "yarn,root"),
        ),
        ev(
            "E16",
            1,
            "INFO",
            "spark.SecurityManager",
            "Changing modify acls to: {u}",
            u=pick("yarn,curi", "yarn,hadoop", "yarn,root"),
        ),
        ev(
            "E17",
            1,
            "INFO",
            "spark.SecurityManager",
            "SecurityManager: authentication disabled; ui acls disabled; users with view "
            "permissions: Set({u}); users with modify permissions: Set({u})",
            u=pick("yarn, curi", "yarn, hadoop", "yarn, root"),
        ),
        ev("E18", 1, "INFO", "Remoting", "Starting remoting"),
        ev(
            "E19",
            1,
            "INFO",
            "Remoting",
            "Remoting started; listening on addresses "
            ":[akka.tcp://sparkExecutorActorSystem@mesos-slave-{n}:{p}]",
            n=num(1, 40),
            p=port,
        ),
        ev(
            "E20",
            1,
            "INFO",
            "util.Utils",
            "Successfully started service '{s}' on port {p}.",
            s=pick(
                "sparkExecutorActorSystem",
                "org.apache.spark.network.netty.NettyBlockTransferService",
            ),
            p=port,
        ),
        ev(
            "E21",
            1,
            "INFO",
            "storage.DiskBlockManager",
            "Created local directory at "
            "/opt/hdfs/nodemanager/usercache/curi/appcache/application_{a}_{b}/blockmgr-{u}",
            a=num(1485248649253, 1485248649999),
            b=num(1000, 9999),
            u=uuid,
        ),
        ev(
            "E22",
            1,
            "INFO",
            "storage.MemoryStore",
            "MemoryStore started with capacity {s} GB",
            s=decimal(1, 30, 1),
        ),
        ev(
            "E23",
            1,
            "INFO",
            "executor.Executor",
            "Starting executor ID {n} on host mesos-slave-{m}",
            n=num(1, 40),
            m=num(1, 40),
        ),
        ev(
            "E24",
            0.5,
            "ERROR",
            "executor.CoarseGrainedExecutorBackend",
            "RECEIVED SIGNAL 15: SIGTERM",
        ),
        ev("E25", 0.5, "INFO", "util.ShutdownHookManager", "Shutdown hook called"),
        ev(
            "E26",
            0.3,
            "WARN",
            "executor.CoarseGrainedExecutorBackend",
            "An unknown ({h}:{p}) driver disconnected.",
            h=lambda r: f"mesos-master-{r.randint(1, 3)}",
            p=port,
        ),
        ev(
            "E27",
            0.3,
            "ERROR",
            "executor.CoarseGrainedExecutorBackend",
            "Driver {a}:{p} disassociated! Shutting down.",
            a=ip,
            p=port,
        ),
    ),
)


def _zookeeper_header(r: random.Random, moment: float, e: Event, message: str) -> str:
    thread = e.component.replace("#ID", str(r.randint(1, 3)))
    stamp = f"{utc(moment):%Y-%m-%d %H:%M:%S},{int(moment * 1000) % 1000:03d}"
    return f"{stamp} - {e.level:<5} [{thread}] - {message}"


def _zk_session(r: random.Random) -> str:
    server = r.choice(["14ede63a5a7", "24ede63a5a7", "34ede63a5a7"])
    return f"0x{server}{r.randint(0, 99999):04x}"


def _zk_client(r: random.Random) -> str:
    return f"/{ip(r)}:{port(r)}"


_ZK_PEER = "QuorumPeer[myid=#ID]/0:0:0:0:0:0:0:0:2181"
_ZK_NIO = "NIOServerCxn.Factory:0.0.0.0/0.0.0.0:2181"
ZOOKEEPER = System(
    "zookeeper",
    datetime(2015, 7, 29, 17, 41, tzinfo=UTC),
    20,
    _zookeeper_header,
    (
        ev(
            "E1",
            18,
            "INFO",
            f"{_ZK_NIO}:NIOServerCnxnFactory@197",
            "Accepted socket connection from {c}",
            c=_zk_client,
        ),
        ev(
            "E2",
            16,
            "INFO",
            f"{_ZK_NIO}:NIOServerCnxn@1001",
            "Closed socket connection for client {c} which had sessionid {s}",
            c=_zk_client,
            s=_zk_session,
        ),
        ev(
            "E3",
            10,
            "INFO",
            f"{_ZK_NIO}:ZooKeeperServer@839",
            "Client attempting to establish new session at {c}",
            c=_zk_client,
        ),
        ev(
            "E4",
            10,
            "INFO",
            "CommitProcessor:#ID:ZooKeeperServer@595",
            "Established session {s} with negotiated timeout {t} for client {c}",
            s=_zk_session,
            t=pick("10000", "20000", "30000"),
            c=_zk_client,
        ),
        ev("E5", 8, "WARN", f"{_ZK_NIO}:NIOServerCnxn@349", "caught end of stream exception"),
        ev(
            "E6",
            6,
            "INFO",
            "ProcessThread(sid:#ID cport:-1)::PrepRequestProcessor@476",
            "Processed session termination for sessionid: {s}",
            s=_zk_session,
        ),
        ev(
            "E7",
            6,
            "INFO",
            "SessionTracker:ZooKeeperServer@325",
            "Expiring session {s}, timeout of {t}ms exceeded",
            s=_zk_session,
            t=pick("10000", "20000", "30000"),
        ),
        ev(
            "E8",
            4,
            "INFO",
            f"{_ZK_PEER}:FastLeaderElection@774",
            "Notification time out: {t}",
            t=pick("400", "800", "1600", "3200", "6400", "12800"),
        ),
        ev(
            "E9",
            4,
            "INFO",
            "WorkerReceiver[myid=#ID]:FastLeaderElection@542",
            "Notification: {a} (n.leader), 0x{z} (n.zxid), 0x{b} (n.round), {s} (n.state), "
            "{c} (n.sid), 0x{e} (n.peerEPoch), {m} (my state)",
            a=num(1, 3),
            z=hexs(9),
            b=num(1, 9),
            s=alt("LOOKING", "FOLLOWING", "LEADING"),
            c=num(1, 3),
            e=num(1, 9),
            m=alt("LOOKING", "LOOKING", "FOLLOWING"),
        ),
        ev(
            "E10",
            3,
            "WARN",
            "RecvWorker:188978561024:QuorumCnxManager$RecvWorker@765",
            "Interrupting SendWorker",
        ),
        ev(
            "E11",
            3,
            "WARN",
            "SendWorker:188978561024:QuorumCnxManager$SendWorker@679",
            "Send worker leaving thread",
        ),
        ev(
            "E12",
            3,
            "WARN",
            "RecvWorker:188978561024:QuorumCnxManager$RecvWorker@762",
            "Connection broken for id {i}, my id = {m}, error = ",
            i=num(1, 3),
            m=num(1, 3),
        ),
        ev(
            "E13",
            3,
            "INFO",
            "/10.10.34.11:3888:QuorumCnxManager$Listener@493",
            "Received connection request {c}",
            c=_zk_client,
        ),
        ev(
            "E14",
            2,
            "WARN",
            f"{_ZK_PEER}:QuorumCnxManager@368",
            "Cannot open channel to {i} at election address /{a}:3888",
            i=num(1, 3),
            a=ip,
        ),
        ev("E15", 1, "INFO", f"{_ZK_PEER}:QuorumPeer@670", "LOOKING"),
        ev(
            "E16",
            1,
            "INFO",
            f"{_ZK_PEER}:FastLeaderElection@740",
            "New election. My id =  {i}, proposed zxid=0x{z}",
            i=num(1, 3),
            z=hexs(9),
        ),
        ev(
            "E17",
            1,
            "INFO",
            f"{_ZK_PEER}:Follower@63",
            "FOLLOWING - LEADER ELECTION TOOK - {t}",
            t=num(100, 9000),
        ),
        ev(
            "E18",
            0.6,
            "INFO",
            f"{_ZK_PEER}:Leader@358",
            "LEADING - LEADER ELECTION TOOK - {t}",
            t=num(100, 9000),
        ),
        ev("E19", 0.5, "ERROR", "CommitProcessor:#ID:NIOServerCnxn@180", "Unexpected Exception: "),
        ev("E20", 0.5, "INFO", f"{_ZK_PEER}:Learner@325", "Getting a snapshot from leader"),
    ),
)


def _proxifier_header(r: random.Random, moment: float, e: Event, message: str) -> str:
    program = r.choice(_PROGRAMS)
    bits = " *64" if program in _SIXTY_FOUR and r.random() < 0.5 else ""
    return f"[{utc(moment):%m.%d %H:%M:%S}] {program}{bits} - {message}"


_PROGRAMS = (
    "chrome.exe",
    "Dropbox.exe",
    "WeChat.exe",
    "YodaoDict.exe",
    "QQ.exe",
    "SogouCloud.exe",
    "git-remote-https.exe",
    "thunderbird.exe",
    "OneDrive.exe",
)
_SIXTY_FOUR = ("chrome.exe", "git-remote-https.exe", "OneDrive.exe")
_PROXY = "proxy.cse.cuhk.edu.hk:5070"


def _target(r: random.Random) -> str:
    return r.choice(
        [
            f"www.{word(r)}.com:{r.choice([80, 443])}",
            f"{word(r)}.{word(r)}.net:443",
            _PROXY,
            f"{public_ip(r)}:{r.choice([80, 443, 8080])}",
        ]
    )


def _lifetime(r: random.Random) -> str:
    return f"{r.randint(0, 59):02d}:{r.randint(0, 59):02d}"


PROXIFIER = System(
    "proxifier",
    datetime(2016, 10, 30, 16, 49, tzinfo=UTC),
    2,
    _proxifier_header,
    (
        ev("E1", 30, "", "", f"{{t}} open through proxy {_PROXY} HTTPS", t=_target),
        ev("E2", 8, "", "", f"{{t}} open through proxy {_PROXY} SOCKS5", t=_target),
        ev(
            "E3",
            30,
            "",
            "",
            "{t} close, {s} bytes sent, {v} bytes received, lifetime {l}",
            t=_target,
            s=num(0, 1023),
            v=num(0, 1023),
            l=_lifetime,
        ),
        ev(
            "E4",
            14,
            "",
            "",
            "{t} close, {s} bytes ({k} KB) sent, {v} bytes ({m} KB) received, lifetime {l}",
            t=_target,
            s=num(1024, 999999),
            k=decimal(1, 976),
            v=num(1024, 999999),
            m=decimal(1, 976),
            l=_lifetime,
        ),
        ev(
            "E5",
            5,
            "",
            "",
            "{t} close, {s} bytes ({k} MB) sent, {v} bytes ({m} MB) received, lifetime {l}",
            t=_target,
            s=num(10**6, 10**8),
            k=decimal(1, 99),
            v=num(10**6, 10**8),
            m=decimal(1, 99),
            l=_lifetime,
        ),
        ev(
            "E6",
            4,
            "",
            "",
            f"{{t}} error : Could not connect through proxy {_PROXY} - Proxy "
            "server cannot establish a connection with the target, status code {c}",
            t=_target,
            c=pick("503", "502"),
        ),
        ev(
            "E7",
            3,
            "",
            "",
            "{t} error : A connection request was canceled before the completion.",
            t=_target,
        ),
        ev(
            "E8",
            2,
            "",
            "",
            "{t} error : Could not connect to proxy "
            + _PROXY
            + " - connection attempt failed with error {c}",
            t=_target,
            c=pick("10060", "10061"),
        ),
        ev(
            "E9",
            2,
            "",
            "",
            "{t} close, {s} bytes sent, {v} bytes ({m} KB) received, lifetime {l}",
            t=_target,
            s=num(0, 1023),
            v=num(1024, 999999),
            m=decimal(1, 976),
            l=_lifetime,
        ),
        ev("E10", 2, "", "", "{t} error : Connection reset by peer.", t=_target),
    ),
)


def _nginx_header(r: random.Random, moment: float, e: Event, message: str) -> str:
    pid = r.randint(20, 40)
    if e.component == "master":
        return f"{utc(moment):%Y/%m/%d %H:%M:%S} [{e.level}] 1#1: {message}"
    connection = r.randint(1, 999999)
    return f"{utc(moment):%Y/%m/%d %H:%M:%S} [{e.level}] {pid}#{pid}: *{connection} {message}"


_SERVER = pick("api.example.com", "shop.example.com", "static.example.com")


def _uri(r: random.Random) -> str:
    return r.choice(
        [
            f"/api/v1/orders/{r.randint(1, 99999)}",
            f"/api/v1/users/{word(r)}",
            "/healthz",
            f"/static/{hexs(8)(r)}.js",
            f"/search?q={word(r)}",
        ]
    )


_METHOD = alt("GET", "GET", "GET", "POST", "PUT")


def _upstream(r: random.Random) -> str:
    return f'"http://{ip(r)}:8080{_uri(r)}"'


NGINX = System(
    "nginx",
    datetime(2026, 11, 22, 9, 0, tzinfo=UTC),
    3,
    _nginx_header,
    (
        ev(
            "E1",
            20,
            "error",
            "worker",
            "connect() failed (111: Connection refused) while connecting to upstream, client: "
            '{c}, server: {s}, request: "{m} {q} HTTP/1.1", upstream: {u}, host: "{s2}"',
            c=public_ip,
            s=_SERVER,
            m=_METHOD,
            q=_uri,
            u=_upstream,
            s2=_SERVER,
        ),
        ev(
            "E2",
            12,
            "error",
            "worker",
            "upstream timed out (110: Connection timed out) while reading response header from "
            'upstream, client: {c}, server: {s}, request: "{m} {q} HTTP/1.1", upstream: {u}, '
            'host: "{s2}"',
            c=public_ip,
            s=_SERVER,
            m=_METHOD,
            q=_uri,
            u=_upstream,
            s2=_SERVER,
        ),
        ev(
            "E3",
            12,
            "error",
            "worker",
            'open() "/usr/share/nginx/html/{f}" failed (2: No such file or directory), client: '
            '{c}, server: {s}, request: "GET /{f} HTTP/1.1", host: "{s2}"',
            f=pick("favicon.ico", "robots.txt", "apple-touch-icon.png", "wp-login.php", ".env"),
            c=public_ip,
            s=_SERVER,
            s2=_SERVER,
        ),
        ev(
            "E4",
            14,
            "info",
            "worker",
            "client closed connection while waiting for request, client: {c}, server: 0.0.0.0:{p}",
            c=public_ip,
            p=pick("80", "443"),
        ),
        ev(
            "E5",
            8,
            "warn",
            "worker",
            "an upstream response is buffered to a temporary file /var/cache/nginx/proxy_temp/"
            "{a}/{b}/{c} while reading upstream, client: {d}, server: {s}, "
            'request: "{m} {q} HTTP/1.1", upstream: {u}, host: "{s2}"',
            a=num(1, 9),
            b=num(10, 99),
            c=lambda r: f"{r.randint(1, 9999999999):010d}",
            d=public_ip,
            s=_SERVER,
            m=_METHOD,
            q=_uri,
            u=_upstream,
            s2=_SERVER,
        ),
        ev(
            "E6",
            8,
            "error",
            "worker",
            'limiting requests, excess: {e} by zone "{z}", client: {c}, server: {s}, request: '
            '"{m} {q} HTTP/1.1", host: "{s2}"',
            e=decimal(0.1, 30, 3),
            z=pick("api", "login"),
            c=public_ip,
            s=_SERVER,
            m=_METHOD,
            q=_uri,
            s2=_SERVER,
        ),
        ev(
            "E7",
            6,
            "crit",
            "worker",
            "SSL_do_handshake() failed (SSL: error:0A00006C:SSL routines::bad key share) while "
            "SSL handshaking, client: {c}, server: 0.0.0.0:443",
            c=public_ip,
        ),
        ev("E8", 5, "info", "worker", "client {c} closed keepalive connection", c=public_ip),
        ev(
            "E9",
            3,
            "warn",
            "worker",
            "upstream server temporarily disabled while connecting to upstream, client: {c}, "
            'server: {s}, request: "{m} {q} HTTP/1.1", upstream: {u}, host: "{s2}"',
            c=public_ip,
            s=_SERVER,
            m=_METHOD,
            q=_uri,
            u=_upstream,
            s2=_SERVER,
        ),
        ev(
            "E10",
            2,
            "error",
            "worker",
            "no live upstreams while connecting to upstream, client: {c}, server: {s}, "
            'request: "{m} {q} HTTP/1.1", upstream: "http://backend{u}", host: "{s2}"',
            c=public_ip,
            s=_SERVER,
            m=_METHOD,
            q=_uri,
            u=_uri,
            s2=_SERVER,
        ),
        ev("E11", 1, "notice", "master", "signal process started"),
        ev("E12", 1, "notice", "master", "start worker process {p}", p=num(20, 40)),
        ev("E13", 1, "notice", "master", 'using the "epoll" event method'),
        ev("E14", 1, "notice", "master", "nginx/1.25.3"),
        ev("E15", 1, "notice", "master", "gracefully shutting down"),
        ev(
            "E16",
            1,
            "notice",
            "master",
            "signal {n} (SIGHUP) received from {p}, reconfiguring",
            n=num(1, 1),
            p=num(1000, 9999),
        ),
    ),
)

SYSTEMS: tuple[System, ...] = (
    HDFS,
    APACHE,
    LINUX,
    WINDOWS,
    ANDROID,
    OPENSTACK,
    SPARK,
    ZOOKEEPER,
    PROXIFIER,
    NGINX,
)


def write_system(system: System, count: int = LINES_PER_SYSTEM) -> None:
    lines, rows = [], []
    for number, (line, event_id, template) in enumerate(system.lines(count), start=1):
        lines.append(line)
        rows.append((number, event_id, template))
    (HERE / f"{system.name}.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with (HERE / f"{system.name}_structured.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(("LineId", "EventId", "EventTemplate"))
        writer.writerows(rows)


# --- fixtures ----------------------------------------------------------------------------

PY_TRACE = """Traceback (most recent call last):
  File "/srv/app/worker.py", line 88, in run
    self.handle(job)
  File "/srv/app/worker.py", line 61, in handle
    total = compute(job.items)
  File "/srv/app/pricing.py", line 17, in compute
    return sum(item.price for item in items) / len(items)
ZeroDivisionError: division by zero"""

PY_TRACE_CHAINED = """Traceback (most recent call last):
  File "/srv/app/db.py", line 40, in connect
    sock = socket.create_connection((host, port), timeout=3)
ConnectionRefusedError: [Errno 111] Connection refused

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/srv/app/worker.py", line 88, in run
    self.handle(job)
  File "/srv/app/db.py", line 44, in connect
    raise DatabaseUnavailable(host) from exc
app.errors.DatabaseUnavailable: db-1.internal"""


def python_traces() -> str:
    lines = []
    for i in range(6):
        lines.append(f"2026-11-22 10:0{i}:00,120 INFO worker: picked job {1000 + i}")
        lines.append(f"2026-11-22 10:0{i}:01,250 ERROR worker: job {1000 + i} failed")
        lines.extend(PY_TRACE.split("\n"))
    lines.append("2026-11-22 10:07:00,000 ERROR worker: cannot reach database")
    lines.extend(PY_TRACE_CHAINED.split("\n"))
    lines.append("2026-11-22 10:08:00,000 ERROR worker: cannot reach database")
    lines.extend(PY_TRACE_CHAINED.replace("db-1", "db-2").split("\n"))
    lines.append("2026-11-22 10:09:00,000 INFO worker: shutting down")
    # An uncaught crash written to stderr, with no log line in front of it.
    lines.extend(
        [
            "Traceback (most recent call last):",
            '  File "/srv/app/main.py", line 12, in <module>',
            "    main()",
            '  File "/srv/app/main.py", line 9, in main',
            '    config = load("/etc/app.yaml")',
            "KeyError: 'database'",
        ]
    )
    return "\n".join(lines) + "\n"


JAVA_TRACE = "\n".join(
    [
        "2026-11-22 10:15:0{s}.120 ERROR [http-nio-8080-exec-{t}] c.a.orders.OrderController - "
        "Request failed: order {o}",
        "org.springframework.web.client.ResourceAccessException: I/O error on POST request for "
        '"http://payments:8080/charge": Connection refused',
        "\tat org.springframework.web.client.RestTemplate.doExecute(RestTemplate.java:785)",
        "\tat org.springframework.web.client.RestTemplate.execute(RestTemplate.java:711)",
        "\tat com.acme.orders.PaymentClient.charge(PaymentClient.java:42)",
        "\tat com.acme.orders.OrderService.place(OrderService.java:77)",
        "\tat com.acme.orders.OrderController.create(OrderController.java:31)",
        "\tat jdk.internal.reflect.GeneratedMethodAccessor{g}.invoke(Unknown Source)",
        "\tat java.base/java.lang.reflect.Method.invoke(Method.java:568)",
        "Caused by: java.net.ConnectException: Connection refused",
        "\tat java.base/sun.nio.ch.Net.connect0(Native Method)",
        "\tat java.base/sun.nio.ch.Net.connect(Net.java:579)",
        "\t... 48 more",
    ]
)

JAVA_NPE = "\n".join(
    [
        'Exception in thread "scheduler-1" java.lang.NullPointerException: Cannot invoke '
        '"com.acme.orders.Cart.items()" because "cart" is null',
        "\tat com.acme.orders.CartSweeper.sweep(CartSweeper.java:58)",
        "\tat com.acme.orders.CartSweeper.lambda$start$0(CartSweeper.java:31)",
        "\tat java.base/java.util.concurrent.Executors$RunnableAdapter.call(Executors.java:539)",
        "\tat java.base/java.lang.Thread.run(Thread.java:833)",
    ]
)


def java_traces() -> str:
    lines = [
        "2026-11-22 10:15:00.001 INFO  [main] c.a.orders.Application - "
        "Started Application in 4.2 seconds"
    ]
    for i in range(5):
        lines.extend(JAVA_TRACE.format(s=i, t=i + 1, o=5000 + i, g=10 + i).split("\n"))
        lines.append(
            f"2026-11-22 10:15:0{i}.500 INFO  [http-nio-8080-exec-{i + 1}] "
            "c.a.orders.OrderController - GET /orders 200"
        )
    lines.extend(JAVA_NPE.split("\n"))
    lines.append("2026-11-22 10:16:00.000 WARN  [main] c.a.orders.Application - shutting down")
    return "\n".join(lines) + "\n"


GO_PANIC = """panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x6d8f2a]

goroutine {g} [running]:
main.(*Server).handleOrder(0xc0000a8000, {{0x7f1e40, 0xc0001c2000}}, 0xc0001b4000)
\t/app/server.go:{line} +0x2a
net/http.HandlerFunc.ServeHTTP(0xc0001b4000?, {{0x7f1e40?, 0xc0001c2000?}}, 0x0?)
\t/usr/local/go/src/net/http/server.go:2136 +0x29
net/http.serverHandler.ServeHTTP({{0xc0001a6000?}}, {{0x7f1e40, 0xc0001c2000}}, 0xc0001b4000)
\t/usr/local/go/src/net/http/server.go:2938 +0x8e
created by net/http.(*Server).Serve in goroutine 1
\t/usr/local/go/src/net/http/server.go:3089 +0x5cb"""


def go_panics() -> str:
    lines = []
    for i in range(3):
        lines.append(f"2026/11/22 10:2{i}:00 server listening on :8080")
        lines.append(f"2026/11/22 10:2{i}:05 handling order {700 + i}")
        lines.extend(GO_PANIC.format(g=30 + i, line=118).split("\n"))
        lines.append("exit status 2")
    lines.append("2026/11/22 10:29:00 server listening on :8080")
    lines.extend(
        [
            "panic: config: missing DATABASE_URL",
            "",
            "goroutine 1 [running]:",
            "main.mustConfig(...)",
            "\t/app/config.go:21",
            "main.main()",
            "\t/app/main.go:14 +0x1c5",
            "exit status 2",
        ]
    )
    return "\n".join(lines) + "\n"


def crlf_log() -> bytes:
    lines = [
        "2026-11-22 08:00:00,001 INFO  [main] app - starting",
        "2026-11-22 08:00:01,002 WARN  [main] app - disk usage 91%",
        "2026-11-22 08:00:02,003 ERROR [main] app - write failed: No space left on device",
        "2026-11-22 08:00:03,004 ERROR [main] app - write failed: No space left on device",
        "2026-11-22 08:00:04,005 INFO  [main] app - retrying in 5 s",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


def invalid_utf8_log() -> bytes:
    good = "2026-11-22 09:00:0{i} INFO upload: received chunk {i}\n"
    bad = b"2026-11-22 09:00:05 ERROR upload: bad filename \xff\xfe\xc3( in request\n"
    body = b"".join(good.format(i=i).encode() for i in range(5))
    return body + bad + b"2026-11-22 09:00:06 INFO upload: caf\xc3\xa9 \xe2\x82 done\n"


def mixed_timestamps_log() -> str:
    return (
        "\n".join(
            [
                "starting worker (no timestamp here)",
                "2026-11-22T10:00:00Z INFO boot complete",
                "Nov 22 10:00:05 web01 nginx[311]: worker process started",
                "[22/Nov/2026:10:00:07 +0000] GET /healthz 200",
                '{"ts": 1795341610, "level": "warn", "msg": "slow request 1200 ms"}',
                "03-22 10:00:11.123  1702  2395 E ActivityManager: ANR in com.example.app",
                "261122 100012 19 WARN dfs.DataNode: slow block receiver",
                "   continuation line without a time",
                "2026-11-22 10:00:15,250 ERROR db - connection refused",
                "no time at all, but an error occurred",
            ]
        )
        + "\n"
    )


def no_timestamps_log() -> str:
    lines = []
    for i in range(30):
        lines.append(f"worker {i % 4} processed batch {i}")
        if i % 10 == 9:
            lines.append(f"ERROR: batch {i} failed: connection refused to 10.0.0.{i}:5432")
    return "\n".join(lines) + "\n"


def json_lines_log() -> str:
    r = random.Random("json")
    start = datetime(2026, 11, 22, 11, 0, tzinfo=UTC).timestamp()
    out = []
    for i in range(300):
        moment = start + i * 2
        if 120 <= i < 160:
            record = {
                "ts": int(moment * 1000),
                "level": "error",
                "msg": f"payment {r.randint(1, 9999)} declined by gateway",
                "error": "upstream 502",
            }
        elif i % 7 == 0:
            record = {
                "timestamp": datetime.fromtimestamp(moment, UTC).isoformat(),
                "level": "warn",
                "msg": f"cache miss ratio {r.randint(40, 90)}%",
            }
        else:
            record = {
                "ts": int(moment * 1000),
                "level": "info",
                "msg": f"GET /api/items/{r.randint(1, 500)} served in {r.randint(1, 80)} ms",
                "trace_id": hexs(16)(r),
            }
        out.append(json.dumps(record))
    return "\n".join(out) + "\n"


def main() -> None:
    for system in SYSTEMS:
        write_system(system)
    (HERE / "python_traces.log").write_text(python_traces(), encoding="utf-8")
    (HERE / "java_traces.log").write_text(java_traces(), encoding="utf-8")
    (HERE / "go_panics.log").write_text(go_panics(), encoding="utf-8")
    (HERE / "crlf.log").write_bytes(crlf_log())
    (HERE / "invalid_utf8.log").write_bytes(invalid_utf8_log())
    (HERE / "mixed_timestamps.log").write_text(mixed_timestamps_log(), encoding="utf-8")
    (HERE / "no_timestamps.log").write_text(no_timestamps_log(), encoding="utf-8")
    (HERE / "json_lines.log").write_text(json_lines_log(), encoding="utf-8")


if __name__ == "__main__":
    main()
