"""Which expression language a string is compiled in: GitHub's, or the ACTIVATE platform's superset.

The expression API (``compile_string``, ``compile_condition``) defaults to
:data:`GITHUB`, the exact semantics of ``@actions/expressions`` plus the
ACTIVATE operators every file uses (ternary, arithmetic, ``includes``, ``get``,
status keywords, ``.name``). Workflow files are compiled in :data:`PLATFORM`,
which adds what real platform workflows rely on (DESIGN.md §3):

- a bare word that is no context, keyword or function and is not followed by
  ``.``, ``[`` or ``(`` is its own name as a string (``pvc != Existing``,
  ``select_gpu == None`` where ``None`` is a dropdown value). Case variants of
  ``true false null`` stay errors: their meaning is clear and a string there
  would silently invert a condition;
- ``"double-quoted"`` strings (``""`` inside is one quote);
- ``===`` / ``!==``: ``==`` / ``!=`` without type coercion (different kinds are
  never equal; same kinds compare exactly as ``==`` does, strings ignoring case);
- ``inputs.list.[index].field``: ``.[expr]`` is ``[expr]``, and the context
  ``index`` is the position of the list item whose template is being resolved.

The switch is a value passed down, not a global, so both dialects can be used
side by side (the expression tests pin the GitHub one).
"""

from __future__ import annotations


from workflow_runner.records import ReadOnly, frozen


@frozen
class Dialect(ReadOnly):
    """The rules that differ between the GitHub and platform expression languages; a value passed down, not a global."""

    name: str
    bare_words: bool = False
    double_quotes: bool = False
    strict_equality: bool = False
    list_items: bool = False


GITHUB = Dialect("github")
PLATFORM = Dialect("platform", bare_words=True, double_quotes=True, strict_equality=True, list_items=True)

LIST_INDEX_CONTEXT = "index"
"""Inside a ``list`` input's ``template:``, the position of the item being resolved."""
