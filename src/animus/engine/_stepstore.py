"""The step-store journal: exactly-once steps for outside runners, recorded through DBOS.

The rules, in one place (docs/step-store.md says the same to a client):

- ``begin_workflow_run`` takes the next value of one global epoch counter and makes it the run's
  epoch, under the counter's and the run row's lock: the newest epoch owns the run.
- ``begin_step`` names a step by ``(run_id, idempotency_key)``: its ``step_id`` is derived from that
  pair and its row is inserted once (the table's unique key), so racing clients get one step.
- ``commit_step`` is a DBOS workflow whose id is ``animus-stepstore:commit:<step_id>:e<epoch>`` and
  whose one operation is a datasource transaction: under the run row's lock it checks the epoch
  (fencing) and records the result unless the step has one. The result row and DBOS's record of the
  transaction's answer commit together; a second call of that workflow id returns the recorded
  answer without running anything (a retry after a lost reply), and a commit from another epoch
  finds the first result standing. A refusal is the transaction's answer too, never an exception,
  so a stale epoch's commit is refused for good and poisons nothing.
- ``complete_workflow_run`` closes the run; ``recover_in_flight`` lists the open ones.

DBOS runs here under its own application name (``animus-stepstore``): its workflows, queues and
recovery never mix with the daemon's (``animus``), which shares the database. The executor id is the
project's, so a restarted server recovers a commit a kill left pending.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NotRequired, TypedDict, cast

from animus import procs
from animus.domain.errors import Fenced, InvalidInput, NotFound
from animus.engine._runtime import _dbos_url, executor_id
from animus.engine._txns import _session_store
from animus.procs import fault_point
from animus.store import StepStoreStep, Store, open_store, sqlite_engine

STEPSTORE_APP = "animus-stepstore"
STEPSTORE_VERSION = "animus-stepstore-1"
_COMMIT_WORKFLOW = "animus.stepstore.commit"
_COMMIT_TX = "animus.stepstore.tx.commit"


class BegunStep(TypedDict):
    step_id: str
    status: str  # "new" | "already_committed"
    prior_output: NotRequired[Any]
    prior_error: NotRequired[Any]


class ReplayedStep(TypedDict):
    step_id: str
    step_name: str
    idempotency_key: str
    output: Any
    error: NotRequired[Any]


class ReplayState(TypedDict):
    steps: list[ReplayedStep]


class InFlightRun(TypedDict):
    run_id: str
    phase_id: str
    epoch: int
    last_committed_step: str | None
    replay_state: ReplayState


class _CommitAnswer(TypedDict):
    """What the commit transaction answers, recorded by DBOS under the commit's workflow id."""

    ack: bool
    recorded: bool  # this commit wrote the result (false: an earlier one stands)
    refused: NotRequired[dict[str, Any]]  # fenced: {run_id, epoch, current_epoch}


def step_id_of(run_id: str, idempotency_key: str) -> str:
    """The one step id of ``(run_id, idempotency_key)``, the same in every process and on every retry."""
    digest = hashlib.sha256(f"{run_id}\0{idempotency_key}".encode()).hexdigest()
    return f"st_{digest[:32]}"


def _fenced(run_id: str, epoch: int, current: int) -> Fenced:
    return Fenced(
        f"epoch {epoch} of run {run_id} is stale: epoch {current} owns the run now",
        details={"run_id": run_id, "epoch": epoch, "current_epoch": current},
        hint="this runner lost the run to a newer begin_workflow_run; stop acting for it",
    )


def _commit_tx(store: Store, step_id: str, epoch: int, output: Any, error: Any) -> _CommitAnswer:
    """Under the run row's lock: fence, then record the result unless the step has one."""
    step = store.stepstore_step(step_id)
    if step is None:  # checked before the workflow started, and steps are never deleted
        raise NotFound(f"no step {step_id}")
    run = store.stepstore_run(step.run_id, lock=True)
    assert run is not None  # the step's foreign key
    if epoch < run.epoch:
        return {"ack": False, "recorded": False,
                "refused": {"run_id": run.run_id, "epoch": epoch, "current_epoch": run.epoch}}
    recorded = store.commit_stepstore_step(step_id, output=output, error=error, epoch=epoch)
    return {"ack": True, "recorded": recorded}


class _Registered:
    """The DBOS functions of this process, declared once (DBOS's registry is global)."""

    commit: Any = None


@dataclass
class StepJournal:
    """The journal over one database: DBOS launched as ``animus-stepstore`` in this process."""

    db_url: str
    state_dir: Path
    log_file: Path | None = None

    def __post_init__(self) -> None:
        self._store: Store | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        from dbos import DBOS, SQLAlchemyDatasource

        logger = logging.getLogger("dbos")
        if not logger.handlers:
            handler: logging.Handler = (
                logging.FileHandler(procs.private_file(self.log_file)) if self.log_file else logging.NullHandler()
            )
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
            logger.addHandler(handler)
        self._store = open_store(self.db_url)  # migrates: the step-store's tables exist before DBOS needs them
        url = _dbos_url(self.db_url)
        sqlite = url.startswith("sqlite")
        DBOS(
            config={
                "name": STEPSTORE_APP,
                "system_database_url": url,
                "system_database_engine": sqlite_engine(url) if sqlite else None,
                "application_version": STEPSTORE_VERSION,
                "executor_id": executor_id(self.state_dir),
                "log_level": "WARNING",
                "notification_listener_polling_interval_sec": 0.1,
            }
        )
        ds = SQLAlchemyDatasource.create(url, engine=sqlite_engine(url) if sqlite else None)
        if _Registered.commit is None:

            def commit_body(step_id: str, epoch: int, output: Any, error: Any) -> _CommitAnswer:
                return _commit_tx(_session_store(ds), step_id, epoch, output, error)

            commit_body.__name__ = commit_body.__qualname__ = _COMMIT_TX
            commit_tx = ds.transaction(name=_COMMIT_TX)(commit_body)

            def commit_workflow(step_id: str, epoch: int, output: Any, error: Any) -> _CommitAnswer:
                answer: _CommitAnswer = commit_tx(step_id, epoch, output, error)
                fault_point("stepstore.commit_tx", "after")  # recorded, the workflow not yet SUCCESS
                return answer

            commit_workflow.__name__ = commit_workflow.__qualname__ = _COMMIT_WORKFLOW
            _Registered.commit = DBOS.workflow(name=_COMMIT_WORKFLOW)(commit_workflow)
        DBOS.launch()

    def stop(self) -> None:
        from dbos import DBOS

        DBOS.destroy(workflow_completion_timeout_sec=0)
        if self._store is not None:
            self._store.close()
            self._store = None

    @property
    def store(self) -> Store:
        assert self._store is not None, "the step-store journal is not started"
        return self._store

    # -- the five calls ----------------------------------------------------------------------------
    def begin_workflow_run(self, run_id: str, phase_id: str, inputs: Any) -> int:
        """Register or re-open the run under a new epoch, strictly larger than every earlier one."""
        with self.store.transaction():
            epoch = self.store.next_stepstore_epoch()
            self.store.open_stepstore_run(run_id, phase_id, inputs, epoch)
        return epoch

    def begin_step(
        self, *, run_id: str, phase_id: str, step_name: str, idempotency_key: str, payload: Any, epoch: int
    ) -> BegunStep:
        step_id = step_id_of(run_id, idempotency_key)
        with self.store.transaction():
            run = self.store.stepstore_run(run_id, lock=True)
            if run is None:
                raise NotFound(f"no step-store run {run_id}", hint="call begin_workflow_run first")
            self._check_epoch(run_id, epoch, run.epoch)
            self.store.add_stepstore_step(step_id=step_id, run_id=run_id, phase_id=phase_id, step_name=step_name,
                                          idempotency_key=idempotency_key, payload=payload, epoch=epoch)
            step = self.store.stepstore_step(step_id)
        assert step is not None
        return _begun(step)

    def commit_step(self, step_id: str, *, epoch: int, output: Any = None, error: Any = None) -> None:
        """Record the step's result once (DBOS: one commit workflow per step and epoch); Fenced when stale."""
        from dbos import DBOS, SetWorkflowID
        from dbos._error import DBOSWorkflowConflictIDError

        step = self.store.stepstore_step(step_id)
        if step is None:
            raise NotFound(f"no step {step_id}", hint="begin_step returns the step_id to commit")
        run = self.store.stepstore_run(step.run_id)
        assert run is not None
        self._check_epoch(step.run_id, epoch, run.epoch)
        fault_point("stepstore.commit_step", "before")
        workflow_id = f"animus-stepstore:commit:{step_id}:e{epoch}"
        try:
            with SetWorkflowID(workflow_id):
                answer = cast(_CommitAnswer, _Registered.commit(step_id, epoch, output, error))
        except DBOSWorkflowConflictIDError:
            # another execution (a peer server's recovery) owns this commit: its recorded answer is ours
            answer = cast(_CommitAnswer, DBOS.retrieve_workflow(workflow_id).get_result())
        fault_point("stepstore.commit_step", "after")  # committed, the reply not yet sent
        refused = answer.get("refused")
        if refused is not None:
            raise _fenced(refused["run_id"], refused["epoch"], refused["current_epoch"])

    def recover_in_flight(self, since_epoch: int = 0) -> list[InFlightRun]:
        runs: list[InFlightRun] = []
        for run in self.store.open_stepstore_runs(since_epoch):
            steps = [_replayed(s) for s in self.store.committed_stepstore_steps(run.run_id)]
            runs.append({
                "run_id": run.run_id, "phase_id": run.phase_id, "epoch": run.epoch,
                "last_committed_step": steps[-1]["step_name"] if steps else None,
                "replay_state": {"steps": steps},
            })
        return runs

    def complete_workflow_run(self, run_id: str, *, output: Any = None, error: Any = None, epoch: int | None = None) -> None:
        """Close the run (it leaves ``recover_in_flight``); a second completion changes nothing."""
        with self.store.transaction():
            run = self.store.stepstore_run(run_id, lock=True)
            if run is None:
                raise NotFound(f"no step-store run {run_id}")
            if epoch is not None:
                self._check_epoch(run_id, epoch, run.epoch)
            if run.status != "completed":
                self.store.complete_stepstore_run(run_id, output=output, error=error)

    @staticmethod
    def _check_epoch(run_id: str, epoch: int, current: int) -> None:
        if epoch < current:
            raise _fenced(run_id, epoch, current)
        if epoch > current:
            raise InvalidInput(f"epoch {epoch} was never handed out for run {run_id} (its epoch is {current})",
                               details={"run_id": run_id, "epoch": epoch, "current_epoch": current})


def _begun(step: StepStoreStep) -> BegunStep:
    if not step.committed:
        return {"step_id": step.step_id, "status": "new"}
    if step.failed:
        return {"step_id": step.step_id, "status": "already_committed", "prior_error": step.error}
    return {"step_id": step.step_id, "status": "already_committed", "prior_output": step.output}


def _replayed(step: StepStoreStep) -> ReplayedStep:
    replayed: ReplayedStep = {"step_id": step.step_id, "step_name": step.step_name,
                              "idempotency_key": step.idempotency_key, "output": step.output}
    if step.failed:
        replayed["error"] = step.error
    return replayed
