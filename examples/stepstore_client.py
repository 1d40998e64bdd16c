#!/usr/bin/env python3
"""A step-store client in the standard library only: stdio, a Unix socket or HTTP (docs/step-store.md).

Run it as a demo (it spawns `animus step-store serve` on stdio and runs three steps, each once)::

    python3 examples/stepstore_client.py            # run it twice: the second run replays, acts never

Or import it::

    with StepStoreClient.spawn(["animus", "step-store", "serve"]) as store:
        epoch = store.call("begin_workflow_run", run_id="r1", phase_id="build", inputs={})["epoch"]
"""

from __future__ import annotations

import http.client
import itertools
import json
import socket
import subprocess
import sys
from collections.abc import Callable
from typing import Any


class StepStoreError(Exception):
    """The server answered a JSON-RPC error (``code`` -1010: this epoch was fenced)."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.code = int(error.get("code", 0))
        self.message = str(error.get("message", ""))
        self.data = error.get("data")


class StepStoreClient:
    """One connection; ``call`` sends a request and returns its result (or raises StepStoreError)."""

    def __init__(self, send: Callable[[bytes], bytes], close: Callable[[], None]) -> None:
        self._send = send
        self._close = close
        self._ids = itertools.count(1)

    # -- transports ---------------------------------------------------------------------------------
    @classmethod
    def spawn(cls, argv: list[str], **popen: Any) -> StepStoreClient:
        """Start the server as a child speaking on its stdin/stdout."""
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, **popen)
        assert proc.stdin is not None and proc.stdout is not None
        stdin, stdout = proc.stdin, proc.stdout

        def send(line: bytes) -> bytes:
            stdin.write(line)
            stdin.flush()
            reply = stdout.readline()
            if not reply:
                raise ConnectionError("the step-store server closed its stdout")
            return reply

        def close() -> None:
            try:
                stdin.close()
            except BrokenPipeError:
                pass
            proc.wait(timeout=30)

        client = cls(send, close)
        client.process = proc  # type: ignore[attr-defined]
        return client

    @classmethod
    def unix(cls, path: str) -> StepStoreClient:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(path)
        reader = sock.makefile("rb")

        def send(line: bytes) -> bytes:
            sock.sendall(line)
            reply = reader.readline()
            if not reply:
                raise ConnectionError("the step-store server closed the socket")
            return bytes(reply)

        def close() -> None:
            reader.close()
            sock.close()

        return cls(send, close)

    @classmethod
    def http(cls, host: str, port: int, token: str) -> StepStoreClient:
        def send(line: bytes) -> bytes:
            conn = http.client.HTTPConnection(host, port, timeout=60)
            try:
                conn.request("POST", "/rpc", body=line, headers={
                    "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
                reply = conn.getresponse()
                body = reply.read()
                if reply.status != 200:
                    raise ConnectionError(f"HTTP {reply.status}: {body.decode(errors='replace')}")
                return body
            finally:
                conn.close()

        return cls(send, lambda: None)

    # -- calls ----------------------------------------------------------------------------------------
    def call(self, method: str, **params: Any) -> Any:
        request = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        reply = json.loads(self._send(json.dumps(request).encode() + b"\n"))
        if "error" in reply:
            raise StepStoreError(reply["error"])
        return reply["result"]

    def step(self, run_id: str, phase_id: str, epoch: int, name: str, key: str, act: Callable[[], Any],
             payload: Any = None) -> Any:
        """Run ``act`` exactly once for ``key``: a committed step returns its recorded output instead."""
        begun = self.call("begin_step", run_id=run_id, phase_id=phase_id, step_name=name, idempotency_key=key,
                          payload=payload, epoch=epoch)
        if begun["status"] == "already_committed":
            if "prior_error" in begun:
                raise RuntimeError(f"step {name} failed earlier: {begun['prior_error']}")
            return begun["prior_output"]
        try:
            output = act()
        except Exception as exc:
            self.call("commit_step", step_id=begun["step_id"], error=str(exc), epoch=epoch)
            raise
        self.call("commit_step", step_id=begun["step_id"], output=output, epoch=epoch)
        return output

    def close(self) -> None:
        self._close()

    def __enter__(self) -> StepStoreClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _demo() -> None:
    with StepStoreClient.spawn(["animus", "step-store", "serve"]) as store:
        print("handshake:", store.call("initialize", protocol_version="1.0.0")["plugin_info"])
        epoch = store.call("begin_workflow_run", run_id="demo-run", phase_id="implement", inputs={"task": "T-1"})["epoch"]
        for name in ("build-dispatch", "spawn", "evaluate"):

            def act(n: str = name) -> str:
                print(f"  acting: {n}")  # printed on the first run only; a second run replays the output
                return f"{n} done"

            print(f"{name}: {store.step('demo-run', 'implement', epoch, name, f'demo-run/{name}', act)}")
        store.call("complete_workflow_run", run_id="demo-run", output={"ok": True}, epoch=epoch)
        print("in flight:", store.call("recover_in_flight", since_epoch=0))


if __name__ == "__main__":
    _demo()
    sys.exit(0)
