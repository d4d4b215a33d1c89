"""Expressions: ``${{ expr }}`` and ``$<< expr >>`` inside workflow strings.

GitHub Actions expression semantics (reference: npm ``@actions/expressions``)
plus the ACTIVATE extensions real workflows use: ternary ``a ? b : c``,
arithmetic ``+ - * / %``, ``x includes y`` / ``!includes``, ``x get k``, the bare
status keywords (``error``, ``always`` …) and self-relative ``.name``. See
DESIGN.md §3 and the precedence table in ``parser.py``.

Use::

    value = compile_string(text, origin=origin)   # once, at load time: str or Template
    ...
    render(value, Context({"inputs": inputs, "needs": needs}))   # per job / matrix leg
    compile_condition("failure() || error", origin=origin)       # an if: may omit ${{ }}

Decisions where GitHub is silent or ACTIVATE differs:

- ``includes``/``!includes`` bind tighter than ``== !=`` and looser than
  ``< >``; ``get`` binds tighter than ``!``/unary minus and takes postfix
  operands (``inputs get matrix.key``). Word operators and ``true false null
  NaN Infinity`` are case-sensitive; context, property and function names are not.
- Arithmetic uses JavaScript number rules (``1/0`` is Infinity, ``%`` keeps the
  dividend's sign); integral results are ints (``4 / 2`` → 2), and numbers
  print like JavaScript after rounding to 15 significant digits (``0.1 + 0.2``
  prints ``0.3``, ``1e21`` prints ``1e+21``).
- Text mixed with expressions renders lists/objects as compact JSON
  (``[1,2]``, no spaces, so it stays one shell word); ``toJSON`` is pretty.
- ``x includes y``: substring (ignoring case) for strings, loose-equal element
  for lists, case-insensitive key for objects, false for null.
- Status keywords/functions outside an ``if:`` (no StatusProvider) are a runtime
  error; unknown bare names are a compile error.
- Nesting is capped at 40 levels and the AST depth at 100, so no input can
  exhaust the Python stack.

Dialects: the API compiles GitHub's language by default; workflow files are
compiled in the platform's superset (bare words as strings, ``"…"``, ``===``,
``list.[index]``), see ``dialect.py``.

Pipeline: ``template`` splits the string → ``lexer`` → ``parser`` builds the AST
of ``nodes`` → ``evaluator`` walks it with ``values`` (coercions) and
``functions``. Errors are :class:`ExpressionError` located in the user's file.
"""

from ..errors import ExpressionError
from .dialect import GITHUB, PLATFORM, Dialect
from .evaluator import Context, StatusProvider
from .parser import CONTEXT_NAMES, STATUS_KEYWORDS
from .template import Template, compile_condition, compile_string, contains_expression, render, walk_templates

__all__ = [
    "CONTEXT_NAMES",
    "STATUS_KEYWORDS",
    "Context",
    "Dialect",
    "GITHUB",
    "PLATFORM",
    "ExpressionError",
    "StatusProvider",
    "Template",
    "compile_condition",
    "compile_string",
    "contains_expression",
    "render",
    "walk_templates",
]
