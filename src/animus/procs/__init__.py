"""Process supervision: short programs (run_program) and detached agent runs with re-attach."""

from animus.procs._run import ProgramResult, run_program

__all__ = ["ProgramResult", "run_program"]
