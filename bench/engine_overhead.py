"""Per-phase engine overhead with an instant fake agent, next to bare DBOS steps in the same run.

Run: ./run bench engine_overhead        (PHASES=N to change the workflow length; default 12)

overhead per phase = (wall time of the phase loop − the agent processes' own lifetimes) / phases.
The agent's lifetime comes from its supervisor's exit record (process start to exit). The bare
DBOS figure is a workflow of as many no-op steps as one animus phase runs (5), timed the same way.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PHASES = int(os.environ.get("PHASES", "12"))
ROUNDS = int(os.environ.get("ROUNDS", "5"))  # tasks run one after another; the median damps machine noise
STEPS_PER_PHASE = 5  # phase_start, launch, await, commit, phase_end

BARE = r"""
import sys, time, logging
from dbos import DBOS
logging.getLogger("dbos").addHandler(logging.NullHandler())
url, n, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
import sqlite3
sqlite3.connect(url.split("///", 1)[1]).execute("PRAGMA journal_mode=WAL").close()  # as animus.db is
DBOS(config={"name": "bare", "system_database_url": url, "application_version": "b1", "log_level": "WARNING",
              "notification_listener_polling_interval_sec": 0.1})
@DBOS.step()
def noop(i): return i
@DBOS.workflow()
def wf(k):
    for i in range(k): noop(i)
    return k
DBOS.launch()
samples = []
for _ in range(rounds):
    t = time.perf_counter(); wf(n); samples.append((time.perf_counter() - t) / n * 1000)
print(min(samples), sorted(samples)[len(samples)//2])
DBOS.destroy()
"""


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from support.repo import git, make_repo

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        repo = make_repo(tmp / "repo")
        git(repo, "config", "user.name", "bench")
        git(repo, "config", "user.email", "bench@example.com")
        (repo / ".animus").mkdir()
        script = [{"usage": {"input_tokens": 1, "output_tokens": 1}}, {"decision": {"verdict": "advance", "confidence": 1, "risk": "low", "reason": "ok"}}]
        (repo / ".animus" / "instant.json").write_text(json.dumps(script))
        phases = "\n".join(f"  p{i}: {{mode: agent, agent: instant}}" for i in range(PHASES))
        entries = "\n".join(f"      - p{i}" for i in range(PHASES))
        (repo / ".animus" / "workflows.yaml").write_text(
            f"default_workflow: bench\nagents:\n  instant: {{tool: scripted, script: .animus/instant.json}}\n"
            f"phases:\n{phases}\nworkflows:\n  - id: bench\n    phases:\n{entries}\n"
        )
        git(repo, "add", ".")
        git(repo, "commit", "-q", "-m", "bench config")
        env = {**os.environ, "ANIMUS_HOME": str(tmp / "home")}
        animus = [sys.executable, "-m", "animus.cli.main"]
        from animus.config.project import state_dir_for

        os.environ["ANIMUS_HOME"] = env["ANIMUS_HOME"]
        runs_dir = state_dir_for(repo) / "runs"
        overheads, agent_times = [], []
        for round_no in range(1, ROUNDS + 1):
            subprocess.run([*animus, "task", "create", "--title", f"bench {round_no}"], cwd=repo, env=env, check=True, capture_output=True)
            proc = subprocess.run([*animus, "run", f"TASK-{round_no}", "--json"], cwd=repo, env=env, capture_output=True, text=True)
            if proc.returncode != 0:
                raise SystemExit(proc.stderr[-2000:])
            run = json.loads(proc.stdout.splitlines()[-1])["data"]
            phase_rows = run["phases"]
            loop_secs = _secs(phase_rows[-1]["ended_at"]) - _secs(phase_rows[0]["started_at"])
            agent_secs = sum(json.loads((runs_dir / p["agent_run_id"] / "exit.json").read_text())["duration_secs"] for p in phase_rows)
            overheads.append((loop_secs - agent_secs) / len(phase_rows) * 1000)
            agent_times.append(agent_secs / len(phase_rows) * 1000)
        per_phase_ms = statistics.median(overheads)
        agent_ms = statistics.median(agent_times)

        bare = subprocess.run([sys.executable, "-c", BARE, f"sqlite:///{tmp / 'bare.db'}", str(PHASES * STEPS_PER_PHASE), "5"],
                              capture_output=True, text=True, check=True)
        bare_min, bare_med = (float(x) for x in bare.stdout.split())
        bare_phase = bare_med * STEPS_PER_PHASE
        print(f"{ROUNDS} runs of {PHASES} instant scripted-agent phases (each: {STEPS_PER_PHASE} durable steps + agent process)")
        print(f"agent processes' own lifetime: {agent_ms:.0f} ms per phase (median)")
        print(f"engine overhead per phase (excluding the agent's own time): median {per_phase_ms:.1f} ms "
              f"(runs: {', '.join(f'{o:.0f}' for o in overheads)})")
        print(f"bare DBOS step: {bare_med:.2f} ms median ({bare_min:.2f} min); {STEPS_PER_PHASE} bare steps = {bare_phase:.1f} ms")
        ratio = per_phase_ms / bare_phase
        print(f"ratio: {ratio:.1f}x the same number of bare DBOS steps (goal <= 5x) -> {'met' if ratio <= 5 else 'NOT met'}")


def _secs(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp).timestamp()


if __name__ == "__main__":
    main()
