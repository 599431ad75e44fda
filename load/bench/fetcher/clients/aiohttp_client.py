"""A closed-loop client agent for load/bench/fetcher: aiohttp on asyncio, the source material's
recommendation for many concurrent requests. `python aiohttp_client.py URL` prints `ready`, then
for every line {"seconds": S, "concurrency": C} on stdin runs C tasks sharing one ClientSession,
each sending its next GET as soon as the previous answered, for S seconds, and prints one JSON
line."""
import asyncio
import json
import sys
import time

import aiohttp

URL = sys.argv[1]


async def run(session, seconds, concurrency):
    deadline = time.perf_counter() + seconds
    latencies = []
    errors = 0

    async def worker():
        nonlocal errors
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            try:
                async with session.get(URL) as r:
                    await r.read()
                    if r.status == 200:
                        latencies.append((time.perf_counter() - t) * 1000)
                    else:
                        errors += 1
            except aiohttp.ClientError:
                errors += 1

    cpu0 = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu0
    latencies.sort()
    pick = lambda p: latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] if latencies else float("nan")
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "errors": errors,
        "p50Ms": pick(50),
        "p99Ms": pick(99),
        "clientCpuPercent": cpu / elapsed * 100,
    }


async def main():
    loop = asyncio.get_running_loop()
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector) as session:
        print("ready", flush=True)
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if line == "":
                return
            if line.strip():
                cmd = json.loads(line)
                print(json.dumps(await run(session, cmd["seconds"], cmd["concurrency"])), flush=True)


asyncio.run(main())
