"""Runs fetch cases with Python requests and prints what happened, as JSON, for the fetcher's
comparison test (test/requests-compat.int.test.ts). One requests.Session per case."""
import json
import sys

import requests


def run_step(session, step):
    kwargs = {"allow_redirects": step.get("allowRedirects", True), "timeout": 10}
    params = step.get("params")
    if params is not None:
        kwargs["params"] = [tuple(p) for p in params] if isinstance(params, list) else params
    data = step.get("data")
    if data is not None:
        kwargs["data"] = [tuple(p) for p in data] if isinstance(data, list) else data
    if "json" in step:
        kwargs["json"] = step["json"]
    if "headers" in step:
        kwargs["headers"] = step["headers"]
    if "cookies" in step:
        kwargs["cookies"] = step["cookies"]
    if "auth" in step:
        kwargs["auth"] = tuple(step["auth"])
    r = session.request(step.get("method", "GET"), step["url"], **kwargs)
    try:
        echo = r.json()
    except ValueError:
        echo = None
    return {
        "status": r.status_code,
        "url": r.url,
        "method": r.request.method,
        "history": [[h.status_code, h.url] for h in r.history],
        "cookies": dict(r.cookies),
        "echo": echo,
    }


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        cases = json.load(f)
    out = {"version": requests.__version__, "cases": {}}
    for case in cases:
        session = requests.Session()
        out["cases"][case["name"]] = [run_step(session, step) for step in case["steps"]]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
