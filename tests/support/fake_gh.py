"""A fake `gh` executable: records its calls and keeps pull requests in a JSON state file."""

from __future__ import annotations

import sys
from pathlib import Path

FAKE_GH = """\
import json, os, sys
state_path = os.environ["FAKE_GH_STATE"]
state = json.load(open(state_path)) if os.path.exists(state_path) else {"prs": [], "calls": []}
args = sys.argv[1:]
state["calls"].append(args)
def opt(name):
    return args[args.index(name) + 1] if name in args else None
def save():
    json.dump(state, open(state_path, "w"))
if args[:2] == ["pr", "list"]:
    rows = [
        {k: pr[k] for k in opt("--json").split(",")}
        for pr in state["prs"]
        if pr["head"] == opt("--head") and pr["base"] == opt("--base")
        and (opt("--state") == "all" or pr["state"] == "OPEN")
    ]
    save()
    print(json.dumps(rows))
elif args[:2] == ["pr", "create"]:
    number = len(state["prs"]) + 1
    body = sys.stdin.read() if opt("--body-file") == "-" else opt("--body")
    url = f"https://github.example/acme/repo/pull/{number}"
    state["prs"].append({"number": number, "url": url, "state": "OPEN", "head": opt("--head"),
                         "base": opt("--base"), "title": opt("--title"), "body": body})
    save()
    if os.environ.get("FAKE_GH_DIE_AFTER_CREATE"):
        sys.exit("connection reset")
    print("Creating pull request...")
    print(url)
else:
    save()
    sys.exit(f"fake gh: unsupported {args}")
"""


def install_fake_gh(bin_dir: Path, state: Path) -> tuple[Path, Path]:
    """Write ``bin_dir/gh``; point ``FAKE_GH_STATE`` at ``state`` in the environment that runs it."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "gh"
    script.write_text(f"#!{sys.executable}\n" + FAKE_GH)
    script.chmod(0o755)
    return script, state
