"""A small stand-in for the Hugging Face hub's HTTP API on 127.0.0.1, so that huggingface_hub's real download
code (snapshot_download: tree listing, HEAD for metadata, GET with Range, its cache layout and locks) runs in
the tests without a network. It serves only what snapshot_download asks for:

    GET  /api/models/<org>/<name>/revision/<rev>          repo info: sha and siblings (older huggingface_hub)
    GET  /api/models/<org>/<name>/tree/<rev>[/<path>]      the file listing (newer huggingface_hub)
    HEAD /<org>/<name>/resolve/<rev>/<path>                 X-Repo-Commit, ETag, Content-Length
    GET  /<org>/<name>/resolve/<rev>/<path>                 the bytes (Range: bytes=N- honoured)

A gated repository answers every request with 403 and `X-Error-Code: GatedRepo`, as the hub does for a user who
has not accepted the licence. `cuts[path] = n` drops the connection half-way through the next n downloads of that
file. `requests` records (method, path, Range header) of every request.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse


@dataclass
class FakeRepo:
    files: dict[str, bytes]
    commit: str
    gated: bool = False

    def etag(self, path: str) -> str:
        return hashlib.sha256(self.files[path]).hexdigest()


@dataclass
class FakeHub:
    repos: dict[str, FakeRepo] = field(default_factory=dict)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    cuts: dict[str, int] = field(default_factory=dict)  # path in the repo -> downloads to cut half-way

    def add(self, repo_id: str, files: dict[str, bytes], commit: str | None = None, gated: bool = False) -> str:
        commit = commit or hashlib.sha1(repr((repo_id, sorted(files.items()))).encode()).hexdigest()
        self.repos[repo_id] = FakeRepo(dict(files), commit, gated)
        return commit

    def downloads(self, path_suffix: str) -> list[str | None]:
        """The Range headers of the GETs of files whose URL ends with path_suffix."""
        return [rng for method, path, rng in self.requests if method == "GET" and "/resolve/" in path
                and path.endswith(path_suffix)]

    def start(self) -> tuple[ThreadingHTTPServer, str]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_HEAD(self):
                self._serve(head=True)

            def do_GET(self):
                self._serve(head=False)

            def _serve(self, head: bool):
                path = unquote(urlparse(self.path).path)
                hub.requests.append((self.command, path, self.headers.get("Range")))
                api = re.fullmatch(r"/api/models/([^/]+/[^/]+)/(revision|tree)/([^/]+)(/.*)?", path)
                resolve = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
                repo_id = (api or resolve).group(1) if (api or resolve) else None
                repo = hub.repos.get(repo_id)
                if repo is None:
                    return self._error(404, "RepoNotFound", f"Repository {repo_id} not found")
                if repo.gated:
                    return self._error(403, "GatedRepo", f"Access to model {repo_id} is restricted. You must have "
                                                         "access to it and be authenticated to access it.")
                revision = (api or resolve).group(3 if api else 2)
                if revision not in ("main", repo.commit):
                    return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
                if api and api.group(2) == "revision":
                    return self._json({"id": repo_id, "sha": repo.commit,
                                       "siblings": [{"rfilename": name} for name in sorted(repo.files)]})
                if api:
                    entries = [{"type": "file", "path": name, "size": len(data), "oid": repo.etag(name)[:40]}
                               for name, data in sorted(repo.files.items())]
                    return self._json(entries)
                name = resolve.group(3)
                if name not in repo.files:
                    return self._error(404, "EntryNotFound", f"{name} does not exist")
                data = repo.files[name]
                start = 0
                match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
                if match and not head:
                    start = int(match.group(1))
                self.send_response(206 if start else 200)
                self.send_header("X-Repo-Commit", repo.commit)
                self.send_header("ETag", f'"{repo.etag(name)}"')
                self.send_header("Content-Length", str(len(data) - start))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                if head:
                    return
                if hub.cuts.get(name):  # a dropped connection half-way through the file
                    hub.cuts[name] -= 1
                    self.wfile.write(data[start:start + (len(data) - start) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(data[start:])

            def _json(self, value):
                body = json.dumps(value).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _error(self, status: int, code: str, message: str):
                body = json.dumps({"error": message}).encode()
                self.send_response(status)
                self.send_header("X-Error-Code", code)
                self.send_header("X-Error-Message", message)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server, f"http://127.0.0.1:{server.server_address[1]}"
