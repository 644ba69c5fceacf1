"""A loopback server speaking the subset of GitHub's REST API the portal uses (PyGithub 2.x client).

Endpoints (JSON shaped on GitHub's documented responses, absolute ``url``/``html_url`` fields):
``GET /repos/{o}/{r}``; git data ``GET/POST git/blobs``, ``GET/POST git/trees`` (``base_tree``, nested
paths, ``recursive``), ``GET/POST git/commits``, ``GET git/ref/{ref}``, ``POST git/refs``,
``PATCH git/refs/{ref}`` (fast-forward unless ``force``), ``DELETE git/refs/{ref}``; ``GET/POST pulls``,
``GET/PATCH pulls/{n}`` (close); ``GET issues`` (``state``, ``since``, ``labels``, pagination with a ``Link``
header; pull requests appear there with a ``pull_request`` key, as on GitHub), ``GET/PATCH issues/{n}`` (``state``,
``state_reason``),
``POST issues/{n}/comments`` (issues and pull requests). ``fail_next(..., status=403|404|410)`` serves
permanent errors too; ``merge_pull`` / ``close_issue`` act as a GitHub user would.

Git objects live in an in-memory store keyed by their real SHA-1 object ids, so identical content gives
identical SHAs. Every request needs ``Authorization: token|Bearer <token>`` (401 otherwise).
``fail_next(n, status, method=, path_contains=)`` answers the next ``n`` (matching) requests with a 5xx.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from tests.support.serving import start_serving, stop_serving

DOCS = "https://docs.github.com/rest"


def git_sha(kind: str, body: bytes) -> str:
    return hashlib.sha1(f"{kind} {len(body)}\0".encode() + body, usedforsecurity=False).hexdigest()


def blob_sha(content: bytes) -> str:
    return git_sha("blob", content)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ApiError(Exception):
    def __init__(self, status, message, extra=None):
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra or {}


@dataclass
class Repo:
    owner: str
    name: str
    default_branch: str = "main"
    objects: dict = field(default_factory=dict)  # sha -> ("blob", bytes) | ("tree", entries) | ("commit", dict)
    refs: dict = field(default_factory=dict)  # "refs/heads/main" -> commit sha
    pulls: list = field(default_factory=list)
    issues: list = field(default_factory=list)  # issues and pull requests share the numbering, as on GitHub
    comments: dict = field(default_factory=dict)  # issue number -> [comment]

    @property
    def full_name(self):
        return f"{self.owner}/{self.name}"

    # --- git objects ---------------------------------------------------------------------------------

    def put_blob(self, content: bytes) -> str:
        sha = blob_sha(content)
        self.objects[sha] = ("blob", content)
        return sha

    def put_tree(self, entries: list[tuple[str, str, str]]) -> str:
        """``entries``: (mode, name, sha); sorted the way git sorts them (trees compare as ``name/``)."""
        ordered = sorted(entries, key=lambda e: e[1] + ("/" if e[0] == "40000" else ""))
        body = b"".join(f"{mode} {name}\0".encode() + bytes.fromhex(sha) for mode, name, sha in ordered)
        sha = git_sha("tree", body)
        self.objects[sha] = ("tree", ordered)
        return sha

    def put_commit(self, tree: str, parents: list[str], message: str, when: dt.datetime) -> str:
        stamp = f"{int(when.timestamp())} +0000"
        lines = [f"tree {tree}", *[f"parent {p}" for p in parents],
                 f"author Portail DRIM-M <portail@example.fr> {stamp}",
                 f"committer Portail DRIM-M <portail@example.fr> {stamp}", "", message]
        body = "\n".join(lines).encode()
        sha = git_sha("commit", body)
        self.objects[sha] = ("commit", {"tree": tree, "parents": parents, "message": message, "date": _iso(when)})
        return sha

    def get(self, sha, kind):
        obj = self.objects.get(sha)
        if obj is None or obj[0] != kind:
            raise ApiError(404, "Not Found")
        return obj[1]

    def flatten(self, tree_sha: str, prefix: str = "") -> dict[str, tuple[str, str]]:
        """path -> (mode, blob sha) for every blob under a tree."""
        files = {}
        for mode, name, sha in self.get(tree_sha, "tree"):
            if mode == "40000":
                files.update(self.flatten(sha, f"{prefix}{name}/"))
            else:
                files[f"{prefix}{name}"] = (mode, sha)
        return files

    def build(self, files: dict[str, tuple[str, str]]) -> str:
        """The root tree sha of a path -> (mode, sha) mapping (subtrees built bottom-up)."""
        children: dict[str, dict] = {}
        entries = []
        for path, (mode, sha) in files.items():
            head, _, rest = path.partition("/")
            if rest:
                children.setdefault(head, {})[rest] = (mode, sha)
            else:
                entries.append((mode, head, sha))
        entries += [("40000", name, self.build(sub)) for name, sub in children.items()]
        return self.put_tree(entries)

    def is_ancestor(self, ancestor: str, commit: str) -> bool:
        seen, todo = set(), [commit]
        while todo:
            sha = todo.pop()
            if sha == ancestor:
                return True
            if sha in seen or sha not in self.objects:
                continue
            seen.add(sha)
            todo.extend(self.get(sha, "commit")["parents"])
        return False

    def files_at(self, ref="refs/heads/main") -> dict[str, bytes]:
        """Test helper: path -> bytes of every file at a branch head."""
        commit = self.get(self.refs[ref], "commit")
        return {path: self.get(sha, "blob") for path, (_mode, sha) in self.flatten(commit["tree"]).items()}

    def commit_count(self) -> int:
        return sum(1 for kind, _ in self.objects.values() if kind == "commit")


class FakeGitHub:
    """State shared by the handler threads; tests read and arrange it directly."""

    def __init__(self, token="test-token"):
        self.token = token
        self.repos: dict[str, Repo] = {}
        self.lock = threading.RLock()
        self.failures = []  # statuses still to answer before serving normally
        self.holds = []  # (method, path_contains, arrived, release): requests kept waiting until released
        self.requests: list[tuple[str, str]] = []
        self.ids = itertools.count(1001)
        self.base_url = ""

    def add_repo(self, full_name, *, files: dict[str, bytes] | None = None, branch="main"):
        owner, name = full_name.split("/")
        repo = Repo(owner, name, default_branch=branch)
        files = files or {"README.md": b"# Liste blanche DRIM-M\n"}
        tree = repo.build({path: ("100644", repo.put_blob(content)) for path, content in files.items()})
        repo.refs[f"refs/heads/{branch}"] = repo.put_commit(tree, [], "Initial commit", dt.datetime.now(dt.UTC))
        self.repos[full_name] = repo
        return repo

    def fail_next(self, count, status=502, *, method=None, path_contains=None, message="Server Error"):
        """Answer ``status`` (with ``message``) to the next ``count`` requests (only those matching
        ``method``/``path_contains``)."""
        with self.lock:
            self.failures.extend([(status, method, path_contains, message)] * count)

    def hold_next(self, method, path_contains):
        """Keep the next matching request waiting (its client « in the middle of a push ») until ``release`` is
        set; it is then served normally. Returns the events ``(arrived, release)``."""
        arrived, release = threading.Event(), threading.Event()
        with self.lock:
            self.holds.append((method, path_contains, arrived, release))
        return arrived, release

    def add_issue(self, full_name, *, title, body, login="operateur-x", created_at=None, pull_request=False,
                  labels=("demande",), author_association="NONE"):
        """An issue (labels: those an issue form's ``labels:`` key would add)."""
        repo = self.repos[full_name]
        with self.lock:
            number = len(repo.issues) + 1
            now = created_at or dt.datetime.now(dt.UTC)
            issue = {"number": number, "title": title, "body": body, "state": "open", "login": login,
                     "created_at": now, "updated_at": now, "pull_request": pull_request, "id": next(self.ids),
                     "labels": list(labels), "author_association": author_association}
            repo.issues.append(issue)
        return number

    def merge_pull(self, full_name, number):
        """Test helper: merge a pull request as GitHub's « Rebase and merge » would when the base has not moved
        (fast-forward of the base branch to the head commit); the pull request is closed and marked merged."""
        repo = self.repos[full_name]
        with self.lock:
            pull = next(p for p in repo.pulls if p["number"] == number)
            repo.refs[f"refs/heads/{pull['base']}"] = repo.refs[f"refs/heads/{pull['head']}"]
            pull["state"], pull["merged"] = "closed", True
            self._issue(repo, number)["state"] = "closed"

    def close_issue(self, full_name, number, when=None):
        repo = self.repos[full_name]
        with self.lock:
            issue = self._issue(repo, number)
            issue["state"] = "closed"
            issue["updated_at"] = when or dt.datetime.now(dt.UTC)

    def writes(self, method=None):
        return [(m, p) for m, p in self.requests if m != "GET" and (method is None or m == method)]

    # --- JSON shapes ---------------------------------------------------------------------------------

    def api(self, repo, path=""):
        return f"{self.base_url}/repos/{repo.full_name}{path}"

    def html(self, repo, path=""):
        return f"{self.base_url}/html/{repo.full_name}{path}"

    def user(self, login):
        return {"login": login, "id": abs(hash(login)) % 10**7, "node_id": f"U_{login}", "type": "User",
                "url": f"{self.base_url}/users/{login}", "html_url": f"{self.base_url}/html/{login}"}

    def repo_json(self, repo):
        return {"id": abs(hash(repo.full_name)) % 10**7, "node_id": f"R_{repo.name}", "name": repo.name,
                "full_name": repo.full_name, "private": False, "owner": self.user(repo.owner),
                "html_url": self.html(repo), "url": self.api(repo), "default_branch": repo.default_branch,
                "git_refs_url": self.api(repo, "/git/refs{/sha}"), "pulls_url": self.api(repo, "/pulls{/number}"),
                "issues_url": self.api(repo, "/issues{/number}")}

    def ref_json(self, repo, ref):
        sha = repo.refs[ref]
        return {"ref": ref, "node_id": f"REF_{ref}", "url": self.api(repo, f"/git/{ref}"),
                "object": {"type": "commit", "sha": sha, "url": self.api(repo, f"/git/commits/{sha}")}}

    def commit_json(self, repo, sha):
        commit = repo.get(sha, "commit")
        person = {"name": "Portail DRIM-M", "email": "portail@example.fr", "date": commit["date"]}
        return {"sha": sha, "node_id": f"C_{sha}", "url": self.api(repo, f"/git/commits/{sha}"),
                "html_url": self.html(repo, f"/commit/{sha}"), "author": person, "committer": person,
                "message": commit["message"],
                "tree": {"sha": commit["tree"], "url": self.api(repo, f"/git/trees/{commit['tree']}")},
                "parents": [{"sha": p, "url": self.api(repo, f"/git/commits/{p}"),
                             "html_url": self.html(repo, f"/commit/{p}")} for p in commit["parents"]],
                "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None}}

    def tree_json(self, repo, sha, recursive):
        if recursive:
            items, subtrees = [], {}
            self._walk(repo, sha, "", items, subtrees)
        else:
            items = [self._tree_item(repo, mode, name, s) for mode, name, s in repo.get(sha, "tree")]
        return {"sha": sha, "url": self.api(repo, f"/git/trees/{sha}"), "tree": items, "truncated": False}

    def _walk(self, repo, sha, prefix, items, subtrees):
        for mode, name, s in repo.get(sha, "tree"):
            items.append(self._tree_item(repo, mode, prefix + name, s))
            if mode == "40000":
                self._walk(repo, s, f"{prefix}{name}/", items, subtrees)

    def _tree_item(self, repo, mode, path, sha):
        kind = "tree" if mode == "40000" else "blob"
        item = {"path": path, "mode": mode, "type": kind, "sha": sha,
                "url": self.api(repo, f"/git/{kind}s/{sha}")}
        if kind == "blob":
            item["size"] = len(repo.get(sha, "blob"))
        return item

    def pull_json(self, repo, pull):
        def side(ref):
            sha = repo.refs.get(f"refs/heads/{ref}", "")
            return {"label": f"{repo.owner}:{ref}", "ref": ref, "sha": sha, "user": self.user(repo.owner),
                    "repo": self.repo_json(repo)}
        return {"id": pull["id"], "node_id": f"PR_{pull['id']}", "number": pull["number"], "state": pull["state"],
                "title": pull["title"], "body": pull["body"], "url": self.api(repo, f"/pulls/{pull['number']}"),
                "html_url": self.html(repo, f"/pull/{pull['number']}"), "user": self.user("portail-drim-m"),
                "issue_url": self.api(repo, f"/issues/{pull['number']}"),
                "comments_url": self.api(repo, f"/issues/{pull['number']}/comments"),
                "head": side(pull["head"]), "base": side(pull["base"]), "merged": pull.get("merged", False),
                "draft": False,
                "created_at": _iso(pull["created_at"]), "updated_at": _iso(pull["created_at"])}

    def issue_json(self, repo, issue):
        data = {"id": issue["id"], "node_id": f"I_{issue['id']}", "number": issue["number"],
                "url": self.api(repo, f"/issues/{issue['number']}"),
                "html_url": self.html(repo, f"/{'pull' if issue['pull_request'] else 'issues'}/{issue['number']}"),
                "comments_url": self.api(repo, f"/issues/{issue['number']}/comments"),
                "title": issue["title"], "body": issue["body"], "state": issue["state"],
                "user": self.user(issue["login"]), "assignees": [], "locked": False,
                "labels": [{"name": name, "url": self.api(repo, f"/labels/{name}")}
                           for name in issue.get("labels", [])],
                "comments": len(repo.comments.get(issue["number"], [])),
                "created_at": _iso(issue["created_at"]), "updated_at": _iso(issue["updated_at"]),
                "closed_at": _iso(issue["updated_at"]) if issue["state"] == "closed" else None,
                "author_association": issue.get("author_association", "NONE"),
                "state_reason": issue.get("state_reason")}
        if issue["pull_request"]:
            data["pull_request"] = {"url": self.api(repo, f"/pulls/{issue['number']}"),
                                    "html_url": self.html(repo, f"/pull/{issue['number']}"), "merged_at": None}
        return data

    # --- routing -------------------------------------------------------------------------------------

    def handle(self, method, raw_path, headers, body):
        self.requests.append((method, raw_path))
        with self.lock:
            held = next((hold for hold in self.holds if hold[0] == method and hold[1] in raw_path), None)
            if held:
                self.holds.remove(held)
        if held:
            held[2].set()
            held[3].wait(120)
        with self.lock:
            for index, (status, only_method, only_path, message) in enumerate(self.failures):
                if (only_method in (None, method)) and (only_path is None or only_path in raw_path):
                    del self.failures[index]
                    return status, {"message": message, "documentation_url": DOCS}, {}
        auth = headers.get("Authorization", "")
        if auth not in (f"token {self.token}", f"Bearer {self.token}"):
            return 401, {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"}, {}
        parts = urlsplit(raw_path)
        path = parts.path.removeprefix("/api/v3")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        try:
            payload = json.loads(body) if body else {}
        except ValueError:
            return 400, {"message": "Problems parsing JSON"}, {}
        match = re.fullmatch(r"/repos/([^/]+)/([^/]+)(/.*)?", path)
        repo = self.repos.get(f"{match.group(1)}/{match.group(2)}") if match else None
        if repo is None:
            return 404, {"message": "Not Found", "documentation_url": DOCS}, {}
        try:
            with self.lock:
                return self.route(repo, method, unquote(match.group(3) or ""), query, payload)
        except ApiError as exc:
            return exc.status, {"message": exc.message, "documentation_url": DOCS, **exc.extra}, {}

    def route(self, repo, method, sub, query, payload):
        now = dt.datetime.now(dt.UTC)
        if sub == "" and method == "GET":
            return 200, self.repo_json(repo), {}
        if sub == "/git/blobs" and method == "POST":
            if payload.get("encoding") == "base64":
                content = base64.b64decode(payload["content"])
            else:
                content = payload["content"].encode()
            sha = repo.put_blob(content)
            return 201, {"sha": sha, "url": self.api(repo, f"/git/blobs/{sha}")}, {}
        if m := re.fullmatch(r"/git/blobs/([0-9a-f]{40})", sub):
            content = repo.get(m.group(1), "blob")
            return 200, {"sha": m.group(1), "node_id": f"B_{m.group(1)}", "size": len(content),
                         "url": self.api(repo, f"/git/blobs/{m.group(1)}"), "encoding": "base64",
                         "content": base64.encodebytes(content).decode()}, {}
        if sub == "/git/trees" and method == "POST":
            files = repo.flatten(payload["base_tree"]) if payload.get("base_tree") else {}
            for item in payload["tree"]:
                if item.get("sha") is None and "content" not in item:
                    files.pop(item["path"], None)
                    continue
                sha = item["sha"] if item.get("sha") else repo.put_blob(item["content"].encode())
                repo.get(sha, "blob")
                files[item["path"]] = (item["mode"], sha)
            sha = repo.build(files)
            return 201, self.tree_json(repo, sha, False), {}
        if m := re.fullmatch(r"/git/trees/([0-9a-f]{40})", sub):
            return 200, self.tree_json(repo, m.group(1), query.get("recursive") not in (None, "", "0")), {}
        if sub == "/git/commits" and method == "POST":
            repo.get(payload["tree"], "tree")
            for parent in payload.get("parents", []):
                repo.get(parent, "commit")
            sha = repo.put_commit(payload["tree"], list(payload.get("parents", [])), payload["message"], now)
            return 201, self.commit_json(repo, sha), {}
        if m := re.fullmatch(r"/git/commits/([0-9a-f]{40})", sub):
            return 200, self.commit_json(repo, m.group(1)), {}
        if m := re.fullmatch(r"/git/ref/(.+)", sub):
            ref = "refs/" + m.group(1)
            if ref not in repo.refs:
                raise ApiError(404, "Not Found")
            return 200, self.ref_json(repo, ref), {}
        if sub == "/git/refs" and method == "POST":
            ref, sha = payload["ref"], payload["sha"]
            if ref in repo.refs:
                raise ApiError(422, "Reference already exists")
            repo.get(sha, "commit")
            repo.refs[ref] = sha
            return 201, self.ref_json(repo, ref), {}
        if (m := re.fullmatch(r"/git/(refs/.+)", sub)) and method == "PATCH":
            ref, sha = m.group(1), payload["sha"]
            if ref not in repo.refs:
                raise ApiError(422, "Reference does not exist")
            repo.get(sha, "commit")
            if not payload.get("force") and not repo.is_ancestor(repo.refs[ref], sha):
                raise ApiError(422, "Update is not a fast forward")
            repo.refs[ref] = sha
            return 200, self.ref_json(repo, ref), {}
        if sub == "/pulls" and method == "GET":
            pulls = [p for p in repo.pulls if query.get("state", "open") in ("all", p["state"])
                     and ("head" not in query or query["head"] == f"{repo.owner}:{p['head']}")
                     and ("base" not in query or query["base"] == p["base"])]
            return 200, [self.pull_json(repo, p) for p in pulls], {}
        if (m := re.fullmatch(r"/git/(refs/.+)", sub)) and method == "DELETE":
            if repo.refs.pop(m.group(1), None) is None:
                raise ApiError(422, "Reference does not exist")
            return 204, None, {}
        if (m := re.fullmatch(r"/pulls/(\d+)", sub)) and method in ("GET", "PATCH"):
            pull = next((p for p in repo.pulls if p["number"] == int(m.group(1))), None)
            if pull is None:
                raise ApiError(404, "Not Found")
            if method == "PATCH":
                if payload.get("state") in ("open", "closed"):
                    pull["state"] = payload["state"]
                    self._issue(repo, pull["number"])["state"] = payload["state"]
                for key in ("title", "body"):
                    if key in payload:
                        pull[key] = payload[key]
            return 200, self.pull_json(repo, pull), {}
        if sub == "/pulls" and method == "POST":
            head, base = payload["head"].split(":")[-1], payload["base"]
            if f"refs/heads/{head}" not in repo.refs or f"refs/heads/{base}" not in repo.refs:
                raise ApiError(422, "Validation Failed", {"errors": [{"resource": "PullRequest", "code": "invalid"}]})
            if any(p["head"] == head and p["base"] == base and p["state"] == "open" for p in repo.pulls):
                raise ApiError(422, "Validation Failed", {"errors": [{
                    "resource": "PullRequest", "code": "custom",
                    "message": f"A pull request already exists for {repo.owner}:{head}."}]})
            number = len(repo.issues) + 1
            pull = {"id": next(self.ids), "number": number, "state": "open", "title": payload["title"],
                    "body": payload.get("body", ""), "head": head, "base": base, "created_at": now}
            repo.pulls.append(pull)
            repo.issues.append({"number": number, "title": pull["title"], "body": pull["body"], "state": "open",
                                "login": "portail-drim-m", "created_at": now, "updated_at": now,
                                "pull_request": True, "id": pull["id"]})
            return 201, self.pull_json(repo, pull), {}
        if sub == "/issues" and method == "GET":
            return self.list_issues(repo, query)
        if (m := re.fullmatch(r"/issues/(\d+)", sub)) and method == "GET":
            return 200, self.issue_json(repo, self._issue(repo, int(m.group(1)))), {}
        if (m := re.fullmatch(r"/issues/(\d+)", sub)) and method == "PATCH":
            issue = self._issue(repo, int(m.group(1)))
            if payload.get("state") not in (None, "open", "closed"):
                raise ApiError(422, "Validation Failed")
            issue["state"] = payload.get("state", issue["state"])
            issue["state_reason"] = payload.get("state_reason") if issue["state"] == "closed" else "reopened"
            issue["updated_at"] = now
            return 200, self.issue_json(repo, issue), {}
        if (m := re.fullmatch(r"/issues/(\d+)/comments", sub)) and method == "POST":
            issue = self._issue(repo, int(m.group(1)))
            comment_id = next(self.ids)
            comment = {"id": comment_id, "node_id": f"IC_{comment_id}", "body": payload["body"],
                       "url": self.api(repo, f"/issues/comments/{comment_id}"),
                       "html_url": self.html(repo, f"/issues/{issue['number']}#issuecomment-{comment_id}"),
                       "issue_url": self.api(repo, f"/issues/{issue['number']}"),
                       "user": self.user("portail-drim-m"), "created_at": _iso(now), "updated_at": _iso(now),
                       "author_association": "OWNER"}
            repo.comments.setdefault(issue["number"], []).append(comment)
            issue["updated_at"] = now  # GitHub bumps updated_at when a comment is added
            return 201, comment, {}
        raise ApiError(404, "Not Found")

    def _issue(self, repo, number):
        for issue in repo.issues:
            if issue["number"] == number:
                return issue
        raise ApiError(404, "Not Found")

    def list_issues(self, repo, query):
        state = query.get("state", "open")
        since = dt.datetime.fromisoformat(query["since"]) if query.get("since") else None
        labels = {name for name in query.get("labels", "").split(",") if name}
        selected = [i for i in repo.issues if state in ("all", i["state"])
                    and (since is None or i["updated_at"] >= since) and labels <= set(i.get("labels", []))]
        selected.sort(key=lambda i: i["created_at"], reverse=query.get("direction", "desc") == "desc")
        per_page = int(query.get("per_page", 30))
        page = int(query.get("page", 1))
        chunk = selected[(page - 1) * per_page: page * per_page]
        headers = {}
        last = max(1, -(-len(selected) // per_page))
        if page < last:
            base = {k: v for k, v in query.items() if k != "page"}
            link = "&".join(f"{k}={v}" for k, v in base.items())
            url = self.api(repo, "/issues") + "?" + (link + "&" if link else "")
            headers["Link"] = f'<{url}page={page + 1}>; rel="next", <{url}page={last}>; rel="last"'
        return 200, [self.issue_json(repo, i) for i in chunk], headers


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go in two sends: on a kept-alive connection, Nagle's algorithm would hold the body until the
    # client's delayed acknowledgement of the headers, 40 ms per request.
    disable_nagle_algorithm = True

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, data, extra = self.server.github.handle(self.command, self.path, self.headers, body)
        payload = b"" if status == 204 else json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

    def log_message(self, *args):
        """Quiet: the tests' output is not the place for access logs."""


class GitHubServer:
    """``with GitHubServer() as gh:`` — ``gh.url`` is the API base URL to give PyGithub."""

    def __init__(self, token="test-token"):
        self.github = FakeGitHub(token)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.github = self.github
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/api/v3"
        self.github.base_url = self.url
        self.thread = None

    def __enter__(self):
        self.thread = start_serving(self.httpd)
        return self.github

    def __exit__(self, *exc):
        stop_serving(self.httpd, self.thread)
