"""Keyword rules: exact, contains, fuzzy and regex matching of inbound texts, and numbered menus.

- Texts and patterns are compared after NFKC (full-width letters and digits become half-width) and
  case folding, with surrounding whitespace trimmed, so "ＶＩＰ" matches "vip".
- ``contains`` patterns of every rule share one Aho-Corasick automaton (``ahocorasick-rs``, a Rust
  implementation, preferred to ``pyahocorasick`` for speed), so a text is scanned once however many
  keywords exist.
- ``fuzzy`` uses rapidfuzz's ``ratio`` (2·matches / total length, 0-100). The default threshold 80
  accepts one inserted character in a 4-character keyword (89) or one changed character in a
  5-character one (80) but not one changed character in a 4-character keyword (75), where Chinese
  keywords turn into different words (退货 → 换货). A rule can set its own threshold.
- ``regex`` patterns use the ``regex`` module: compiled once per rule set, searched with a timeout
  (``REGEX_TIMEOUT`` s) so a catastrophic pattern cannot stall the worker, on at most ``MAX_TEXT``
  characters; patterns are refused at save time when invalid (with the position) or when they nest
  a quantifier inside a quantified group, the usual cause of catastrophic backtracking.
- Of every matching rule the one with the highest priority wins, ties to the oldest (lowest id).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import ahocorasick_rs
import regex
from rapidfuzz import fuzz

from siyu.errors import ValidationFailed

MATCH_TYPES = ("exact", "contains", "fuzzy", "regex")
DEFAULT_FUZZY = 80
REGEX_TIMEOUT = 0.05
MAX_TEXT = 2000
MAX_PATTERN = 200
MAX_PATTERNS = 100
MAX_OPTIONS = 20
_NESTED = regex.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)\s*[+*{]")


def normalise(text: str) -> str:
    """Return ``text`` as rules compare it: NFKC, case-folded, trimmed."""
    return unicodedata.normalize("NFKC", text or "").casefold().strip()


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A rule as the matcher needs it."""

    id: int
    name: str
    match_type: str
    patterns: tuple[str, ...]
    reply: str
    priority: int = 0
    threshold: int | None = None
    options: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class RuleHit:
    """The winning rule, the pattern that matched and why."""

    rule: RuleSpec
    pattern: str
    reason: str
    score: float | None = None


def check_regex(pattern: str, index: int = 0) -> None:
    """Raise ``invalid_regex`` naming the position when ``pattern`` does not compile or may backtrack badly."""
    if len(pattern) > MAX_PATTERN:
        raise ValidationFailed(f"pattern {index} is longer than {MAX_PATTERN} characters", code="invalid_regex",
                               pattern=index)
    try:
        regex.compile(pattern)
    except regex.error as exc:
        msg, pos = exc.msg, exc.pos
        try:  # the stdlib parser points at where the broken construct starts ("[" of "订单[0-9"), regex at its end
            re.compile(pattern)
        except re.error as std:
            msg, pos = std.msg, std.pos
        raise ValidationFailed(f"pattern {index} is not a valid regular expression: {msg} at position {pos}",
                               code="invalid_regex", pattern=index, position=pos) from exc
    nested = _NESTED.search(pattern)
    if nested:
        raise ValidationFailed(f"pattern {index} nests a quantifier inside a repeated group at position "
                               f"{nested.start()} (catastrophic backtracking); rewrite it without the nesting",
                               code="unsafe_regex", pattern=index, position=nested.start())


def check_rule(match_type: str, patterns: Sequence[str], threshold: int | None,
               options: Sequence[dict[str, Any]]) -> tuple[list[str], list[dict[str, str]]]:
    """Return cleaned patterns and menu options, or raise a ValidationFailed naming the problem."""
    if match_type not in MATCH_TYPES:
        raise ValidationFailed(f"match_type must be one of {', '.join(MATCH_TYPES)}", code="invalid_match_type")
    cleaned = [p.strip() for p in patterns if isinstance(p, str) and p.strip()]
    if not cleaned or len(cleaned) > MAX_PATTERNS:
        raise ValidationFailed(f"a rule needs 1-{MAX_PATTERNS} non-empty patterns", code="invalid_patterns")
    for i, p in enumerate(cleaned):
        if match_type == "regex":
            check_regex(p, i)
        elif len(p) > MAX_PATTERN:
            raise ValidationFailed(f"pattern {i} is longer than {MAX_PATTERN} characters", code="invalid_patterns")
    if threshold is not None and (match_type != "fuzzy" or not 50 <= threshold <= 100):
        raise ValidationFailed("threshold is for fuzzy rules only, between 50 and 100", code="invalid_threshold")
    return cleaned, check_options(options)


def check_options(options: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """Return menu options [{key, label, reply}] with distinct keys, or raise ``invalid_menu``."""
    if len(options) > MAX_OPTIONS:
        raise ValidationFailed(f"a menu has at most {MAX_OPTIONS} options", code="invalid_menu")
    result, seen = [], set()
    for i, o in enumerate(options):
        key = normalise(str(o.get("key", ""))) if isinstance(o, dict) else ""
        label, reply = (str(o.get("label", "")).strip(), str(o.get("reply", "")).strip()) if key else ("", "")
        if not key or not label or not reply or key in seen:
            raise ValidationFailed(f"menu option {i} needs a distinct key, a label and a reply", code="invalid_menu",
                                   option=i)
        seen.add(key)
        result.append({"key": key, "label": label, "reply": reply})
    return result


def menu_text(rule: RuleSpec) -> str:
    """Return the reply of a rule, followed by its numbered options if it is a menu."""
    lines = [rule.reply] + [f"{o['key']}. {o['label']}" for o in rule.options]
    return "\n".join(lines)


@dataclass(slots=True)
class Matcher:
    """Rules compiled once: exact keys in a dict, contains in one automaton, regexes compiled."""

    rules: Sequence[RuleSpec]
    _exact: dict[str, list[tuple[RuleSpec, str]]] = field(default_factory=dict)
    _contains: list[tuple[RuleSpec, str]] = field(default_factory=list)
    _automaton: Any = None
    _others: list[tuple[RuleSpec, str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for rule in self.rules:
            for p in rule.patterns:
                key = normalise(p)
                if rule.match_type == "exact":
                    self._exact.setdefault(key, []).append((rule, p))
                elif rule.match_type == "contains":
                    self._contains.append((rule, key))
                elif rule.match_type == "regex":
                    self._others.append((rule, p, regex.compile(p)))
                else:
                    self._others.append((rule, key, None))
        if self._contains:
            self._automaton = ahocorasick_rs.AhoCorasick([k for _r, k in self._contains])

    def candidates(self, text: str) -> list[RuleHit]:
        """Return every rule that matches ``text`` (one hit per rule, its first matching pattern)."""
        norm = normalise(text)[:MAX_TEXT]
        hits: dict[int, RuleHit] = {}
        for rule, p in self._exact.get(norm, []):
            hits.setdefault(rule.id, RuleHit(rule, p, f"text equals {p!r}"))
        if self._automaton is not None and norm:
            for index, _start, _end in self._automaton.find_matches_as_indexes(norm, overlapping=True):
                rule, key = self._contains[index]
                hits.setdefault(rule.id, RuleHit(rule, key, f"text contains {key!r}"))
        for rule, p, compiled in self._others:
            if rule.id in hits:
                continue
            hit = _regex_hit(rule, p, compiled, norm, text) if compiled is not None else _fuzzy_hit(rule, p, norm)
            if hit is not None:
                hits[rule.id] = hit
        return sorted(hits.values(), key=lambda h: (-h.rule.priority, h.rule.id))

    def best(self, text: str) -> RuleHit | None:
        """Return the winning rule for ``text``, or None."""
        found = self.candidates(text)
        return found[0] if found else None


def _fuzzy_hit(rule: RuleSpec, key: str, norm: str) -> RuleHit | None:
    threshold = rule.threshold if rule.threshold is not None else DEFAULT_FUZZY
    score = fuzz.ratio(norm, key, score_cutoff=threshold)
    if score:
        return RuleHit(rule, key, f"text is {score:.0f}% similar to {key!r} (threshold {threshold})", score)
    return None


def _regex_hit(rule: RuleSpec, p: str, compiled: Any, norm: str, text: str) -> RuleHit | None:
    try:
        found = compiled.search(text.strip()[:MAX_TEXT], timeout=REGEX_TIMEOUT) or compiled.search(
            norm, timeout=REGEX_TIMEOUT)
    except TimeoutError:
        return None
    if found:
        return RuleHit(rule, p, f"text matches /{p}/ at {found.start()}: {found.group(0)!r}")
    return None


def option_for(rule: RuleSpec, text: str) -> dict[str, Any] | None:
    """Return the option of menu ``rule`` that ``text`` chooses ("1", "１", " 1 "), or None."""
    norm = normalise(text)
    return next((o for o in rule.options if o["key"] == norm), None)
