"""Web tools: web_search (DuckDuckGo's HTML endpoint) and fetch_url.

``fetch_url`` reaches public addresses only (``netpolicy``; every redirect hop is checked)
unless ``ALLOW_PRIVATE_URLS``. Both use ``ctx.http`` when the task has one without credentials in its default
headers (an LLM client's ``Authorization`` must never go to an arbitrary site),
else a short-lived ``httpx.AsyncClient``. Every answer is wrapped with
``mark_untrusted`` so the model can tell page text from instructions.

Both read the body as a stream and stop at ``MAX_BYTES`` (``fetch_url`` notes the cut);
HTML parsing and conversion run in a worker thread, off the event loop. In ``fetch_url``, HTML
becomes Markdown (scripts, styles, navigation, footers and forms dropped, title
kept), JSON is pretty-printed, other text types are shown as they are, binary
types are refused with their content type.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
from bs4 import BeautifulSoup
from markdownify import markdownify

from ..httpclient import async_client
from .base import Tool, ToolContext, ToolError, ToolResult, mark_untrusted
from .netpolicy import check_url

#: Bytes of a fetched body read before stopping.
MAX_BYTES = 2 * 1024 * 1024
MAX_REDIRECTS = 5
TIMEOUT = httpx.Timeout(20.0, connect=10.0)
USER_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
              "(KHTML, like Gecko) Chrome/124.0 Safari/537.36")
_NOISE = ("script", "style", "noscript", "nav", "footer", "aside", "form", "svg", "iframe")
_TEXT_TYPES = ("application/xml", "application/javascript", "application/x-yaml",
               "application/yaml", "application/csv", "application/x-ndjson")


@contextlib.asynccontextmanager
async def _client(ctx: ToolContext) -> AsyncIterator[httpx.AsyncClient]:
    if ctx.http is not None and "authorization" not in ctx.http.headers:
        yield ctx.http
        return
    async with async_client(timeout=TIMEOUT, max_redirects=MAX_REDIRECTS) as client:
        yield client


class WebSearch(Tool):
    """Search the web."""

    name = "web_search"
    description = "Search the web (DuckDuckGo); returns titles, URLs and snippets."
    parameters = {
        "type": "object",
        "properties": {
            "query": {"type": "string"},
            "num_results": {"type": "integer", "minimum": 1, "maximum": 10, "default": 5},
        },
        "required": ["query"],
    }

    async def run(self, ctx: ToolContext, **arguments: Any) -> ToolResult:
        """POST the query to the search endpoint and list the results."""
        query = arguments["query"]
        count = arguments.get("num_results") or 5
        url = ctx.settings.web_search_url
        try:
            async with _client(ctx) as client:
                _, status, _, body, _ = await _download(client, url, "POST", {"q": query})
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise ToolError(f"web search failed: {type(exc).__name__}: {exc}") from None
        if status != 200:
            raise ToolError(f"web search failed: HTTP {status} from {url} "
                            "(rate-limited? try again later or fetch_url a known page)")
        # Parsing a page is CPU work: off the event loop, like all the conversion below.
        html = body.decode("utf-8", "replace")
        results = (await asyncio.to_thread(parse_results, html))[:count]
        if not results:
            return ToolResult(ok=True, output=f"No results for {query!r}.")
        lines = [f"{i}. {title}\n   {link}\n   {snippet}".rstrip()
                 for i, (title, link, snippet) in enumerate(results, start=1)]
        return ToolResult(ok=True, output=mark_untrusted(f"web search {query!r}",
                                                         "\n".join(lines)))


def parse_results(html: str) -> list[tuple[str, str, str]]:
    """(title, url, snippet) of each organic result on a DuckDuckGo HTML page."""
    soup = BeautifulSoup(html, "html.parser")
    results = []
    for anchor in soup.select("a.result__a"):
        container = anchor.find_parent(class_="result")
        if container is not None and "result--ad" in (container.get("class") or []):
            continue
        snippet = container.select_one(".result__snippet") if container is not None else None
        results.append((anchor.get_text(" ", strip=True), unwrap_link(str(anchor.get("href", ""))),
                        snippet.get_text(" ", strip=True) if snippet is not None else ""))
    return results


def unwrap_link(href: str) -> str:
    """The target of a DuckDuckGo redirect link (``//duckduckgo.com/l/?uddg=...``)."""
    parsed = urlparse(href)
    if parsed.path.startswith("/l/"):
        target = parse_qs(parsed.query).get("uddg")
        if target:
            return target[0]
    return "https:" + href if href.startswith("//") else href


class FetchUrl(Tool):
    """Fetch a web page as text."""

    name = "fetch_url"
    description = "Fetch an http(s) URL; HTML is converted to Markdown, JSON pretty-printed."
    parameters = {
        "type": "object",
        "properties": {"url": {"type": "string"}},
        "required": ["url"],
    }

    async def run(self, ctx: ToolContext, **arguments: Any) -> ToolResult:
        """Download (bounded) and convert the body."""
        url = arguments["url"].strip()
        if urlparse(url).scheme not in ("http", "https"):
            raise ToolError(f"only http:// and https:// URLs can be fetched, not {url!r}")
        try:
            async with _client(ctx) as client:
                final, status, ctype, body, cut = await _fetch(
                    client, url, not ctx.settings.allow_private_urls)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise ToolError(f"fetching {url} failed: {type(exc).__name__}: {exc}") from None
        if status >= 400:
            preview = body[:500].decode("utf-8", "replace").strip()
            raise ToolError(f"HTTP {status} for {final}" + (f": {preview}" if preview else ""))
        text = await asyncio.to_thread(render, body, ctype)
        if cut:
            text += f"\n\n[truncated: only the first {MAX_BYTES // (1024 * 1024)} MB were read]"
        return ToolResult(ok=True, output=mark_untrusted(final, f"URL: {final}\n\n{text}"))


_HEADERS = {"User-Agent": USER_AGENT,
            "Accept": "text/html,application/json,text/*;q=0.9,*/*;q=0.5"}


async def _fetch(client: httpx.AsyncClient, url: str,
                 public_only: bool) -> tuple[str, int, str, bytes, bool]:
    """GET ``url``, following redirects one hop at a time; each hop is checked first."""
    for _ in range(MAX_REDIRECTS + 1):
        if public_only:
            await check_url(url)
        async with client.stream("GET", url, headers=_HEADERS, follow_redirects=False,
                                 timeout=TIMEOUT) as response:
            if response.has_redirect_location:
                url = str(response.url.join(response.headers["location"]))
                continue
            return (str(response.url), response.status_code,
                    response.headers.get("content-type", ""), *await _read(response))
    raise ToolError(f"fetching {url} failed: TooManyRedirects: more than {MAX_REDIRECTS} "
                    "redirects")


async def _download(client: httpx.AsyncClient, url: str, method: str = "GET",
                    form: dict[str, str] | None = None) -> tuple[str, int, str, bytes, bool]:
    """(final url, status, content type, body up to MAX_BYTES, whether it was cut)."""
    async with client.stream(method, url, data=form, headers=_HEADERS, follow_redirects=True,
                             timeout=TIMEOUT) as response:
        ctype = response.headers.get("content-type", "")
        return (str(response.url), response.status_code, ctype, *await _read(response))


async def _read(response: httpx.Response) -> tuple[bytes, bool]:
    """The body up to ``MAX_BYTES`` and whether it was cut."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > MAX_BYTES:
            del body[MAX_BYTES:]
            return bytes(body), True
    return bytes(body), False


def render(body: bytes, content_type: str) -> str:
    """The body as text for the model; ``ToolError`` for binary content."""
    mime, _, params = content_type.partition(";")
    mime = mime.strip().lower()
    charset = _charset(params)
    if mime in ("text/html", "application/xhtml+xml") or (not mime and body.lstrip()[:1] == b"<"):
        return html_to_markdown(body, charset)
    if mime == "application/json" or mime.endswith("+json"):
        text = _decode(body, charset)
        try:
            return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except json.JSONDecodeError:
            return text
    textual = mime.startswith("text/") or mime in _TEXT_TYPES or mime.endswith("+xml")
    if textual or (not mime and b"\0" not in body[:8192]):
        return _decode(body, charset)
    raise ToolError(f"content type {mime or 'unknown'} is binary ({len(body):,} bytes read); "
                    "not shown. Download it with run_command (curl -o) if you need the file.")


def _decode(body: bytes, charset: str | None) -> str:
    try:
        return body.decode(charset or "utf-8", "replace")
    except LookupError:  # an unknown charset name in the header
        return body.decode("utf-8", "replace")


def _charset(params: str) -> str | None:
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"')
    return None


def html_to_markdown(body: bytes, charset: str | None = None) -> str:
    """Markdown of an HTML page without scripts, styles and navigation; title first."""
    soup = BeautifulSoup(body, "html.parser", from_encoding=charset)
    title = soup.title.get_text(strip=True) if soup.title else ""
    for tag in soup(_NOISE):
        tag.decompose()
    root = soup.body or soup
    markdown = markdownify(str(root), heading_style="ATX", strip=["img"])
    lines = [line.rstrip() for line in markdown.splitlines()]
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return (f"# {title}\n\n" if title else "") + text.strip()
