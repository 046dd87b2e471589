#!/usr/bin/env python3
"""Orchestration benchmarks (issue 16), against a release jobsd on the SQLite store:
    swift build -c release --product jobsd
    python3 Benchmarks/orchestration/orchestration.py [JOBS] [REPEATS]

Measures, each on a fresh data dir:
  - jobs completed per second: JOBS `true` jobs posted by 16 client threads until all are
    terminal, with no concurrency key vs spread over 100 keys at concurrency_limit 1 (the cost of
    the admission queue's per-key heaps); the two alternate REPEATS times and the medians are
    compared (target: keyed >= 0.9x unkeyed);
  - the cancel fan-out of a group: a group of 1000 jobs (`sleep 300`, --max-running 8: 8 running,
    992 queued), then DELETE /v1/groups/{id}; seconds from the DELETE to the 202 answer and to the
    group terminal (every job terminal, read through GET /v1/groups/{id}?wait).
Prints one JSON line per measure.
"""
import json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, threading, time, urllib.request
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = subprocess.check_output(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, text=True).strip() + "/jobsd"
JOBS = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
REPEATS = int(sys.argv[2]) if len(sys.argv) > 2 else 3


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


class Server:
    def __init__(self, *extra):
        self.dir = tempfile.mkdtemp(prefix="jobsd-bench-orch-")
        self.url = f"http://127.0.0.1:{free_port()}"
        port = self.url.rsplit(":", 1)[1]
        args = [BIN, "--port", port, "--data-dir", self.dir, "--max-running", "8", "--queue-limit", "100000",
                "--log-level", "error", *extra]
        self.proc = subprocess.Popen(args, stderr=open(self.dir + "/log", "w"))
        for _ in range(400):
            try:
                if self.request("GET", "/readyz")[0] == 200: return
            except Exception: pass
            time.sleep(0.025)
        raise RuntimeError("jobsd did not start: " + open(self.dir + "/log").read())

    def request(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=120) as r: return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e: return e.code, json.loads(e.read() or b"null")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try: self.proc.wait(60)
            except subprocess.TimeoutExpired: self.proc.kill(); self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def throughput(keys):
    server = Server()
    try:
        ids, lock = [], threading.Lock()
        def submit(i):
            spec = {"command": ["true"]}
            if keys: spec["concurrency_key"] = f"k{i % keys}"
            status, job = server.request("POST", "/v1/jobs", spec)
            assert status == 201, (status, job)
            with lock: ids.append(job["id"])
        start = time.monotonic()
        with ThreadPoolExecutor(16) as pool: list(pool.map(submit, range(JOBS)))
        def final_state(job_id):
            while True:
                status, job = server.request("GET", f"/v1/jobs/{job_id}?wait=60")
                assert status == 200, (status, job)
                if job["state"] not in ("queued", "running", "cancelling"): return job["state"]
        with ThreadPoolExecutor(16) as pool:
            states = list(pool.map(final_state, ids))
        elapsed = time.monotonic() - start
        assert states.count("succeeded") == JOBS, {s: states.count(s) for s in set(states)}
        return JOBS / elapsed
    finally:
        server.stop()


def group_cancel():
    server = Server()
    try:
        jobs = [{"command": ["sleep", "300"], "grace_seconds": 5} for _ in range(1000)]
        status, group = server.request("POST", "/v1/groups", {"name": "bench", "jobs": jobs})
        assert status == 201, (status, group)
        # Until the 8 slots are taken (the rest queued).
        for _ in range(2000):
            if server.request("GET", f"/v1/groups/{group['id']}")[1]["counts"].get("running", 0) == 8: break
            time.sleep(0.01)
        start = time.monotonic()
        status, answer = server.request("DELETE", f"/v1/groups/{group['id']}")
        answered = time.monotonic() - start
        assert status == 202, (status, answer)
        status, final = server.request("GET", f"/v1/groups/{group['id']}?wait=60")
        terminal = time.monotonic() - start
        assert final["state"] == "cancelled" and final["counts"].get("cancelled") == 1000, final
        return answered, terminal
    finally:
        server.stop()


if __name__ == "__main__":
    plain, keyed = [], []
    for _ in range(REPEATS):
        plain.append(throughput(0)); keyed.append(throughput(100))
    print(json.dumps({"measure": "jobs/s, no keys", "runs": [round(x, 1) for x in plain], "median": round(statistics.median(plain), 1)}))
    print(json.dumps({"measure": "jobs/s, 100 keys at limit 1", "runs": [round(x, 1) for x in keyed], "median": round(statistics.median(keyed), 1),
                      "ratio": round(statistics.median(keyed) / statistics.median(plain), 3)}))
    runs = [group_cancel() for _ in range(REPEATS)]
    print(json.dumps({"measure": "DELETE of a 1000-job group", "answer_s": [round(a, 3) for a, _ in runs],
                      "all_terminal_s": [round(t, 3) for _, t in runs]}))
