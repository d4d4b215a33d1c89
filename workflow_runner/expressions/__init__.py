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

Pipeline: ``template`` splits the string → ``lexer`` → ``parser`` builds the AST
of ``nodes`` → ``evaluator`` walks it with ``values`` (coercions) and
``functions``. Errors are :class:`ExpressionError` located in the user's file.
"""

from ..errors import ExpressionError
from .evaluator import Context, StatusProvider
from .parser import CONTEXT_NAMES, STATUS_KEYWORDS
from .template import Template, compile_string, contains_expression, render, walk_templates

__all__ = [
    "CONTEXT_NAMES",
    "STATUS_KEYWORDS",
    "Context",
    "ExpressionError",
    "StatusProvider",
    "Template",
    "compile_string",
    "contains_expression",
    "render",
    "walk_templates",
]
