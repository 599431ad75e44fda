"""The peer of load/bench/dynamic: the stock app's two hot pages in FastAPI, doing the same queries
on the same SQLite file as netlab's dynamic service.

    STOCK_DB=/path/stock.db uvicorn fastapi_app:app --no-access-log

GET /api/stocks (limit, offset, q, sort; validated), GET /index.html (Jinja2 rendering netlab's own
templates, services/dynamic/templates, with the same context: the same page byte for byte but for
the CSRF token and the instance name, a fresh token in every form), and the WSGI/ASGI lesson:
/api/slow/sync (def + time.sleep: FastAPI runs it in its thread pool), /api/slow/async (async def +
asyncio.sleep) and /api/slow/blocking (async def + time.sleep: blocks the event loop).

FASTAPI_MODE=sync (the default) serves the database routes as `def` endpoints, FastAPI's documented
way for blocking drivers such as sqlite3 (a thread pool, one connection per thread);
FASTAPI_MODE=async serves them as `async def` calling sqlite3 directly on the event loop.
"""

import asyncio
import math
import os
import secrets
import sqlite3
import threading
import time
from typing import Literal
from urllib.parse import urlencode

import jinja2
from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel

DB_PATH = os.environ["STOCK_DB"]
MODE = os.environ.get("FASTAPI_MODE", "sync")
HERE = os.path.dirname(os.path.abspath(__file__))
# netlab's own templates (Jinja syntax): both systems render the same page.
TEMPLATES = os.environ.get(
    "STOCK_TEMPLATES", os.path.join(HERE, "..", "..", "..", "..", "services", "dynamic", "templates")
)

app = FastAPI(title="stock app (FastAPI peer)")


def _fixed(value) -> str:
    try:
        n = float(value)
    except (TypeError, ValueError):
        return ""
    return f"{n:.2f}" if math.isfinite(n) else ""


def _signed(value) -> str:
    text = _fixed(value)
    return "+" + text if float(value) > 0 else text


def _trend(value) -> str:
    n = float(value)
    return "up" if n > 0 else ("down" if n < 0 else "flat")


# The options and filters of services/dynamic/src/templates.ts (nunjucks there, Jinja2 here).
_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_env.filters.update(fixed=_fixed, signed=_signed, trend=_trend)
templates = Jinja2Templates(env=_env)
_local = threading.local()
COLUMNS = [
    ("code", "Code", False),
    ("shortName", "Name", False),
    ("price", "Price", True),
    ("changePct", "Change", True),
    ("turnoverPct", "Turnover", True),
    ("high", "High", True),
    ("date", "Date", False),
]

SORT_COLUMNS = {
    "code": "info.code",
    "shortName": "info.short_name",
    "price": "info.price",
    "changePct": "info.change_pct",
    "turnoverPct": "info.turnover_pct",
    "high": "info.high",
    "date": "info.date",
}
SortValue = Literal[
    "code", "shortName", "price", "changePct", "turnoverPct", "high", "date",
    "-code", "-shortName", "-price", "-changePct", "-turnoverPct", "-high", "-date",
]


class Stock(BaseModel):
    code: str
    shortName: str
    changePct: float
    turnoverPct: float
    price: float
    high: float
    date: str
    followed: bool


class StockPage(BaseModel):
    items: list[Stock]
    total: int
    limit: int
    offset: int


def db() -> sqlite3.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(DB_PATH, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 2000")
        _local.conn = conn
    return conn


def like_pattern(q: str) -> str:
    return "%" + "".join("!" + c if c in "!%_" else c for c in q) + "%"


def list_stocks(q: str | None, limit: int, offset: int, sort: str) -> dict:
    descending = sort.startswith("-")
    column = SORT_COLUMNS[sort[1:] if descending else sort]
    direction = "desc" if descending else "asc"
    where, params = "", []
    if q:
        where = "where (info.code like ? escape '!' or info.short_name like ? escape '!')"
        params = [like_pattern(q)] * 2
    conn = db()
    rows = conn.execute(
        "select info.code, info.short_name, info.change_pct, info.turnover_pct, info.price, "
        "info.high, info.date, focus.id from info left join focus on focus.info_id = info.id "
        f"{where} order by {column} {direction}, info.id {direction} limit ? offset ?",
        [*params, limit, offset],
    ).fetchall()
    (total,) = conn.execute(f"select count(*) from info {where}", params).fetchone()
    items = [
        {
            "code": r[0], "shortName": r[1], "changePct": r[2], "turnoverPct": r[3],
            "price": r[4], "high": r[5], "date": r[6], "followed": r[7] is not None,
        }
        for r in rows
    ]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def render_index(request: Request) -> HTMLResponse:
    """The context services/dynamic/src/pages.ts builds for /index.html (q, sort, page)."""
    q = (request.query_params.get("q") or "")[:100]
    sort_param = request.query_params.get("sort") or "code"
    descending = sort_param.startswith("-")
    sort = sort_param[1:] if descending else sort_param
    if sort not in SORT_COLUMNS:
        sort = "code"
    try:
        page_no = max(1, min(1_000_000, int(request.query_params.get("page") or "1") or 1))
    except ValueError:
        page_no = 1
    sort_value = ("-" if descending else "") + sort
    result = list_stocks(q or None, 20, (page_no - 1) * 20, sort_value)
    pages = max(1, math.ceil(result["total"] / 20))

    def link(sort_to: str, page: int) -> str:
        search = urlencode({"q": q}) + "&" if q else ""
        return f"/index.html?{search}sort={sort_to}&page={page}"

    columns = []
    for key, label, numeric in COLUMNS:
        active = key == sort
        columns.append(
            {
                "key": key,
                "label": label,
                "numeric": numeric,
                "active": active,
                "descending": active and descending,
                "href": link(f"-{key}" if active and not descending else key, 1),
            }
        )
    return templates.TemplateResponse(
        request,
        "index.njk",
        {
            "instance": "fastapi",
            # netlab's token: 32 random bytes and the 32-byte secret masked with them, base64url.
            "csrf": secrets.token_urlsafe(64),
            "notice": None,
            "page": "index",
            "live": "sse",
            "stocks": result["items"],
            "total": result["total"],
            "q": q,
            "sort": sort_value,
            "pageNo": page_no,
            "pages": pages,
            "here": link(sort_value, page_no),
            "prevHref": link(sort_value, page_no - 1) if page_no > 1 else None,
            "nextHref": link(sort_value, page_no + 1) if page_no < pages else None,
            "columns": columns,
        },
    )


if MODE == "sync":

    @app.get("/api/stocks", response_model=StockPage)
    def api_stocks(
        q: str | None = Query(None, max_length=100),
        limit: int = Query(20, ge=1, le=100),
        offset: int = Query(0, ge=0, le=1_000_000_000),
        sort: SortValue = "code",
    ):
        return list_stocks(q, limit, offset, sort)

    @app.get("/index.html", response_class=HTMLResponse)
    def index(request: Request):
        return render_index(request)

else:

    @app.get("/api/stocks", response_model=StockPage)
    async def api_stocks(
        q: str | None = Query(None, max_length=100),
        limit: int = Query(20, ge=1, le=100),
        offset: int = Query(0, ge=0, le=1_000_000_000),
        sort: SortValue = "code",
    ):
        return list_stocks(q, limit, offset, sort)

    @app.get("/index.html", response_class=HTMLResponse)
    async def index(request: Request):
        return render_index(request)


@app.get("/api/slow/sync")
def slow_sync(ms: int = Query(100, ge=0, le=1000)):
    time.sleep(ms / 1000)
    return {"mode": "sync", "ms": ms}


@app.get("/api/slow/async")
async def slow_async(ms: int = Query(100, ge=0, le=1000)):
    await asyncio.sleep(ms / 1000)
    return {"mode": "async", "ms": ms}


@app.get("/api/slow/blocking")
async def slow_blocking(ms: int = Query(100, ge=0, le=1000)):
    time.sleep(ms / 1000)
    return {"mode": "blocking", "ms": ms}
