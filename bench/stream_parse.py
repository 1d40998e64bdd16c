"""Claude stream-json parsing throughput: the claude adapter vs bare json.loads per line, same file, same run.

Usage: .venv/bin/python bench/stream_parse.py [--mb 200]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
import uuid
from pathlib import Path

from animus.agents import get_adapter

SESSION = str(uuid.uuid4())
WORDS = "the module parser returns a list of events while the test suite checks each quirk of the stream".split()


def _text(n: int) -> str:
    return " ".join(random.choice(WORDS) for _ in range(n))


def _lines(rng: random.Random) -> list[bytes]:
    """A few hundred realistic lines: assistant text / tool_use, user tool_result, usage on each message."""
    out = []
    for i in range(400):
        msg_id = f"msg_01{uuid.uuid4().hex[:22]}"
        usage = {
            "input_tokens": rng.randint(1, 9),
            "cache_creation_input_tokens": rng.randint(0, 5000),
            "cache_read_input_tokens": rng.randint(0, 90000),
            "output_tokens": rng.randint(1, 900),
            "service_tier": "standard",
        }
        base = {"parent_tool_use_id": None, "session_id": SESSION, "uuid": str(uuid.uuid4())}
        kind = i % 3
        if kind == 0:
            block = {"type": "text", "text": _text(rng.randint(10, 200))}
        else:
            block = {
                "type": "tool_use",
                "id": f"toolu_01{uuid.uuid4().hex[:22]}",
                "name": rng.choice(["Read", "Edit", "Bash"]),
                "input": {"file_path": f"/work/repo/src/mod{i}.py", "old_string": _text(20), "new_string": _text(25)},
            }
        msg = {
            "id": msg_id,
            "type": "message",
            "role": "assistant",
            "model": "claude-opus-4-1-20250805",
            "content": [block],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }
        out.append(json.dumps({"type": "assistant", "message": msg, **base}).encode())
        if kind != 0:
            result = {"tool_use_id": block["id"], "type": "tool_result", "content": _text(rng.randint(20, 600))}
            out.append(json.dumps({"type": "user", "message": {"role": "user", "content": [result]}, **base}).encode())
    return out


def generate(path: Path, mb: int) -> int:
    rng = random.Random(7)
    random.seed(7)
    sample = _lines(rng)
    target = mb * 1024 * 1024
    written = count = 0
    with path.open("wb") as fh:
        while written < target:
            for line in sample:
                fh.write(line + b"\n")
                written += len(line) + 1
                count += 1
        fh.write(
            json.dumps(
                {
                    "type": "result",
                    "subtype": "success",
                    "is_error": False,
                    "result": "Done.",
                    "session_id": SESSION,
                    "total_cost_usd": 1.5,
                }
            ).encode()
            + b"\n"
        )
    return count + 1


def time_json(path: Path) -> float:
    loads = json.loads
    start = time.perf_counter()
    with path.open("rb") as fh:
        for line in fh:
            loads(line)
    return time.perf_counter() - start


def time_adapter(path: Path) -> tuple[float, int]:
    adapter = get_adapter("claude")
    state = adapter.new_state()
    parse = adapter.parse_line
    events = 0
    start = time.perf_counter()
    with path.open("rb") as fh:
        for line in fh:
            events += len(parse(line, state))
    return time.perf_counter() - start, events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=int, default=200, help="size of the generated log (default 200)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "stdout.log"
        lines = generate(path, args.mb)
        size_mb = path.stat().st_size / 1024 / 1024
        time_json(path)  # warm the page cache so both passes read from memory
        t_json = time_json(path)
        t_adapter, events = time_adapter(path)
    print(f"log: {size_mb:.0f} MB, {lines} lines, {events} events")
    print(f"json.loads per line : {size_mb / t_json:7.1f} MB/s ({t_json:.2f} s)")
    print(f"claude adapter      : {size_mb / t_adapter:7.1f} MB/s ({t_adapter:.2f} s)")
    print(f"ratio adapter/json  : {t_json / t_adapter:.2f} (goal >= 0.7)")


if __name__ == "__main__":
    main()
