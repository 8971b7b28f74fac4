"""Personalisation: content bodies are Jinja2 templates rendered in a locked-down sandbox.

Why Jinja2's ``SandboxedEnvironment`` rather than a home-made ``{name}`` replacer: operators want
defaults, conditions and filters (``{{ name | default("亲") }}``, ``{% if stage == "loyalty" %}``), and
the sandbox is the maintained answer to "untrusted people write templates". On top of it:

- **Only whitelisted names exist**: the customer fields in :data:`FIELDS` plus ``link`` (the tracked
  short link). Anything else is undefined and renders as the empty string (never an error at send
  time), so ``default(...)`` supplies the fallback. Attribute access to ``_``-prefixed names (dunder
  escapes such as ``cycler.__init__.__globals__``) raises ``SecurityError`` → ``template_unsafe``.
- **No globals** (no ``range``-free ``lipsum``, ``cycler``, ``joiner``, ``namespace``); ``range`` is
  re-added capped at :data:`MAX_RANGE` items.
- **Only whitelisted filters** (:data:`FILTERS`): none that pads or repeats (``center``, ``indent``,
  ``wordwrap``, ``format``) and so could build huge strings.
- ``*``, ``**`` and ``%`` are intercepted: repeating a string or list past :data:`MAX_OUTPUT`
  characters, raising to a power over 64 and ``%`` on a string (printf formatting) raise
  ``template_unsafe``; so do ``str.format``/``format_map`` and the methods that pad to a chosen width
  (``center``, ``ljust``, ``rjust``, ``zfill``, ``expandtabs``).
- **Loops nest at most** :data:`MAX_LOOP_DEPTH` deep (checked on the parsed tree), so the work of
  a render is bounded by ``MAX_RANGE ** MAX_LOOP_DEPTH`` iterations.
- The output is streamed and cut off at :data:`MAX_OUTPUT` characters (``template_unsafe``).
- HTML bodies (``article`` items, or ``html=True``) autoescape the customer's values.

Syntax errors are refused when an item is saved (422 ``invalid_template`` with the line).
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import Template, TemplateSyntaxError, Undefined, nodes
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from siyu.errors import ValidationFailed

FIELDS = ("name", "gender", "city", "region", "stage", "rfm_segment", "lifecycle_tier", "member_tier",
          "staff_name", "link")
FILTERS = ("default", "d", "upper", "lower", "title", "capitalize", "trim", "truncate", "replace", "join",
           "length", "count", "first", "last", "round", "int", "float", "string", "escape", "e", "striptags",
           "abs", "list", "sort", "unique", "min", "max", "sum")
MAX_RANGE = 100
MAX_LOOP_DEPTH = 2
MAX_OUTPUT = 20_000
MAX_SOURCE = 20_000
# str methods that pad or format to a caller-chosen width: each could build a string of any size
_WIDENING = frozenset({"format", "format_map", "center", "ljust", "rjust", "zfill", "expandtabs"})


class TemplateUnsafe(ValidationFailed):
    code = "template_unsafe"


class _Blank(Undefined):
    """Undefined renders as empty and iterates as nothing, so a missing field never breaks a send."""

    __slots__ = ()

    def __str__(self) -> str:
        return ""

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(())

    def __bool__(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self


def _capped_range(*args: int) -> range:
    r = range(*args)
    if len(r) > MAX_RANGE:
        raise SecurityError(f"range() is limited to {MAX_RANGE} items in content templates")
    return r


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, list, tuple)) else 0


class _Sandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%"})

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """Refuse every ``_``-prefixed attribute, on top of the sandbox's own rules."""
        return not attr.startswith("_") and attr not in _WIDENING and super().is_safe_attribute(obj, attr, value)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        """Raise at once: a refused attribute must not pass silently as an empty string."""
        raise SecurityError(f"access to attribute {attribute!r} is not allowed in content templates")

    def wrap_str_format(self, value: Any) -> Any:
        """Refuse ``str.format``/``format_map``: a width in the format spec can build a string of any size."""
        owner = getattr(value, "__self__", None)
        if getattr(value, "__name__", None) in ("format", "format_map") and isinstance(owner, str):
            raise SecurityError("str.format is not allowed in content templates")
        return None

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        """Cap repetition and powers and refuse ``%`` on strings: the operators that can exhaust memory or time."""
        if operator_ == "%":
            if isinstance(left, str):
                raise SecurityError("printf-style % formatting is not allowed in content templates")
            return operator.mod(left, right)
        if operator_ == "**":
            if isinstance(right, (int, float)) and abs(right) > 64:
                raise SecurityError("powers above 64 are not allowed in content templates")
            return operator.pow(left, right)
        for seq, times in ((left, right), (right, left)):
            if _size(seq) and isinstance(times, int) and _size(seq) * times > MAX_OUTPUT:
                raise SecurityError("repetition past the output limit is not allowed in content templates")
        return operator.mul(left, right)


def _environment(autoescape: bool) -> _Sandbox:
    env = _Sandbox(autoescape=autoescape, undefined=_Blank, auto_reload=False, cache_size=400)
    env.filters = {k: v for k, v in env.filters.items() if k in FILTERS}
    env.tests = dict(env.tests)
    env.globals = {"range": _capped_range}
    return env


_TEXT = _environment(False)
_HTML = _environment(True)


def _loop_depth(node: nodes.Node, depth: int = 0) -> int:
    here = depth + 1 if isinstance(node, nodes.For) else depth
    return max([here, *(_loop_depth(child, here) for child in node.iter_child_nodes())])


def check(source: str, *, html: bool = False, field: str = "body") -> None:
    """Refuse a template that does not parse, is too long or nests loops too deep (422, with the line)."""
    _compiled(source, html, field)


@lru_cache(maxsize=512)
def _compiled(source: str, html: bool, field: str = "body") -> Template:
    """Check and compile a template once (a mass message renders one body for every recipient)."""
    if len(source) > MAX_SOURCE:
        raise ValidationFailed(f"{field} holds at most {MAX_SOURCE} characters", code="invalid_template", field=field)
    env = _HTML if html else _TEXT
    try:
        tree = env.parse(source)
        env.compile(tree)  # unknown filters and tests fail here, with their line
    except TemplateSyntaxError as exc:
        raise ValidationFailed(f"{field}: template syntax error on line {exc.lineno}: {exc.message}",
                               code="invalid_template", field=field, line=exc.lineno) from exc
    if _loop_depth(tree) > MAX_LOOP_DEPTH:
        raise ValidationFailed(f"{field}: loops may nest at most {MAX_LOOP_DEPTH} deep", code="invalid_template",
                               field=field)
    return env.from_string(tree)


def render(source: str, values: Mapping[str, Any], *, html: bool = False) -> str:
    """Render ``source`` with the whitelisted ``values``; raise TemplateUnsafe on anything the sandbox refuses."""
    template = _compiled(source, html)
    context = {k: v for k, v in values.items() if k in FIELDS and v is not None and v != ""}
    out: list[str] = []
    size = 0
    try:
        for chunk in template.generate(context):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise TemplateUnsafe(f"the rendered text passed {MAX_OUTPUT} characters")
            out.append(chunk)
    except SecurityError as exc:
        raise TemplateUnsafe(f"template refused by the sandbox: {exc}") from exc
    except (TemplateError, ArithmeticError, TypeError, ValueError, OverflowError) as exc:
        raise TemplateUnsafe(f"template failed: {type(exc).__name__}: {exc}"[:300]) from exc
    return "".join(out)
