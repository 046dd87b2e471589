#!/usr/bin/env python3
"""Several jobsd nodes on one PostgreSQL vs the SQLite single node (issue 17's benchmarks).

Run through scripts/with-postgres.sh (it provides JOBSD_TEST_POSTGRES_URL), with a release jobsd:
    swift build -c release --product jobsd
    scripts/with-postgres.sh python3 Benchmarks/cluster/cluster.py [JOBS]
    scripts/with-postgres.sh python3 Benchmarks/cluster/cluster.py cancel [SAMPLES]   # cross-node cancel only

Measures, each on fresh data dirs and a fresh database schema:
  - jobs completed per second (`true` jobs, JOBS of them posted round-robin to every node by 16
    client threads, until all are terminal) with the SQLite single node, 1, 2 and 3 PostgreSQL nodes;
  - PostgreSQL transactions per job (pg_stat_database.xact_commit delta / jobs), round trips per
    job (the nodes' jobsd_store_round_trip_seconds_count) and bytes per job both ways (tcp_info
    bytes_acked + bytes_received of every connection to the server's port, from `ss -ti`);
  - cross-node cancel: DELETE through a node that does not run the job -> 202 answer, -> the
    running node's signal ladder starts (its `signal_sent` SIGTERM event, stamped when the signal is
    sent, minus the wall-clock time the DELETE's answer arrived: same host, same clock; negative
    when the ladder started before the answer arrived), and -> the job terminal (`sleep 300`,
    grace 5 s: the ladder's SIGTERM ends it), p50/p99;
  - rescue after kill -9 of the node running a job (default --heartbeat 2s, --node-timeout 10s):
    seconds from the kill to the job terminal as seen through the surviving node.
"""
import json, os, shutil, signal, socket, subprocess, sys, tempfile, threading, time, urllib.request, uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = subprocess.check_output(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, text=True).strip() + "/jobsd"
PG = os.environ["JOBSD_TEST_POSTGRES_URL"]
CANCEL_ONLY = len(sys.argv) > 1 and sys.argv[1] == "cancel"
JOBS = int(sys.argv[1]) if len(sys.argv) > 1 and not CANCEL_ONLY else 2000
CANCEL_SAMPLES = int(sys.argv[2]) if CANCEL_ONLY and len(sys.argv) > 2 else 100


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def psql(sql, url=PG):
    return subprocess.check_output(["psql", url, "-qAtc", sql], text=True).strip()


def fresh_store():
    schema = "b_" + uuid.uuid4().hex[:12]
    psql(f"CREATE SCHEMA {schema}")
    return PG + f"?options=-csearch_path%3D{schema}"


class Node:
    def __init__(self, store, node_id, extra=()):
        self.dir = tempfile.mkdtemp(prefix="jobsd-bench-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [BIN, "--port", str(self.port), "--data-dir", self.dir, "--store", store, "--node-id", node_id,
                "--max-running", "8", "--log-level", "error", *extra]
        self.proc = subprocess.Popen(args, stderr=open(self.dir + "/log", "w"))
        for _ in range(400):
            try:
                if self.get("/readyz")[0] == 200: return
            except Exception: pass
            time.sleep(0.025)
        raise RuntimeError("node did not start: " + open(self.dir + "/log").read())

    def request(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=70) as r: return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e: return e.code, json.loads(e.read() or b"null")

    def get(self, path): return self.request("GET", path)

    def stop(self, sig=signal.SIGKILL):
        if self.proc.poll() is None:
            self.proc.send_signal(sig); self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def pg_bytes():
    """Bytes sent and received so far on every connection to the PostgreSQL port (server side)."""
    port = PG.rsplit(":", 1)[1].split("/", 1)[0]
    out = subprocess.check_output(["ss", "-tinH", "state", "established", f"( sport = :{port} )"], text=True)
    total = 0
    for field in out.split():
        for key in ("bytes_acked:", "bytes_received:"):
            if field.startswith(key): total += int(field[len(key):])
    return total


def round_trips(nodes):
    total = 0
    for n in nodes:
        for line in urllib.request.urlopen(n.url + "/metrics").read().decode().splitlines():
            if line.startswith("jobsd_store_round_trip_seconds_count "): total += float(line.split()[1])
    return total


def throughput(store, count):
    nodes = [Node(store, f"n{i}") for i in range(count)] if store != "sqlite" else [Node("sqlite", "single")]
    try:
        before = psql("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        trips_before, bytes_before = round_trips(nodes), pg_bytes()
        start = time.monotonic()
        ids = []
        lock = threading.Lock()
        def submit(i):
            status, job = nodes[i % len(nodes)].request("POST", "/v1/jobs", {"command": ["true"]})
            assert status == 201, (status, job)
            with lock: ids.append(job["id"])
        with ThreadPoolExecutor(16) as pool: list(pool.map(submit, range(JOBS)))
        def wait(i):
            status, job = nodes[(i + 1) % len(nodes)].get(f"/v1/jobs/{ids[i]}?wait=60")
            assert job["state"] == "succeeded", job
        with ThreadPoolExecutor(16) as pool: list(pool.map(wait, range(len(ids))))
        elapsed = time.monotonic() - start
        after = psql("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        trips, traffic = (round_trips(nodes) - trips_before) / JOBS, (pg_bytes() - bytes_before) / JOBS
        return JOBS / elapsed, (int(after) - int(before)) / JOBS, trips, traffic
    finally:
        for n in nodes: n.stop()


def percentile(values, p):
    values = sorted(values); return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def cross_node_cancel(samples):
    store = fresh_store()
    nodes = [Node(store, "c0"), Node(store, "c1")]
    answer, ladder, terminal = [], [], []
    try:
        for _ in range(samples):
            status, job = nodes[0].request("POST", "/v1/jobs", {"command": ["sleep", "300"], "grace_seconds": 5})
            while True:
                _, job = nodes[0].get(f"/v1/jobs/{job['id']}")
                if job["state"] == "running" and job["pid"]: break
                time.sleep(0.005)
            other = nodes[1] if job["node"] == "c0" else nodes[0]
            t0 = time.monotonic()
            status, _ = other.request("DELETE", f"/v1/jobs/{job['id']}")
            t1 = time.monotonic()
            answered_at = time.time()
            assert status == 202, status
            _, done = other.get(f"/v1/jobs/{job['id']}?wait=30")
            t2 = time.monotonic()
            assert done["state"] == "cancelled", done
            _, timeline = other.get(f"/v1/jobs/{job['id']}/events")
            sent = next(e for e in timeline["events"] if e["type"] == "signal_sent" and e["signal"] == "SIGTERM")
            sent_at = datetime.fromisoformat(sent["at"].replace("Z", "+00:00")).timestamp()
            answer.append((t1 - t0) * 1000); terminal.append((t2 - t0) * 1000)
            ladder.append((sent_at - answered_at) * 1000)
    finally:
        for n in nodes: n.stop()
    return answer, ladder, terminal


def rescue(samples=3):
    times = []
    for _ in range(samples):
        store = fresh_store()
        nodes = [Node(store, "r0"), Node(store, "r1")]
        try:
            _, job = nodes[0].request("POST", "/v1/jobs", {"command": ["sleep", "300"]})
            while True:
                _, job = nodes[0].get(f"/v1/jobs/{job['id']}")
                if job["state"] == "running" and job["pid"]: break
                time.sleep(0.01)
            victim = nodes[0] if job["node"] == "r0" else nodes[1]
            survivor = nodes[1] if victim is nodes[0] else nodes[0]
            t0 = time.monotonic()
            victim.proc.kill(); victim.proc.wait()
            _, done = survivor.get(f"/v1/jobs/{job['id']}?wait=60")
            times.append(time.monotonic() - t0)
            assert done["state"] == "failed", done
            os.kill(job["pid"], signal.SIGKILL)
        finally:
            for n in nodes: n.stop()
    return times


if CANCEL_ONLY:
    answer, ladder, terminal = cross_node_cancel(CANCEL_SAMPLES)
    print(f"cross-node cancel, {CANCEL_SAMPLES} samples (same host)")
    print(f"DELETE -> 202: p50 {percentile(answer, 50):.1f} ms, p99 {percentile(answer, 99):.1f} ms")
    print(f"202 answer -> SIGTERM sent on the running node: p50 {percentile(ladder, 50):.1f} ms, "
          f"p99 {percentile(ladder, 99):.1f} ms, max {max(ladder):.1f} ms (target p99 <= 50 ms)")
    print(f"DELETE -> cancelled: p50 {percentile(terminal, 50):.1f} ms, p99 {percentile(terminal, 99):.1f} ms")
    sys.exit(0)

rows = []
sqlite_rate, *_ = throughput("sqlite", 1)
rows.append(("SQLite, 1 node", f"{sqlite_rate:.0f} jobs/s", "1.00×", "—", "—", "—"))
for count in (1, 2, 3):
    rate, xacts, trips, traffic = throughput(fresh_store(), count)
    rows.append((f"PostgreSQL, {count} node{'s' if count > 1 else ''}", f"{rate:.0f} jobs/s", f"{rate / sqlite_rate:.2f}×",
                 f"{xacts:.1f}", f"{trips:.1f}", f"{traffic / 1024:.1f} KiB"))
answer, ladder, terminal = cross_node_cancel(CANCEL_SAMPLES)
rescued = rescue()
print(f"jobs: {JOBS} `true` jobs per row, --max-running 8 per node, 16 client threads")
print("| store | completed | vs SQLite | PostgreSQL commits per job | round trips per job | bytes per job (both ways) |")
print("|---|---|---|---|---|---|")
for r in rows: print("| " + " | ".join(r) + " |")
print(f"cross-node cancel, DELETE -> 202: p50 {percentile(answer, 50):.1f} ms, p99 {percentile(answer, 99):.1f} ms")
print(f"cross-node cancel, 202 answer -> SIGTERM sent on the running node: p50 {percentile(ladder, 50):.1f} ms, p99 {percentile(ladder, 99):.1f} ms")
print(f"cross-node cancel, DELETE -> cancelled: p50 {percentile(terminal, 50):.1f} ms, p99 {percentile(terminal, 99):.1f} ms")
print(f"rescue after kill -9 (defaults 2 s / 10 s): " + ", ".join(f"{t:.1f} s" for t in rescued))
