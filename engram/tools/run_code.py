"""``run_code``: a model's Python program, run in the sandbox custom tools run in.

The program runs as the body of a small fixed tool (``_HARNESS``) in a fresh sandboxed
child, with the same limits as a custom tool call, no variables of the agent's (no
secrets reach it) and the network only when the agent's tools may use it. Like a
notebook cell, the value of a last bare expression is reported besides what was printed.

The answer has the shape Letta's ``run_code`` answers, so prompts written for it read it
the same way: ``{"results": [...], "logs": {"stdout": [...], "stderr": [...]}}`` plus
``"error": {"name", "value", "traceback"}`` when the program raised. A program that raised
still ran: that is the tool's answer, not a failed call. A call fails (``Error: ...``) when
the language is not Python or the sandbox stopped the program (time, memory, output).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from engram.tools.confinement import SandboxInForce
from engram.tools.sandbox import SandboxLimits, run_tool

PYTHON_NAMES = {"python", "python3", "py"}

_HARNESS = """
def run_code(code):
    import ast
    import traceback

    results = []
    error = None
    try:
        tree = ast.parse(code, "<code>", "exec")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        namespace = {"__name__": "__main__", "__builtins__": __builtins__}
        exec(compile(tree, "<code>", "exec"), namespace)
        if last is not None:
            value = eval(compile(last, "<code>", "eval"), namespace)
            if value is not None:
                results.append(repr(value))
    except BaseException as exc:
        frames = exc.__traceback__.tb_next if exc.__traceback__ else None
        error = {
            "name": type(exc).__name__,
            "value": str(exc),
            "traceback": "".join(traceback.format_exception(type(exc), exc, frames)),
        }
    return {"results": results, "error": error}
"""


@dataclass(frozen=True)
class CodeRun:
    """What the model reads, and whether the call failed (the program never finished)."""

    output: str
    failed: bool


def language_problem(language: object) -> str | None:
    """Why ``language`` cannot run here, or None for Python."""
    if isinstance(language, str) and language.strip().lower() in PYTHON_NAMES:
        return None
    return (
        f"run_code runs Python only on this server; language {language!r} is not supported. "
        "Write the program in Python and call run_code with language 'python'."
    )


async def run_code(
    code: str,
    *,
    limits: SandboxLimits,
    sandbox: SandboxInForce,
    network: bool,
) -> CodeRun:
    """Run ``code`` (Python) in a fresh child under ``sandbox`` and ``limits``."""
    if sandbox.refused:
        return CodeRun(f"Error: {sandbox.refusal()}", True)
    try:
        run = await run_tool(
            _HARNESS,
            "run_code",
            {"code": code},
            env={},
            limits=limits,
            network=network,
            sandbox=sandbox,
        )
    except OSError as exc:  # no child could start: the server's problem, told as such
        return CodeRun(f"Error: the sandbox could not start: {exc}", True)
    if not run.ok:
        return CodeRun(f"Error: the program {run.error}", True)
    answer: dict[str, Any] = run.result if isinstance(run.result, dict) else {}
    shaped: dict[str, Any] = {
        "results": answer.get("results", []),
        "logs": {
            "stdout": [run.stdout] if run.stdout else [],
            "stderr": [run.stderr] if run.stderr else [],
        },
    }
    if answer.get("error"):
        shaped["error"] = answer["error"]
    return CodeRun(json.dumps(shaped, ensure_ascii=False), False)
