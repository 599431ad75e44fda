"""A closed-loop client agent for load/bench/fetcher: Python requests with a thread pool, as the
lesson does it. `python requests_client.py URL` prints `ready`, then for every line
{"seconds": S, "concurrency": C} on stdin runs C threads, each with its own Session, each sending
its next GET as soon as the previous answered, for S seconds, and prints one JSON line."""
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import requests

URL = sys.argv[1]
SESSIONS = []


def session(i):
    while len(SESSIONS) <= i:
        SESSIONS.append(requests.Session())
    return SESSIONS[i]


def run(seconds, concurrency):
    deadline = time.perf_counter() + seconds
    latencies = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    sessions = [session(i) for i in range(concurrency)]

    def worker(i):
        s = sessions[i]
        while True:
            t = time.perf_counter()
            if t >= deadline:
                return
            try:
                r = s.get(URL, timeout=10)
                _ = r.content
                if r.status_code == 200:
                    latencies[i].append((time.perf_counter() - t) * 1000)
                else:
                    errors[i] += 1
            except requests.RequestException:
                errors[i] += 1

    cpu0 = time.process_time()
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(worker, range(concurrency)))
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu0
    flat = sorted(x for per in latencies for x in per)
    pick = lambda p: flat[min(len(flat) - 1, int(p / 100 * len(flat)))] if flat else float("nan")
    return {
        "requests": len(flat),
        "seconds": elapsed,
        "errors": sum(errors),
        "p50Ms": pick(50),
        "p99Ms": pick(99),
        "clientCpuPercent": cpu / elapsed * 100,
    }


print("ready", flush=True)
for line in sys.stdin:
    if line.strip():
        cmd = json.loads(line)
        print(json.dumps(run(cmd["seconds"], cmd["concurrency"])), flush=True)
