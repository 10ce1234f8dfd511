"""A contract test double of the Kubeflow Pipelines v2beta1 REST API on 127.0.0.1.

It is not a cluster: it records the requests the kfp SDK makes and answers the few endpoints a
submission touches (health, experiments, runs) with the shapes the API documents, so tests can
assert what `imdb-lstm kubeflow submit` sends. `reject_runs` makes it refuse run creation the
way the API server refuses a bad pipeline spec (HTTP 400 with a gRPC-style error body).
"""
import http.server
import json
import threading
import urllib.parse
from typing import Any, Dict, List, Tuple

API = "/apis/v2beta1"


class ContractServer:

    def __init__(self, reject_runs: bool = False):
        self.requests: List[Dict[str, Any]] = []
        self.reject_runs = reject_runs
        self._experiments: Dict[str, Dict[str, Any]] = {}
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet test output
                pass

            def _reply(self, status: int, body: Dict[str, Any]):
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _record(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                url = urllib.parse.urlparse(self.path)
                request = {"method": self.command, "path": url.path,
                           "query": urllib.parse.parse_qs(url.query),
                           "headers": {k.lower(): v for k, v in self.headers.items()},
                           "body": json.loads(raw) if raw else None}
                server.requests.append(request)
                return request

            def do_GET(self):  # noqa: N802  (http.server's naming)
                self._reply(*server.answer(self._record()))

            def do_POST(self):  # noqa: N802
                self._reply(*server.answer(self._record()))

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def answer(self, request: Dict[str, Any]) -> Tuple[int, Dict[str, Any]]:
        """The status and body the KFP API answers `request` with."""
        path, body = request["path"], request["body"] or {}
        if request["method"] == "GET" and path == f"{API}/healthz":
            return 200, {"multi_user": False}
        if request["method"] == "GET" and path == f"{API}/experiments":
            return 200, {"experiments": list(self._experiments.values()),
                         "total_size": len(self._experiments)}
        if request["method"] != "POST":
            return 404, {"error": f"no route {path}", "code": 5}
        if path == f"{API}/experiments":
            experiment = {"experiment_id": f"experiment-{len(self._experiments) + 1}",
                          "display_name": body.get("display_name"),
                          "namespace": body.get("namespace", "")}
            self._experiments[experiment["experiment_id"]] = experiment
            return 200, experiment
        if path == f"{API}/runs" and self.reject_runs:
            return 400, {"error": "Failed to create a run: invalid pipeline spec", "code": 3,
                         "message": "invalid pipeline spec"}
        if path == f"{API}/runs":
            return 200, {"run_id": "run-1", "display_name": body.get("display_name"),
                         "experiment_id": body.get("experiment_id"), "state": "PENDING"}
        if path == f"{API}/recurringruns":
            return 200, {"recurring_run_id": "recurring-1",
                         "display_name": body.get("display_name"),
                         "experiment_id": body.get("experiment_id"), "status": "ENABLED"}
        return 404, {"error": f"no route {path}", "code": 5}

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()

    def posted(self, path: str) -> List[Dict[str, Any]]:
        return [r for r in self.requests if r["method"] == "POST" and r["path"] == API + path]
