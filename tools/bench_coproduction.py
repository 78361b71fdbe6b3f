"""`tools/bench --coproduction`: the real co-production workload against
`jointly serve`, on the binary already built in target/release (it is not
rebuilt here). See the docstring of tools/bench for what it measures.

Readers and writers are separate processes, not threads: in one Python
process a thread that is waiting for the interpreter lock when its answer
arrives would add up to 5 ms to the latency it measures."""

import http.client
import json
import math
import multiprocessing
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

SECTIONS = ("you-said-we-did", "jointness", "tokenism", "presence", "impact", "all")
SAMPLE_PROJECTS = 20
SAMPLE_DECISIONS = 5
SAMPLE_EVENTS = 20
PROJECT_PAGES = 3
SLOW_MS = 50
BIG_BYTES = 1_000_000
MANY_ITEMS = 100
HTTP_TIMEOUT = 300


class Failure(Exception):
    """Something could not be measured: exit 1."""


def step(what):
    print(f"== {what}", file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def percentile(sorted_values, q):
    """Nearest rank: the smallest value at or above a share q of them."""
    if not sorted_values:
        return None
    return sorted_values[max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1))]


def machine():
    model, ram_kb = "unknown", 0
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    ram_kb = int(line.split()[1])
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "ram_gb": round(ram_kb / 1024 / 1024, 1)}


def status_kb(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid):
    """User and system CPU seconds a process has used so far."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def machine_busy_seconds():
    """CPU seconds all processes on the machine have used (/proc/stat)."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def load_average():
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except (OSError, ValueError):
        return None


class Memory:
    """Samples a process's VmRSS and VmHWM every 100 ms, from its start."""

    def __init__(self, pid):
        self.pid, self.peak_rss_kb, self.hwm_kb = pid, 0, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def read(self):
        rss, hwm = status_kb(self.pid, "VmRSS"), status_kb(self.pid, "VmHWM")
        self.peak_rss_kb = max(self.peak_rss_kb, rss)
        self.hwm_kb = max(self.hwm_kb, hwm)
        return rss

    def sample(self):
        while not self.stop.is_set():
            self.read()
            time.sleep(0.1)

    def now_mb(self):
        return self.read() / 1024

    def done(self):
        self.read()
        self.stop.set()
        self.thread.join()

    def peak_mb(self):
        return max(self.peak_rss_kb, self.hwm_kb) / 1024


# -- the store, before the server starts ------------------------------------------------------------


class Cli:
    def __init__(self, binary, data):
        self.binary, self.env = binary, dict(os.environ, JOINTLY_DATA=data)

    def run(self, *args, timeout=None):
        r = subprocess.run([self.binary, *args], capture_output=True, text=True, env=self.env, timeout=timeout)
        if r.returncode != 0:
            raise Failure(f"jointly {' '.join(args)} failed ({r.returncode}): {(r.stderr or r.stdout)[-800:]}")
        return r.stdout

    def records(self):
        """The record count `jointly verify` reports, and its seconds."""
        t = time.perf_counter()
        out = self.run("verify")
        seconds = time.perf_counter() - t
        m = re.search(r"verified (\d+) records", out)
        if not m:
            raise Failure(f"cannot read the record count from `jointly verify`: {out[-300:]!r}")
        return int(m.group(1)), seconds

    def token(self, role, name):
        return self.run("token", "create", "--role", role, "--name", name).strip().splitlines()[-1].strip()


WANTED = ("project.started", "participant.joined", "participant.left", "stage.changed", "decision.made")


def event_type(line):
    """The record's type, found without parsing the line: the record comes last
    (keys are sorted), and a payload's text cannot hold an unescaped quote."""
    i = line.rfind('"type":"')
    if i < 0:
        return None
    j = line.find('"', i + 8)
    return line[i + 8:j]


class Project:
    __slots__ = ("id", "title", "involvement", "stage", "members", "decisions", "seq")

    def __init__(self, pid, title, involvement, seq):
        self.id, self.title, self.involvement, self.seq = pid, title, involvement, seq
        self.stage, self.members, self.decisions = "conception", {}, []

    def staff(self):
        return [p for p, r in self.members.items() if r == "staff"]

    def partners(self):
        return [p for p, r in self.members.items() if r == "partner"]


def read_log(cli):
    """Projects, their members, current stage and decisions, from `jointly log`."""
    projects, types, lines = {}, {}, 0
    proc = subprocess.Popen([cli.binary, "log"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=cli.env, bufsize=1 << 20)
    for line in proc.stdout:
        lines += 1
        t = event_type(line)
        if t is None:
            o = json.loads(line)
            t = (o.get("record") or {}).get("type") or o.get("type")
        types[t] = types.get(t, 0) + 1
        if t not in WANTED:
            continue
        o = json.loads(line)
        p = o.get("payload") or {}
        pid = p.get("project_id")
        if t == "project.started":
            seq = (o.get("record") or {}).get("seq", lines - 1)
            projects[pid] = Project(pid, p.get("title"), p.get("involvement"), seq)
            continue
        pr = projects.get(pid)
        if pr is None:
            continue
        if t == "participant.joined":
            pr.members[p["participant_id"]] = p.get("role")
        elif t == "participant.left":
            pr.members.pop(p.get("participant_id"), None)
        elif t == "stage.changed":
            pr.stage = p.get("stage", pr.stage)
        elif t == "decision.made":
            pr.decisions.append(p["decision_id"])
    err = proc.stderr.read()
    if proc.wait() != 0:
        raise Failure(f"jointly log failed: {err[-400:]}")
    return projects, types, lines


# -- HTTP ---------------------------------------------------------------------------------------------


class Client:
    """One keep-alive HTTP/1.1 connection, opened again when the server closes it."""

    def __init__(self, port, timeout=HTTP_TIMEOUT):
        self.port, self.timeout, self.conn, self.reconnects = port, timeout, None, 0

    def request(self, method, path, headers, body=None):
        """(status, headers, body, seconds); the time covers sending the
        request and reading the whole answer."""
        for attempt in (0, 1):
            fresh = self.conn is None
            if fresh:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                t = time.perf_counter()
                self.conn.request(method, path, body=body, headers=headers)
                r = self.conn.getresponse()
                data = r.read()
                seconds = time.perf_counter() - t
                if r.will_close:
                    self.close()
                return r.status, r.msg, data, seconds
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.CannotSendRequest, http.client.BadStatusLine):
                self.close()
                if fresh or attempt:
                    raise
                self.reconnects += 1
        raise AssertionError("unreachable")

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def cookie_from(msg, name):
    for v in msg.get_all("Set-Cookie") or []:
        first = v.split(";", 1)[0]
        if first.startswith(name + "="):
            return first[len(name) + 1:]
    return None


def sign_in(port, token):
    """Signs in through the form; the jointly_session cookie's value and the
    seconds of the POST."""
    c = Client(port)
    try:
        status, msg, body, _ = c.request("GET", "/sign-in", {"Accept": "text/html"})
        if status != 200:
            raise Failure(f"GET /sign-in answered {status}")
        pre = cookie_from(msg, "jointly_pre")
        m = re.search(rb'name="csrf" value="([^"]*)"', body)
        if not pre or not m:
            raise Failure("GET /sign-in gave no jointly_pre cookie or no csrf field")
        form = urllib.parse.urlencode({"csrf": m.group(1).decode(), "code": token})
        status, msg, body, seconds = c.request("POST", "/sign-in", {
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"jointly_pre={pre}",
            "Accept": "text/html"}, form.encode())
        session = cookie_from(msg, "jointly_session")
        if status != 303 or not session:
            raise Failure(f"POST /sign-in answered {status} without a session: {body[:300]!r}")
        return session, seconds
    finally:
        c.close()


def largest_list(value, path="$"):
    """(length, path) of the longest JSON array anywhere in value."""
    best = (len(value), path) if isinstance(value, list) else (0, None)
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for k, v in children:
        if isinstance(v, (list, dict)):
            sub = largest_list(v, f"{path}[]" if isinstance(value, list) else f"{path}.{k}")
            if sub[0] > best[0]:
                best = sub
    return best


def items_in(kind, body):
    """How long the answer's longest list is: for JSON the longest array, for
    a page its list items and table rows."""
    if kind == "api":
        try:
            return largest_list(json.loads(body))
        except ValueError:
            return 0, None
    return body.count(b"<li") + body.count(b"<tr"), "<li> + <tr>"


# -- the reads ----------------------------------------------------------------------------------------


class Reads:
    def __init__(self, port, staff_token, auditor_token, sessions):
        self.port = port
        self.headers = {
            ("api", "staff"): {"Authorization": "Bearer " + staff_token, "Accept": "application/json"},
            ("api", "auditor"): {"Authorization": "Bearer " + auditor_token, "Accept": "application/json"},
            ("page", "staff"): {"Cookie": "jointly_session=" + sessions["staff"], "Accept": "text/html"},
            ("page", "auditor"): {"Cookie": "jointly_session=" + sessions["auditor"], "Accept": "text/html"},
        }
        self.all = []  # dicts: role, kind, label, path
        self.solo = []  # one entry per read asked alone

    def add(self, kind, label, path, roles=("staff", "auditor")):
        for role in roles:
            self.all.append({"role": role, "kind": kind, "label": label, "path": path})


def next_link(msg, body_value, path):
    """Where the next page of a list is, from a Link header or a `next` field."""
    for v in msg.get_all("Link") or []:
        for part in v.split(","):
            m = re.match(r'\s*<([^>]*)>\s*;(.*)', part)
            if m and re.search(r'rel="?next"?', m.group(2)):
                u = urllib.parse.urlsplit(m.group(1))
                return u.path + ("?" + u.query if u.query else "")
    nxt = body_value.get("next") if isinstance(body_value, dict) else None
    if nxt is None or nxt is False:
        return None
    if isinstance(nxt, str) and (nxt.startswith("/") or nxt.startswith("http")):
        u = urllib.parse.urlsplit(nxt)
        return u.path + ("?" + u.query if u.query else "")
    base = path.split("?", 1)[0]
    return f"{base}?after={urllib.parse.quote(str(nxt))}"


def discover_projects(client, headers, reads, notes):
    """GET /v1/projects and up to two more pages: the ids listed, and the pages."""
    path, listed, pages = "/v1/projects", [], 0
    while path and pages < PROJECT_PAGES:
        status, msg, body, _ = client.request("GET", path, headers)
        if status != 200:
            notes.append(f"GET {path} answered {status}")
            break
        value = json.loads(body)
        items = value if isinstance(value, list) else (value.get("projects") or value.get("items") or [])
        listed.extend(p.get("project_id") for p in items if isinstance(p, dict))
        reads.add("api", "GET /v1/projects" if pages == 0 else "GET /v1/projects (next page)", path)
        pages += 1
        nxt = next_link(msg, value, path)
        if isinstance(value, list):
            notes.append(f"GET /v1/projects is a bare array of {len(items)} projects, not paginated")
        path = nxt
    return listed, pages


def build_reads(reads, client, sample, decisions, records):
    h = reads.headers[("api", "staff")]
    notes = []
    listed, pages = discover_projects(client, h, reads, notes)
    for pid in sample:
        reads.add("api", "GET /v1/projects/{id}", f"/v1/projects/{pid}")
        for s in SECTIONS:
            reads.add("api", f"GET /v1/projects/{{id}}/projections/{s}", f"/v1/projects/{pid}/projections/{s}")
    reads.add("api", "GET /v1/events?limit=100", "/v1/events?limit=100")
    for n in sorted({records // 4, records // 2, 3 * records // 4, max(0, records - 150)}):
        reads.add("api", "GET /v1/events?after={n}&limit=100", f"/v1/events?after={n}&limit=100")
    rng = random.Random(19)
    for seq in sorted(rng.sample(range(records), min(SAMPLE_EVENTS, records))):
        reads.add("api", "GET /v1/events/{seq}", f"/v1/events/{seq}")
    for s in SECTIONS:
        reads.add("api", f"GET /v1/projections/{s}", f"/v1/projections/{s}")
    reads.add("api", "GET /v1/checkpoint", "/v1/checkpoint")
    for path in ("/home", "/you-said-we-did", "/jointly", "/jointly/delivery", "/check", "/who-is-present"):
        reads.add("page", f"page {path}", path)
    for pid in sample:
        reads.add("page", "page /projects/{id}", f"/projects/{pid}")
        for tail in ("you-said-we-did", "jointly", "report"):
            reads.add("page", f"page /projects/{{id}}/{tail}", f"/projects/{pid}/{tail}")
    for d in decisions:
        reads.add("page", "page /decisions/{id}", f"/decisions/{d}")
    return listed, pages, notes


def ask_alone(reads, client):
    """Each read once, one at a time: status, size, seconds, longest list."""
    for r in reads.all:
        status, _, body, seconds = client.request("GET", r["path"], reads.headers[(r["kind"], r["role"])])
        n, where = items_in(r["kind"], body) if status == 200 else (0, None)
        reads.solo.append(dict(r, status=status, bytes=len(body), ms=seconds * 1000, items=n, items_at=where,
                               detail=body[:200].decode("utf-8", "replace") if status != 200 else None))


# -- the load -----------------------------------------------------------------------------------------


def reader(port, reads, headers, mix, deadline, seed, out):
    """Asks reads until the deadline: with mix "reads" any read at random,
    with mix "labels" a label (role and path with ids elided) at random,
    then one of its reads."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    rng = random.Random(seed)
    by_label = {}
    for r in reads:
        by_label.setdefault((r["role"], r["label"]), []).append(r)
    keys = sorted(by_label)
    c = Client(port)
    got = {}
    while time.monotonic() < deadline:
        if mix == "labels":
            key = rng.choice(keys)
            r = rng.choice(by_label[key])
        else:
            r = rng.choice(reads)
            key = (r["role"], r["label"])
        g = got.setdefault(key, {"ms": [], "bytes": 0, "bad": {}})
        try:
            status, _, body, seconds = c.request("GET", r["path"], headers[(r["kind"], r["role"])])
        except (OSError, http.client.HTTPException) as e:
            c.close()
            name = type(e).__name__
            g["bad"][name] = g["bad"].get(name, 0) + 1
            continue
        g["ms"].append(seconds * 1000)
        if time.monotonic() <= deadline:
            g["in_time"] = g.get("in_time", 0) + 1
        g["bytes"] = max(g["bytes"], len(body))
        if status != 200:
            g["bad"][str(status)] = g["bad"].get(str(status), 0) + 1
    c.close()
    out.put(("reader", got, c.reconnects))


def merge(into, got):
    """Adds one worker's figures to everyone's: lists joined, counts added,
    the largest answer kept."""
    for key, g in got.items():
        have = into.setdefault(key, {})
        for k, v in g.items():
            if isinstance(v, list):
                have.setdefault(k, []).extend(v)
            elif isinstance(v, dict):
                d = have.setdefault(k, {})
                for x, n in v.items():
                    d[x] = d.get(x, 0) + n
            elif k == "bytes":
                have[k] = max(have.get(k, 0), v)
            else:
                have[k] = have.get(k, 0) + v


def today():
    return time.strftime("%Y-%m-%d", time.gmtime())


def writer(port, token, projects, deadline, seed, out):
    """Appends a proposal, a meeting, and a decision answering the proposal,
    to one project at a time, until the deadline."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    rng = random.Random(seed)
    c = Client(port)
    h = {"Authorization": "Bearer " + token, "Content-Type": "application/json", "Accept": "application/json"}
    got = {}

    def append(kind, payload):
        g = got.setdefault(kind, {"ms": [], "accepted": 0, "refused": 0, "refusals": {}})
        body = json.dumps({"type": kind, "payload": payload}).encode()
        try:
            status, _, answer, seconds = c.request("POST", "/v1/events", h, body)
        except (OSError, http.client.HTTPException) as e:
            c.close()
            g["refused"] += 1
            why = type(e).__name__
            g["refusals"][why] = g["refusals"].get(why, 0) + 1
            return False
        g["ms"].append(seconds * 1000)
        if status == 201:
            g["accepted"] += 1
            if time.monotonic() <= deadline:
                g["in_time"] = g.get("in_time", 0) + 1
            return True
        g["refused"] += 1
        try:
            detail = json.loads(answer).get("detail", "")
        except ValueError:
            detail = answer[:200].decode("utf-8", "replace")
        why = f"{status} {detail}"[:300]
        g["refusals"][why] = g["refusals"].get(why, 0) + 1
        return False

    while time.monotonic() < deadline:
        p = rng.choice(projects)
        staff, partners = p["staff"], p["partners"]
        proposal = str(uuid.uuid4())
        raised = append("proposal.raised", {
            "project_id": p["id"], "proposal_id": proposal,
            "text": "Could we send the papers a week before each meeting, in large print too?"})
        if time.monotonic() >= deadline:
            break
        append("meeting.held", {
            "project_id": p["id"], "meeting_id": str(uuid.uuid4()), "date": today(),
            "attendees": (staff[:2] + partners[:6]), "materials_in_advance": rng.random() < 0.7,
            "summary": "We went through the ideas raised since last time and agreed what to do next."})
        if time.monotonic() >= deadline:
            break
        two = rng.sample(partners, 2)
        append("decision.made", {
            "project_id": p["id"], "decision_id": str(uuid.uuid4()),
            "question": "Should papers go out a week before each meeting?",
            "outcome": "Yes, a week before, in large print on request.",
            "stage": p["stage"], "method": "consensus",
            "answers": [{"proposal_id": proposal, "response": "accepted",
                         "reason": "Everyone agreed it gives people time to prepare."}] if raised else [],
            "participants": [{"participant_id": x, "position": "agree"} for x in [staff[0], *two]],
            "reason": "Agreed by everyone at the meeting."})
    c.close()
    out.put(("writer", got, c.reconnects))


# -- the report ---------------------------------------------------------------------------------------


def size_text(n):
    if n is None:
        return "-"
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f} MB"
    if n >= 1000:
        return f"{n / 1000:.1f} kB"
    return f"{n} B"


def ms_text(v):
    return "-" if v is None else f"{v:.1f}" if v < 100 else f"{v:.0f}"


def summarise_reads(reads, loaded):
    rows = {}
    for s in reads.solo:
        key = (s["role"], s["label"])
        row = rows.setdefault(key, {"role": s["role"], "label": s["label"], "kind": s["kind"], "reads": 0,
                                    "alone_ms": [], "max_bytes": 0, "max_items": 0, "items_at": None,
                                    "count": 0, "errors": {}})
        if s["status"] != 200:
            continue
        row["reads"] += 1
        row["alone_ms"].append(s["ms"])
        row["max_bytes"] = max(row["max_bytes"], s["bytes"])
        if s["items"] > row["max_items"]:
            row["max_items"], row["items_at"] = s["items"], s["items_at"]
    out = []
    for key, row in rows.items():
        if not row["reads"]:
            continue
        g = loaded.get(key, {"ms": [], "bytes": 0, "bad": {}})
        ms = sorted(g["ms"])
        alone = sorted(row.pop("alone_ms"))
        row.update(count=len(ms), p50_ms=percentile(ms, 0.5), p99_ms=percentile(ms, 0.99),
                   max_ms=ms[-1] if ms else None, errors=g["bad"],
                   alone_p50_ms=percentile(alone, 0.5), alone_max_ms=alone[-1],
                   max_bytes=max(row["max_bytes"], g["bytes"]))
        flags = []
        if row["p99_ms"] is not None and row["p99_ms"] > SLOW_MS:
            flags.append(f"p99>{SLOW_MS}ms")
        if row["max_bytes"] > BIG_BYTES:
            flags.append(">1MB")
        if row["max_items"] > MANY_ITEMS:
            flags.append(f">{MANY_ITEMS} items")
        if row["errors"]:
            flags.append("errors")
        row["flags"] = flags
        out.append(row)
    out.sort(key=lambda r: (r["kind"], r["label"], r["role"]))
    return out


def print_report(out):
    m = out["machine"]
    print(f"jointly co-production workload, {out['date']}, {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM")
    print(f"store: jointly demo --projects {out['projects']}: {out['records']:,} records "
          f"(written in {out['demo_s']:.1f} s, verified in {out['verify_s']:.2f} s; "
          f"{out['projects_in_log']:,} projects)")
    print(f"start-up: {out['startup_s']:.2f} s to the first 200 on /healthz "
          f"(resident {out['rss_after_startup_mb']:.0f} MB); peak resident {out['peak_rss_mb']:.0f} MB")
    print(f"load: {out['readers']} readers (mix: {out['mix']}) and {out['writers']} writers for {out['seconds']} s: "
          f"{out['reads_per_s']:,.0f} reads/s, {out['appends_per_s']:,.1f} appends/s; "
          f"CPU seconds: server {out['server_cpu_s']:.1f}, benchmark clients {out['client_cpu_s']:.1f}, "
          f"other processes {out['other_cpu_s']:.1f}; the last answer came "
          f"{max(0.0, out['load_s'] - out['seconds']):.1f} s after the end")
    print(f"sign-in through the form (POST /sign-in): staff {out['sign_in_staff_ms']:.1f} ms, "
          f"auditor {out['sign_in_auditor_ms']:.1f} ms; {len(out['alone'])} reads asked alone in "
          f"{out['alone_s']:.1f} s; the log grew to {out['records_after']:,} records and verifies")
    print()
    head = ["role", "read", "n", "p50 ms", "p99 ms", "max ms", "alone ms", "max size", "items", "flags"]
    rows = [[r["role"], r["label"], str(r["count"]), ms_text(r["p50_ms"]), ms_text(r["p99_ms"]),
             ms_text(r["max_ms"]), ms_text(r["alone_p50_ms"]), size_text(r["max_bytes"]), str(r["max_items"]),
             " ".join(r["flags"])] for r in out["reads"]]
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(head)]
    right = {2, 3, 4, 5, 6, 7, 8}

    def line(cells):
        return " | ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    print(line(head))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(line(row))
    if any(r["count"] < 100 for r in out["reads"]):
        print("(a p99 of fewer than 100 answers is close to their maximum; n 0: not asked under load)")
    print()
    print("append          | accepted | refused | p50 ms | p99 ms | max ms")
    for kind, a in out["appends"].items():
        print(f"{kind:<15} | {a['accepted']:>8} | {a['refused']:>7} | {ms_text(a['p50_ms']):>6} | "
              f"{ms_text(a['p99_ms']):>6} | {ms_text(a['max_ms']):>6}")
        for why, n in a["refusals"].items():
            print(f"    refused {n}x: {why}")
    if out["skipped"]:
        print()
        print("skipped (not 200 when asked alone):")
        for s in out["skipped"]:
            print(f"  {s['role']:<7} {s['path']}: {s['status']} {s['detail'] or ''}".rstrip())
    for n in out["notes"]:
        print(f"note: {n}")
    print()
    print("summary: " + out["summary"])


def summary_line(rows):
    def labels(pred):
        seen = []
        for r in rows:
            if pred(r) and r["label"] not in seen:
                seen.append(r["label"])
        return ", ".join(seen) or "none"

    return (f"p99 > {SLOW_MS} ms: {labels(lambda r: r['p99_ms'] is not None and r['p99_ms'] > SLOW_MS)}; "
            f"answers > 1 MB: {labels(lambda r: r['max_bytes'] > BIG_BYTES)}; "
            f"lists > {MANY_ITEMS} items: {labels(lambda r: r['max_items'] > MANY_ITEMS)}")


# -- the run ------------------------------------------------------------------------------------------


class Server:
    def __init__(self, binary, data, work):
        self.binary, self.data, self.port, self.proc = binary, data, free_port(), None
        self.log = os.path.join(work, "serve.log")

    def start(self):
        """Starts the server; seconds from the process's start to the first
        200 on GET /healthz."""
        with open(self.log, "wb") as log:
            t = time.perf_counter()
            self.proc = subprocess.Popen([self.binary, "serve", "--listen", f"127.0.0.1:{self.port}"],
                                         stdout=log, stderr=subprocess.STDOUT,
                                         env=dict(os.environ, JOINTLY_DATA=self.data))
        self.memory = Memory(self.proc.pid)
        while time.perf_counter() - t < 600:
            if self.proc.poll() is not None:
                raise Failure(f"jointly serve exited ({self.proc.returncode}): {self.log_tail()}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                c.request("GET", "/healthz")
                r = c.getresponse()
                r.read()
                c.close()
                if r.status == 200:
                    return time.perf_counter() - t
            except OSError:
                pass
            time.sleep(0.01)
        raise Failure("jointly serve did not answer 200 on /healthz within 600 s")

    def log_tail(self):
        try:
            with open(self.log, "rb") as f:
                return f.read()[-800:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.memory.done()


def choose(projects, rng):
    """Twenty projects to read: the first one the demo writes (the richest)
    and nineteen at random."""
    ids = list(projects)
    first = min(ids, key=lambda p: projects[p].seq)
    rest = [p for p in ids if p != first]
    return [first] + rng.sample(rest, min(SAMPLE_PROJECTS - 1, len(rest)))


def writable(p):
    return p.stage != "closed" and len(p.staff()) >= 1 and len(p.partners()) >= 2


def run(a, binary, root, out):
    """Fills out with the figures."""
    if not os.access(binary, os.X_OK):
        raise Failure(f"{binary} is missing: build it first (cargo build --release)")
    out.update({"mode": "coproduction", "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "machine": machine(), "projects": a.projects, "seconds": a.seconds,
                "readers": a.readers, "writers": a.writers, "mix": a.mix, "binary": binary, "notes": []})
    try:
        out["version"] = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    os.makedirs(os.path.join(root, "target"), exist_ok=True)
    work = tempfile.mkdtemp(prefix="bench-coproduction-", dir=os.path.join(root, "target"))
    data = os.path.join(work, "data")
    cli = Cli(binary, data)
    server, workers = None, []
    try:
        step(f"jointly demo --projects {a.projects}")
        t = time.perf_counter()
        cli.run("demo", "--projects", str(a.projects))
        out["demo_s"] = time.perf_counter() - t
        out["records"], out["verify_s"] = cli.records()

        step("reading the projects, members, stages and decisions from `jointly log`")
        t = time.perf_counter()
        projects, types, lines = read_log(cli)
        out["log_read_s"] = time.perf_counter() - t
        out["projects_in_log"], out["types"] = len(projects), dict(sorted(types.items()))
        if lines != out["records"]:
            out["notes"].append(f"`jointly log` printed {lines} lines but `jointly verify` counted "
                                f"{out['records']} records")
        if not projects:
            raise Failure("the demo wrote no projects")
        rng = random.Random(19)
        sample = choose(projects, rng)
        decisions = [d for pid in sample for d in projects[pid].decisions[:1]][:SAMPLE_DECISIONS]
        targets = [projects[p] for p in sample if writable(projects[p])]
        if not targets:
            targets = rng.sample([p for p in projects.values() if writable(p)], 1)
        if not targets:
            raise Failure("no project has a staff member and two partners to append to")
        out["sample_projects"] = sample
        out["append_projects"] = [p.id for p in targets]
        out["sample_decisions"] = decisions
        targets = [{"id": p.id, "stage": p.stage, "staff": p.staff(), "partners": p.partners()} for p in targets]
        del projects

        step("tokens: bench-staff, bench-auditor")
        staff_token = cli.token("staff", "bench-staff")
        auditor_token = cli.token("auditor", "bench-auditor")

        step("jointly serve")
        server = Server(binary, data, work)
        out["startup_s"] = server.start()
        out["rss_after_startup_mb"] = server.memory.now_mb()

        step("signing in through the form, as staff and as auditor")
        sessions = {}
        sessions["staff"], out["sign_in_staff_ms"] = sign_in(server.port, staff_token)
        sessions["auditor"], out["sign_in_auditor_ms"] = sign_in(server.port, auditor_token)
        out["sign_in_staff_ms"] *= 1000
        out["sign_in_auditor_ms"] *= 1000

        reads = Reads(server.port, staff_token, auditor_token, sessions)
        client = Client(server.port)
        step("finding the reads")
        listed, pages, notes = build_reads(reads, client, sample, decisions, out["records"])
        out["notes"].extend(notes)
        out["projects_listed"], out["project_pages"] = len(listed), pages
        step(f"asking each of {len(reads.all)} reads once, alone")
        t = time.perf_counter()
        ask_alone(reads, client)
        out["alone_s"] = time.perf_counter() - t
        client.close()
        out["rss_after_reads_alone_mb"] = server.memory.now_mb()
        out["alone"] = [{k: s[k] for k in ("role", "path", "status", "bytes", "ms", "items")} for s in reads.solo]
        good = [s for s in reads.solo if s["status"] == 200]
        out["skipped"] = [{k: s[k] for k in ("role", "label", "path", "status", "detail")}
                          for s in reads.solo if s["status"] != 200]
        if not good:
            raise Failure("no read answered 200")
        load_reads = [{k: s[k] for k in ("role", "kind", "label", "path")} for s in good]

        step(f"load: {a.readers} readers and {a.writers} writers for {a.seconds} s")
        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        out["load_average_before"] = load_average()
        before_cpu = cpu_seconds(server.proc.pid)
        before_children = os.times()
        before_busy = machine_busy_seconds()
        deadline = time.monotonic() + a.seconds
        for i in range(a.readers):
            workers.append(ctx.Process(target=reader, daemon=True,
                                       args=(server.port, load_reads, reads.headers, a.mix, deadline, 1000 + i,
                                             queue)))
        for i in range(a.writers):
            workers.append(ctx.Process(target=writer, daemon=True,
                                       args=(server.port, staff_token, targets, deadline, 2000 + i, queue)))
        t = time.perf_counter()
        for w in workers:
            w.start()
        loaded, appended, reconnects = {}, {}, 0
        for _ in workers:
            try:
                kind, got, rc = queue.get(timeout=a.seconds + HTTP_TIMEOUT + 60)
            except Exception:
                raise Failure("a load worker did not report back")
            reconnects += rc
            merge(loaded if kind == "reader" else appended, got)
        elapsed = time.perf_counter() - t
        for w in workers:
            w.join(10)
        workers = [w for w in workers if w.is_alive()]
        after_children = os.times()
        busy = machine_busy_seconds() - before_busy
        out["server_cpu_s"] = cpu_seconds(server.proc.pid) - before_cpu
        out["client_cpu_s"] = ((after_children.children_user - before_children.children_user)
                               + (after_children.children_system - before_children.children_system))
        # What else ran on the machine meanwhile (a build, say) took CPU from the server.
        out["other_cpu_s"] = max(0.0, busy - out["server_cpu_s"] - out["client_cpu_s"])
        if out["other_cpu_s"] > 0.1 * elapsed * (os.cpu_count() or 1):
            out["notes"].append(f"other processes used {out['other_cpu_s']:.1f} CPU seconds of the "
                                f"{elapsed * (os.cpu_count() or 1):.0f} the machine had during the load: "
                                "the figures are lower than on a quiet machine")
        out["load_s"] = elapsed
        out["reconnects"] = reconnects
        out["rss_after_load_mb"] = server.memory.now_mb()
        server.stop()
        out["peak_rss_mb"] = server.memory.peak_mb()
        out["peak_rss_sampled_mb"] = server.memory.peak_rss_kb / 1024
        out["vm_hwm_mb"] = server.memory.hwm_kb / 1024

        out["reads"] = summarise_reads(reads, loaded)
        out["reads_total"] = sum(r["count"] for r in out["reads"])
        out["read_errors"] = sum(sum(r["errors"].values()) for r in out["reads"])
        # Rates count what was answered by the deadline: a big answer asked
        # just before it may take many seconds more.
        out["reads_per_s"] = sum(g.get("in_time", 0) for g in loaded.values()) / a.seconds
        out["appends"] = {}
        for kind in ("proposal.raised", "meeting.held", "decision.made"):
            g = appended.get(kind, {"ms": [], "accepted": 0, "refused": 0, "refusals": {}})
            ms = sorted(g["ms"])
            out["appends"][kind] = {"accepted": g["accepted"], "refused": g["refused"],
                                    "p50_ms": percentile(ms, 0.5), "p99_ms": percentile(ms, 0.99),
                                    "max_ms": ms[-1] if ms else None, "refusals": g["refusals"]}
        accepted = sum(x["accepted"] for x in out["appends"].values())
        out["appends_per_s"] = sum(g.get("in_time", 0) for g in appended.values()) / a.seconds

        step("jointly verify after the load")
        out["records_after"], out["verify_after_s"] = cli.records()
        if out["records_after"] != out["records"] + accepted:
            out["notes"].append(f"{accepted} appends were accepted but the log grew by "
                                f"{out['records_after'] - out['records']} records")
        out["summary"] = summary_line(out["reads"])
        if out["read_errors"]:
            out["summary"] += f"; {out['read_errors']} reads failed under load"
        missing = [k for k, x in out["appends"].items() if not x["accepted"]] if a.writers else []
        if missing:
            raise Failure(f"no {', '.join(missing)} was accepted: " + "; ".join(
                f"{k}: {next(iter(out['appends'][k]['refusals']), 'none tried')}" for k in missing))
    finally:
        for w in workers:
            if w.is_alive():
                w.terminate()
                w.join(5)
        if server:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


def main(a, binary, root):
    """Runs the benchmark; the exit code."""
    def on_term(signum, _frame):
        raise SystemExit(1)

    signal.signal(signal.SIGTERM, on_term)
    out, failed = {}, None
    try:
        run(a, binary, root, out)
    except Failure as e:
        failed = str(e)
    except (OSError, ValueError, KeyError, subprocess.SubprocessError, http.client.HTTPException) as e:
        failed = f"{type(e).__name__}: {e}"
    if failed:
        print(f"tools/bench: {failed}", file=sys.stderr)
        out["failed"] = failed
    else:
        print_report(out)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=2)
            f.write("\n")
    return 1 if failed else 0
