"""What every part of the simulator's aggregation evaluator shares: the error Pendo's
400 answer carries, the row and stage types, and expression compilation for steps."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from pendo_tui.sim.expr import Compiled, ExprEnv, ExpressionError, compile_expression

Row = dict[str, Any]
Stage = Callable[[Iterator[Row]], Iterator[Row]]


class PipelineError(Exception):
    """A pipeline Pendo would reject; str() is the one-line reason the server answers 400 with."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


def step_expr(text: Any, what: str, env: ExprEnv) -> Compiled:
    try:
        return compile_expression(text, env)
    except ExpressionError as err:
        raise PipelineError(f"Cannot parse {what} expression: {text!r}: {err}") from None
