"""A fake Linear GraphQL endpoint: real HTTP on 127.0.0.1, teams, issues and comments in memory.

It is not a GraphQL server. It answers exactly the operations ``animus.sources.LinearAdapter``
sends, dispatching on the request's ``operationName`` (``AnimusIssues``, ``AnimusSetState`` …), and
answers the way Linear does: ``{"data": …}``, or ``{"errors": [{"message", "extensions": {"code"}}]}``
(HTTP 400 for a wrong API key with ``AUTHENTICATION_ERROR``, ``Entity not found`` for a missing
issue). Two things keep it honest without a parser:

* the ``filter`` variable (IssueFilter, TeamFilter) is evaluated for real — ``and``/``or``, ``team``,
  ``state``, ``labels.some``, ``updatedAt`` with ``eq``/``neq``/``in``/``nin``/``gt``/``gte``/``lt``/``lte``;
  a filter field it does not know is an error, never silently ignored;
* the answer is cut down to the selection set of the query document (names and nesting, arguments
  skipped), so the adapter only gets the fields it asked for, and a field Linear does not have is an
  error ("Cannot query field") as on Linear.

Pagination is Relay-style (``first``/``after``, ``pageInfo {hasNextPage endCursor}``), at most
``max_page_size`` nodes a page. ``fail_next(n, status=…)`` makes the next n requests fail.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

DEFAULT_STATES = (("Backlog", "backlog"), ("Todo", "unstarted"), ("In Progress", "started"), ("In Review", "started"),
                  ("Done", "completed"), ("Canceled", "canceled"))
_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


class GraphQLFault(Exception):
    """An answer of ``{"errors": [...]}`` with this HTTP status."""

    def __init__(self, message: str, code: str, status: int = 200, **extensions: Any) -> None:
        super().__init__(message)
        self.status = status
        self.error = {"message": message, "extensions": {"code": code, **extensions}}


class FakeLinear:
    """``with FakeLinear() as linear: linear.url`` — state under one lock, a log of every request."""

    def __init__(self, *, key: str = "lin_api_fake_key_0123456789", viewer: str = "Ada Lovelace",
                 max_page_size: int = 250, port: int = 0) -> None:
        self.key = key
        self.port = port
        self.viewer = viewer
        self.max_page_size = max_page_size
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._teams: dict[str, dict[str, Any]] = {}
        self._issues: dict[str, dict[str, Any]] = {}
        self._comments: dict[str, list[dict[str, Any]]] = {}
        self._faults: list[tuple[int, str | None, dict[str, str]]] = []
        self._clock = 0
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    def __enter__(self) -> FakeLinear:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                status, body, headers = fake._handle(self.path, dict(self.headers.items()), self.rfile.read(length))
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if not isinstance(body, str) else "text/plain")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        server = self._server
        threading.Thread(target=lambda: server.serve_forever(poll_interval=0.02), name="fake-linear", daemon=True).start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._server is not None:  # a test may stop it early to play a dead endpoint
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None, "use FakeLinear as a context manager"
        return f"http://127.0.0.1:{self._server.server_address[1]}/graphql"

    # -- test helpers -----------------------------------------------------------------------------

    def add_team(self, key: str, name: str | None = None,
                 states: tuple[tuple[str, str], ...] | list[tuple[str, str]] = DEFAULT_STATES) -> dict[str, Any]:
        with self._lock:
            team = {"id": str(uuid.uuid4()), "key": key, "name": name or key.title(), "number": 0,
                    "states": [{"id": str(uuid.uuid4()), "name": n, "type": t} for n, t in states]}
            self._teams[team["id"]] = team
            return _copy(team)

    def add_issue(self, team: str, title: str, description: str = "", state: str = "Todo",
                  labels: tuple[str, ...] | list[str] = (), priority: int = 0) -> dict[str, Any]:
        """A new issue in the team with key ``team``; its state by name. Returns the stored issue."""
        with self._lock:
            owner = next(t for t in self._teams.values() if t["key"] == team)
            owner["number"] += 1
            identifier = f"{owner['key']}-{owner['number']}"
            issue = {"id": str(uuid.uuid4()), "identifier": identifier, "title": title, "description": description,
                     "url": f"https://linear.app/fake/issue/{identifier}", "priority": priority,
                     "team_id": owner["id"], "state_id": _state(owner, state)["id"], "labels": list(labels),
                     "createdAt": self._tick(), "updatedAt": ""}
            issue["updatedAt"] = issue["createdAt"]
            self._issues[issue["id"]] = issue
            self._comments[issue["id"]] = []
            return self._view(issue)

    def update_issue(self, issue_id: str, **fields: Any) -> dict[str, Any]:
        """Change ``title``, ``description``, ``priority``, ``labels`` or ``state`` (a name); bumps updatedAt."""
        with self._lock:
            issue = self._issues[issue_id]
            for name, value in fields.items():
                if name == "state":
                    issue["state_id"] = _state(self._teams[issue["team_id"]], value)["id"]
                elif name in ("title", "description", "priority", "labels"):
                    issue[name] = list(value) if name == "labels" else value
                else:
                    raise KeyError(f"fake Linear: cannot update {name!r}")
            issue["updatedAt"] = self._tick()
            return self._view(issue)

    def delete_issue(self, issue_id: str) -> None:
        with self._lock:
            del self._issues[issue_id]
            self._comments.pop(issue_id, None)

    def issue(self, issue_id: str) -> dict[str, Any]:
        """The issue as stored, with ``state`` (its name) and ``team`` (its key) spelled out."""
        with self._lock:
            return self._view(self._issues[issue_id])

    def comments(self, issue_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [_copy(c) for c in self._comments[issue_id]]

    def add_comment(self, issue_id: str, body: str, *, first: bool = False) -> dict[str, Any]:
        """A person's comment (``first``: older than every other comment on the issue)."""
        with self._lock:
            comment = {"id": str(uuid.uuid4()), "body": body, "createdAt": self._tick()}
            self._comments[issue_id].insert(0 if first else len(self._comments[issue_id]), comment)
            return _copy(comment)

    def edit_comment(self, comment_id: str, body: str) -> None:
        """Change a comment's body behind the adapter's back (as Linear's Markdown round trip may)."""
        with self._lock:
            next(c for cs in self._comments.values() for c in cs if c["id"] == comment_id)["body"] = body

    def count(self, operation_name: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r["operationName"] == operation_name)

    def fail_next(self, n: int = 1, status: int = 500, *, code: str | None = None,
                  headers: dict[str, str] | None = None) -> None:
        """The next ``n`` requests fail with HTTP ``status`` (429: RATELIMITED, 401/403: AUTHENTICATION_ERROR, or
        ``code``); a 429 carries ``X-RateLimit-Requests-Reset`` (ms epoch) unless ``headers`` say otherwise."""
        with self._lock:
            self._faults += [(status, code, dict(headers or {}))] * n

    # -- the endpoint -----------------------------------------------------------------------------

    def _handle(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any, dict[str, str]]:
        try:
            request = json.loads(raw or b"{}")
        except ValueError:
            return 400, {"errors": [{"message": "body is not JSON", "extensions": {"code": "BAD_REQUEST"}}]}, {}
        operation = str(request.get("operationName") or "")
        variables = request.get("variables") or {}
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        with self._lock:
            self.requests.append({"operationName": operation, "variables": variables, "query": request.get("query"),
                                  "authorization": auth, "path": path})
            fault = self._faults.pop(0) if self._faults else None
            if fault is not None:
                return _fault(*fault)
            if auth != self.key:
                return 400, {"errors": [{"message": "Authentication required, not authenticated", "extensions": {
                    "code": "AUTHENTICATION_ERROR", "type": "authentication error",
                    "userPresentableMessage": "You need to authenticate to access this operation."}}]}, {}
            resolver = getattr(self, f"_op_{operation}", None)
            try:
                if path != "/graphql" or resolver is None:
                    raise GraphQLFault(f"fake Linear does not answer operation {operation!r} at {path}",
                                       "GRAPHQL_VALIDATION_FAILED", 400)
                data = _select(resolver(variables), _selection(str(request.get("query") or "")))
            except GraphQLFault as fault_:
                return fault_.status, {"errors": [fault_.error], "data": None}, {}
        return 200, {"data": data}, {}

    def _op_AnimusViewer(self, v: dict[str, Any]) -> dict[str, Any]:
        return {"viewer": {"id": "user-1", "name": self.viewer, "email": "ada@example.com"}}

    def _op_AnimusTeam(self, v: dict[str, Any]) -> dict[str, Any]:
        teams = [t for t in self._teams.values() if _matches(_team_fields(t), v["filter"])]
        return {"teams": {"nodes": [{**t, "states": {"nodes": t["states"]}} for t in teams]}}

    def _op_AnimusIssues(self, v: dict[str, Any]) -> dict[str, Any]:
        found = [i for i in self._issues.values() if _matches(self._issue_fields(i), v["filter"])]
        return {"issues": self._page([self._node(i) for i in found], v)}

    def _op_AnimusIssue(self, v: dict[str, Any]) -> dict[str, Any]:
        return {"issue": self._node(self._find(v["id"]))}

    def _op_AnimusIssueStatus(self, v: dict[str, Any]) -> dict[str, Any]:
        issue = self._find(v["id"])
        return {"issue": {**self._node(issue), "comments": self._page(self._comments[issue["id"]], v)}}

    def _op_AnimusIssueComments(self, v: dict[str, Any]) -> dict[str, Any]:
        issue = self._find(v["id"])
        return {"issue": {"comments": self._page(self._comments[issue["id"]], v)}}

    def _op_AnimusSetState(self, v: dict[str, Any]) -> dict[str, Any]:
        issue = self._find(v["id"])
        team = self._teams[issue["team_id"]]
        if not any(s["id"] == v["stateId"] for s in team["states"]):
            raise GraphQLFault("Entity not found: WorkflowState", "INVALID_INPUT")
        issue["state_id"] = v["stateId"]
        issue["updatedAt"] = self._tick()
        return {"issueUpdate": {"success": True, "issue": self._node(issue)}}

    def _op_AnimusCreateComment(self, v: dict[str, Any]) -> dict[str, Any]:
        issue = self._find(v["issueId"])
        comment = {"id": str(uuid.uuid4()), "body": v["body"], "createdAt": self._tick()}
        self._comments[issue["id"]].append(comment)
        return {"commentCreate": {"success": True, "comment": comment}}

    def _op_AnimusEditComment(self, v: dict[str, Any]) -> dict[str, Any]:
        for comments in self._comments.values():
            for comment in comments:
                if comment["id"] == v["id"]:
                    comment["body"] = v["body"]
                    return {"commentUpdate": {"success": True, "comment": comment}}
        raise GraphQLFault("Entity not found: Comment", "INVALID_INPUT")

    # -- internals --------------------------------------------------------------------------------

    def _tick(self) -> str:
        self._clock += 1
        return (_EPOCH + timedelta(seconds=self._clock)).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def _find(self, issue_id: str) -> dict[str, Any]:
        issue = self._issues.get(issue_id) or next((i for i in self._issues.values() if i["identifier"] == issue_id),
                                                   None)
        if issue is None:
            raise GraphQLFault("Entity not found: Issue", "INVALID_INPUT",
                               userPresentableMessage="Could not find referenced Issue.")
        return issue

    def _state_of(self, issue: dict[str, Any]) -> dict[str, Any]:
        return next(s for s in self._teams[issue["team_id"]]["states"] if s["id"] == issue["state_id"])

    def _node(self, issue: dict[str, Any]) -> dict[str, Any]:
        team = self._teams[issue["team_id"]]
        return {
            **{k: issue[k] for k in ("id", "identifier", "title", "description", "url", "priority", "createdAt",
                                     "updatedAt")},
            "state": self._state_of(issue),
            "labels": {"nodes": [{"id": f"label-{n}", "name": n} for n in issue["labels"]]},
            "team": {"id": team["id"], "key": team["key"], "name": team["name"], "states": {"nodes": team["states"]}},
        }

    def _issue_fields(self, issue: dict[str, Any]) -> dict[str, Any]:
        return {"id": issue["id"], "updatedAt": issue["updatedAt"], "createdAt": issue["createdAt"],
                "team": _team_fields(self._teams[issue["team_id"]]), "state": self._state_of(issue),
                "labels": [{"name": n} for n in issue["labels"]], "priority": issue["priority"]}

    def _view(self, issue: dict[str, Any]) -> dict[str, Any]:
        return {**_copy(issue), "state": self._state_of(issue)["name"], "team": self._teams[issue["team_id"]]["key"]}

    def _page(self, nodes: list[dict[str, Any]], v: dict[str, Any]) -> dict[str, Any]:
        first = min(int(v.get("first") or 50), self.max_page_size)
        after = v.get("after")
        start = next((i + 1 for i, n in enumerate(nodes) if n["id"] == after), 0) if after else 0
        page = nodes[start:start + first]
        more = start + first < len(nodes)
        return {"nodes": [_copy(n) for n in page],
                "pageInfo": {"hasNextPage": more, "endCursor": page[-1]["id"] if page else None}}


# -- filters -----------------------------------------------------------------------------------------


def _team_fields(team: dict[str, Any]) -> dict[str, Any]:
    return {"id": team["id"], "key": team["key"], "name": team["name"]}


def _matches(fields: Any, filter_: dict[str, Any]) -> bool:
    """Linear's filter semantics for the fields the fake knows; an unknown field is a GraphQL error."""
    for name, cond in filter_.items():
        if name == "and":
            ok = all(_matches(fields, c) for c in cond)
        elif name == "or":
            ok = any(_matches(fields, c) for c in cond)
        elif isinstance(fields, dict) and name in fields and isinstance(fields[name], list):  # a collection filter
            ok = _collection(fields[name], cond)
        elif isinstance(fields, dict) and name in fields and isinstance(fields[name], dict):
            ok = _matches(fields[name], cond)
        elif isinstance(fields, dict) and name in fields:
            ok = _compare(fields[name], cond)
        else:
            raise GraphQLFault(f"fake Linear: unknown filter field {name!r}", "GRAPHQL_VALIDATION_FAILED", 400)
        if not ok:
            return False
    return True


def _collection(items: list[Any], cond: dict[str, Any]) -> bool:
    for name, sub in cond.items():
        if name == "some":
            ok = any(_matches(i, sub) for i in items)
        elif name == "every":
            ok = all(_matches(i, sub) for i in items)
        elif name == "none":
            ok = not any(_matches(i, sub) for i in items)
        else:
            raise GraphQLFault(f"fake Linear: unknown collection filter {name!r}", "GRAPHQL_VALIDATION_FAILED", 400)
        if not ok:
            return False
    return True


def _compare(value: Any, cond: dict[str, Any]) -> bool:
    tests = {"eq": lambda x: value == x, "neq": lambda x: value != x, "in": lambda x: value in x,
             "nin": lambda x: value not in x, "gt": lambda x: value > x, "gte": lambda x: value >= x,
             "lt": lambda x: value < x, "lte": lambda x: value <= x,
             "eqIgnoreCase": lambda x: str(value).lower() == str(x).lower()}
    for op, arg in cond.items():
        if op not in tests:
            raise GraphQLFault(f"fake Linear: unknown comparator {op!r}", "GRAPHQL_VALIDATION_FAILED", 400)
        if not tests[op](arg):
            return False
    return True


# -- selection sets ----------------------------------------------------------------------------------

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[{}()]|\$|[^\sA-Za-z_{}()]+")
_Selection = dict[str, Any]  # field name → its sub-selection, or None for a leaf


def _selection(query: str) -> _Selection:
    """The nested field names of the operation's selection set (arguments and variable definitions skipped)."""
    tokens = iter(_TOKEN.findall(query))
    for token in _skip_parens(tokens):
        if token == "{":
            return _fields(tokens)
    raise GraphQLFault("fake Linear: the query has no selection set", "GRAPHQL_VALIDATION_FAILED", 400)


def _skip_parens(tokens: Iterator[str]) -> Iterator[str]:
    depth = 0
    for token in tokens:
        if token == "(":
            depth += 1
        elif token == ")":
            depth -= 1
        elif depth == 0:
            yield token


def _fields(tokens: Iterator[str]) -> _Selection:
    out: _Selection = {}
    last: str | None = None
    for token in _skip_parens(tokens):
        if token == "}":
            return out
        if token == "{":
            if last is None:
                raise GraphQLFault("fake Linear: a selection set without a field", "GRAPHQL_VALIDATION_FAILED", 400)
            out[last] = _fields(tokens)
        elif re.fullmatch(r"[A-Za-z_]\w*", token):
            out[token] = None
            last = token
    return out


def _select(value: Any, selection: _Selection | None) -> Any:
    if selection is None or value is None:
        return value
    if isinstance(value, list):
        return [_select(v, selection) for v in value]
    out = {}
    for name, sub in selection.items():
        if name not in value:
            raise GraphQLFault(f'Cannot query field "{name}" (fake Linear has no such field here)',
                               "GRAPHQL_VALIDATION_FAILED", 400)
        out[name] = _select(value[name], sub)
    return out


def _state(team: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in team["states"] if s["name"] == name)


def _fault(status: int, code: str | None, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
    if status >= 500:
        return status, "Internal Server Error", headers
    code = code or {429: "RATELIMITED", 401: "AUTHENTICATION_ERROR", 403: "FORBIDDEN"}.get(status, "INVALID_INPUT")
    if code == "RATELIMITED" and "X-RateLimit-Requests-Reset" not in headers:
        reset = datetime.now(UTC) + timedelta(seconds=30)
        headers = {**headers, "X-RateLimit-Requests-Reset": str(int(reset.timestamp() * 1000))}
    return status, {"errors": [{"message": f"fake fault ({code})", "extensions": {"code": code}}]}, headers


def _copy(value: Any) -> Any:
    return json.loads(json.dumps(value))


def main() -> None:
    """``python tests/support/fake_linear.py --port 8766``: a fake Linear to point a source at by hand."""
    import argparse
    import time

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--key", default="lin_api_fake_key_0123456789", help="the API key it accepts")
    parser.add_argument("--team", default="ENG", help="the key of the one team it has")
    parser.add_argument("--issue", action="append", default=[], help="a Todo issue's title (repeatable)")
    args = parser.parse_args()
    with FakeLinear(key=args.key, port=args.port) as fake:
        fake.add_team(args.team)
        for title in args.issue:
            fake.add_issue(args.team, title)
        print(fake.url, flush=True)
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    main()
