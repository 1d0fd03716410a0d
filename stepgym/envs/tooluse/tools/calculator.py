"""Safe arithmetic by parsing (`ast`), never `eval`: exact rationals where possible.

>>> calculate("2 * (3 + 4) ** 2")
'98'
>>> calculate("7 / 4")
'1.75'
>>> calculate("sqrt(2)")
'1.41421356237'
"""

from __future__ import annotations

import ast
import math
import operator
from fractions import Fraction

from stepgym.envs.tooluse.tools.base import ToolError, tool

MAX_EXPRESSION_CHARS = 500
MAX_EXPONENT = 1000
MAX_DIGITS = 4000  # bigger results are an attack on memory/CPU, not arithmetic

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
           ast.Pow: operator.pow}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCS = {"sqrt": math.sqrt, "abs": abs, "round": round, "min": min, "max": max,
          "log": math.log, "exp": math.exp, "floor": math.floor, "ceil": math.ceil,
          "gcd": math.gcd, "factorial": math.factorial}
_CONSTS = {"pi": math.pi, "e": math.e}

Number = Fraction | float


def _to_number(value: object) -> Number:
    if isinstance(value, bool) or not isinstance(value, (int, float, Fraction)):
        raise ToolError(f"calculator: only numbers are allowed, got {value!r:.40}")
    return Fraction(value) if isinstance(value, int) else value


def _pow(base: Number, exp: Number) -> Number:
    if isinstance(exp, Fraction) and exp.denominator == 1:
        if abs(exp) > MAX_EXPONENT:
            raise ToolError(f"calculator: exponent {exp} is too large (|exponent| <= {MAX_EXPONENT})")
        if isinstance(base, Fraction) and base != 0 and abs(exp) * math.log10(max(abs(base.numerator), abs(base.denominator), 2)) > MAX_DIGITS:
            raise ToolError(f"calculator: result would have more than {MAX_DIGITS} digits")
        if base == 0 and exp < 0:
            raise ToolError("calculator: division by zero (0 to a negative power)")
        return base ** int(exp)
    out = float(base) ** float(exp)
    if isinstance(out, complex):
        raise ToolError("calculator: the result is not a real number")
    return out


def _eval(node: ast.AST) -> Number:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant):
        return _to_number(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow):
            return _pow(left, right)
        if isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)) and right == 0:
            raise ToolError("calculator: division by zero")
        out = _BINARY[type(node.op)](left, right)
        return out
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.Name) and node.id in _CONSTS:
        return _CONSTS[node.id]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS:
        if node.keywords:
            raise ToolError(f"calculator: {node.func.id}() takes no keyword arguments")
        args = [_eval(a) for a in node.args]
        fn = _FUNCS[node.func.id]
        if fn in (math.gcd, math.factorial):
            if not all(isinstance(a, Fraction) and a.denominator == 1 for a in args):
                raise ToolError(f"calculator: {node.func.id}() needs integers")
            if fn is math.factorial and args and args[0] > 1000:
                raise ToolError("calculator: factorial() argument must be <= 1000")
            args = [int(a) for a in args]
        try:
            return _to_number(fn(*args))
        except (ValueError, TypeError, OverflowError) as exc:
            raise ToolError(f"calculator: {node.func.id}(): {exc}") from None
    shown = ast.unparse(node) if hasattr(ast, "unparse") else type(node).__name__
    raise ToolError(
        f"calculator: unsupported expression {shown!r:.60}; use numbers, + - * / // % **, "
        f"parentheses, {', '.join(sorted(_FUNCS))}, pi, e")


def format_number(value: Number) -> str:
    """Integers exactly, other rationals as a decimal (12 significant digits)."""
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return str(value.numerator)
        value = float(value)
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.12g}"


def calculate(expression: str) -> str:
    """The value of an arithmetic expression as text; ToolError for anything else."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ToolError(f"calculator: expression longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise ToolError(f"calculator: cannot parse {expression!r:.60}: {exc.msg}") from None
    try:
        return format_number(_eval(tree))
    except OverflowError:
        raise ToolError("calculator: result too large") from None
    except RecursionError:
        raise ToolError("calculator: expression nested too deeply") from None
    except (TypeError, ValueError, ZeroDivisionError) as exc:
        raise ToolError(f"calculator: {exc}") from None


@tool(name="calculator")
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression exactly (integers and fractions stay exact).

    Args:
        expression: e.g. "(1487 - 1320) * 3" or "sqrt(2) / 7"; supports + - * / // % **, parentheses, sqrt, abs, round, min, max, log, exp, floor, ceil, gcd, factorial, pi, e
    """
    return calculate(expression)
