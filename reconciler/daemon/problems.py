"""Error answers of the daemon's HTTP side as RFC 9457 problem bodies (`application/problem+json`).

Where it sits: `api` and `autoupdate` raise `HttpProblem`; `api.problems` (a middleware) turns every
other error into one, so a client never sees a traceback or an HTML error page.
"""

from __future__ import annotations

import json

from aiohttp import web

MEDIA_TYPE = "application/problem+json"
TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
          408: "Request Timeout", 409: "Conflict", 413: "Payload Too Large", 415: "Unsupported Media Type",
          500: "Internal Server Error", 503: "Service Unavailable"}


class HttpProblem(web.HTTPException):
    """An error answer as an RFC 9457 problem body."""

    def __init__(self, status: int, title: str, detail: str = "", headers: dict[str, str] | None = None) -> None:
        self.status_code = status
        body = {"type": "about:blank", "title": title, "status": status, **({"detail": detail} if detail else {})}
        super().__init__(headers=headers, text=json.dumps(body), content_type=MEDIA_TYPE)


def problem(status: int, detail: str) -> HttpProblem:
    return HttpProblem(status, TITLES[status], detail)
