"""The journey definition format (docs/journeys.md): JSON in, a checked graph of steps out.

:func:`parse` reports every problem at once, each with the JSON path, the step it concerns, a stable
code and what is expected, so the API answers 422 ``invalid_journey`` naming the step, the CLI exits 2
and the console marks the step. Besides the shape of each step it checks the graph: every ``next`` names
a step that exists, every step is reachable from the first, and no cycle runs without a wait (a loop
through wait steps is a legitimate "every week" pattern; one without would spin the scheduler).

Segment rules (in ``branch`` steps and audiences) are checked by the segments domain's own checker
by the service, which owns the store; this module only parses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import time, timedelta
from typing import Any

from siyu.errors import ValidationFailed

STEP_ID = re.compile(r"^[A-Za-z0-9_\-]{1,40}$")
EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$")
TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
WAITS = ("wait", "wait_until_time", "wait_for_event")
ACTIONS = ("send_message", "add_tag", "remove_tag", "create_task", "issue_coupon", "webhook", "set_attribute",
           "enrol", "exit")
STEP_TYPES = WAITS + ("branch", "split") + ACTIONS
TRIGGERS = ("segment_entered", "event", "date", "inactivity", "manual")
DATE_KINDS = ("birthday", "anniversary", "member_day")
CHANNELS = ("wecom", "wecom_group", "sms", "email")
FILTER_OPS = ("eq", "ne", "in", "exists")
REENTRY = ("never", "after_exit", "cooldown")
MAX_STEPS = 200
MAX_WAIT = timedelta(days=366)


class InvalidJourney(ValidationFailed):
    """A definition that cannot be used; ``details["errors"]`` lists each problem with path and step."""

    code = "invalid_journey"


@dataclass(frozen=True)
class Filter:
    """A test of one event property: ``eq``, ``ne``, ``in`` (a list) or ``exists``."""

    property: str
    op: str
    value: Any = None

    def holds(self, properties: dict[str, Any]) -> bool:
        """Return whether an event's properties pass this filter."""
        if self.op == "exists":
            return self.property in properties
        got = properties.get(self.property)
        if self.op == "in":
            return got in self.value
        return (got == self.value) if self.op == "eq" else (got != self.value)


@dataclass(frozen=True)
class EventSpec:
    """An event type (``order_paid`` and ``order_delivered`` include order facts) and property filters."""

    type: str
    where: tuple[Filter, ...] = ()

    def matches(self, type_: str, properties: dict[str, Any]) -> bool:
        """Return whether an event of ``type_`` with ``properties`` is this one."""
        return type_ == self.type and all(f.holds(properties or {}) for f in self.where)


@dataclass(frozen=True)
class Trigger:
    type: str
    segment: int | None = None
    event: EventSpec | None = None
    date_kind: str | None = None  # birthday | anniversary | member_day
    attribute: str | None = None  # anniversary: the custom attribute holding the date (YYYY-MM-DD)
    day_of_month: int | None = None  # member_day
    audience: dict[str, Any] | None = None  # date/inactivity: a segment rule the customer must match
    days: int | None = None  # inactivity


@dataclass(frozen=True)
class Step:
    id: str
    type: str
    next: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    # branch: yes/no; split: [(percent, next)]; wait_for_event: on_timeout
    yes: str | None = None
    no: str | None = None
    branches: tuple[tuple[int, str], ...] = ()
    on_timeout: str | None = None
    duration: timedelta | None = None  # wait; wait_for_event's timeout; create_task's due_in
    at: time | None = None  # wait_until_time
    event: EventSpec | None = None  # wait_for_event

    def targets(self) -> list[str]:
        """Return the steps this one may lead to."""
        found = [t for t in (self.next, self.yes, self.no, self.on_timeout) if t]
        return found + [t for _p, t in self.branches]


@dataclass(frozen=True)
class Journey:
    """A parsed, checked definition."""

    trigger: Trigger
    steps: dict[str, Step]
    first: str
    holdout_percent: int = 0
    goal: EventSpec | None = None
    goal_window: timedelta | None = None
    exit_on: tuple[EventSpec, ...] = ()
    exit_on_goal: bool = False
    reentry: str = "never"
    cooldown: timedelta | None = None
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)  # path → segment rule, for the service


class _Checker:
    def __init__(self) -> None:
        self.errors: list[dict[str, str]] = []

    def add(self, path: str, code: str, message: str, step: str | None = None) -> None:
        """Record one problem."""
        item = {"path": path, "code": code, "message": message}
        if step:
            item["step"] = step
        self.errors.append(item)


def parse(raw: Any) -> Journey:
    """Check a definition and return it parsed, or raise :class:`InvalidJourney` listing every problem."""
    c = _Checker()
    if not isinstance(raw, dict):
        raise InvalidJourney("a journey definition is a JSON object", errors=[
            {"path": "$", "code": "invalid_type", "message": "expected an object"}])
    _unknown(c, raw, "$", {"trigger", "steps", "holdout_percent", "goal", "exit", "reentry", "description"})
    trigger = _trigger(c, raw.get("trigger"), "$.trigger")
    steps = _steps(c, raw.get("steps"), "$.steps")
    journey = Journey(trigger=trigger or Trigger("manual"), steps=steps, first=next(iter(steps), ""),
                      holdout_percent=_percent(c, raw.get("holdout_percent", 0), "$.holdout_percent", 90))
    journey = _policies(c, raw, journey)
    if steps and not c.errors:
        _graph(c, raw.get("steps") or [], journey)
    if c.errors:
        first = c.errors[0]
        where = f" (step {first['step']})" if "step" in first else ""
        raise InvalidJourney(f"{first['path']}{where}: {first['message']}", errors=c.errors)
    return replace(journey, rules=_rules(raw))


def _unknown(c: _Checker, raw: dict[str, Any], path: str, allowed: set[str], step: str | None = None) -> None:
    for key in sorted(set(raw) - allowed):
        c.add(f"{path}.{key}", "unknown_field", f"unknown field {key!r}", step)


def _duration(c: _Checker, raw: Any, path: str, step: str | None = None) -> timedelta | None:
    if not isinstance(raw, dict) or not raw or set(raw) - {"days", "hours", "minutes"} or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in raw.values()):
        c.add(path, "invalid_duration", "a duration is {\"days\": n, \"hours\": n, \"minutes\": n} of integers ≥ 0",
              step)
        return None
    span = timedelta(**raw)
    if not timedelta(minutes=1) <= span <= MAX_WAIT:
        c.add(path, "invalid_duration", "a duration is between one minute and 366 days", step)
        return None
    return span


def _percent(c: _Checker, raw: Any, path: str, high: int) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or not 0 <= raw <= high:
        c.add(path, "invalid_value", f"a percentage is an integer 0-{high}")
        return 0
    return raw


def _event(c: _Checker, raw: Any, path: str, step: str | None = None) -> EventSpec | None:
    if isinstance(raw, str):
        raw = {"type": raw}
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str) or not EVENT_TYPE.match(raw["type"]):
        c.add(path, "invalid_event", "an event is a type (e.g. \"order_paid\") or {\"type\": …, \"where\": [...]}", step)
        return None
    _unknown(c, raw, path, {"type", "where"}, step)
    filters = []
    for i, f in enumerate(raw.get("where") or []):
        fp = f"{path}.where[{i}]"
        if not isinstance(f, dict) or not isinstance(f.get("property"), str) or f.get("op") not in FILTER_OPS:
            c.add(fp, "invalid_filter", f"a filter is {{\"property\", \"op\" ({', '.join(FILTER_OPS)}), \"value\"}}",
                  step)
        elif f["op"] == "in" and not isinstance(f.get("value"), list):
            c.add(f"{fp}.value", "invalid_filter", "op in takes a list", step)
        else:
            filters.append(Filter(f["property"], f["op"], f.get("value")))
    return EventSpec(raw["type"], tuple(filters))


def _trigger(c: _Checker, raw: Any, path: str) -> Trigger | None:
    if not isinstance(raw, dict) or raw.get("type") not in TRIGGERS:
        c.add(f"{path}.type", "invalid_trigger", f"a trigger type is one of {', '.join(TRIGGERS)}")
        return None
    kind = raw["type"]
    if kind == "segment_entered":
        _unknown(c, raw, path, {"type", "segment"})
        if not isinstance(raw.get("segment"), int) or isinstance(raw.get("segment"), bool):
            c.add(f"{path}.segment", "missing_field", "segment_entered needs a segment id")
            return None
        return Trigger(kind, segment=raw["segment"])
    if kind == "event":
        _unknown(c, raw, path, {"type", "event"})
        return Trigger(kind, event=_event(c, raw.get("event"), f"{path}.event"))
    audience = raw.get("audience")
    if audience is not None and not isinstance(audience, dict):
        c.add(f"{path}.audience", "invalid_rule", "an audience is a segment rule (an object)")
    if kind == "date":
        return _date_trigger(c, raw, path, audience)
    if kind == "inactivity":
        _unknown(c, raw, path, {"type", "event", "days", "audience"})
        days = raw.get("days")
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3660:
            c.add(f"{path}.days", "invalid_value", "inactivity days is an integer 1-3660")
        event = _event(c, raw.get("event"), f"{path}.event")
        return Trigger(kind, event=event, days=days if isinstance(days, int) else None, audience=audience)
    _unknown(c, raw, path, {"type"})
    return Trigger("manual")


def _date_trigger(c: _Checker, raw: dict[str, Any], path: str, audience: dict[str, Any] | None) -> Trigger:
    _unknown(c, raw, path, {"type", "date", "attribute", "day_of_month", "audience"})
    kind = raw.get("date")
    if kind not in DATE_KINDS:
        c.add(f"{path}.date", "invalid_trigger", f"a date trigger is one of {', '.join(DATE_KINDS)}")
    attribute = raw.get("attribute")
    if kind == "anniversary" and (not isinstance(attribute, str) or not attribute):
        c.add(f"{path}.attribute", "missing_field", "an anniversary names the custom attribute holding the date")
    dom = raw.get("day_of_month")
    if kind == "member_day" and (not isinstance(dom, int) or isinstance(dom, bool) or not 1 <= dom <= 28):
        c.add(f"{path}.day_of_month", "invalid_value", "a member day is a day of the month 1-28")
    return Trigger("date", date_kind=kind, attribute=attribute, day_of_month=dom, audience=audience)


def _steps(c: _Checker, raw: Any, path: str) -> dict[str, Step]:
    if not isinstance(raw, list) or not raw:
        c.add(path, "missing_field", "a journey has a non-empty list of steps")
        return {}
    if len(raw) > MAX_STEPS:
        c.add(path, "too_many_steps", f"a journey has at most {MAX_STEPS} steps")
        return {}
    steps: dict[str, Step] = {}
    for i, item in enumerate(raw):
        sp = f"{path}[{i}]"
        sid = item.get("id") if isinstance(item, dict) else None
        if not isinstance(sid, str) or not STEP_ID.match(sid):
            c.add(f"{sp}.id", "invalid_step_id", "a step id is 1-40 letters, digits, _ or -")
            continue
        if sid in steps:
            c.add(f"{sp}.id", "duplicate_step", f"step id {sid!r} is used twice", sid)
            continue
        if item.get("type") not in STEP_TYPES:
            c.add(f"{sp}.type", "unknown_step_type", f"a step type is one of {', '.join(STEP_TYPES)}", sid)
            continue
        step = _step(c, item, sp)
        if step is not None:
            steps[sid] = step
    return steps


def _text(c: _Checker, raw: dict[str, Any], key: str, path: str, sid: str, limit: int = 200) -> str | None:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        c.add(f"{path}.{key}", "missing_field", f"{key} is required text of at most {limit} characters", sid)
        return None
    return value


COMMON = {"id", "type", "next", "label"}
FIELDS: dict[str, set[str]] = {
    "wait": {"duration"}, "wait_until_time": {"at"}, "wait_for_event": {"event", "timeout", "on_timeout"},
    "branch": {"rule", "yes", "no"}, "split": {"branches"},
    "send_message": {"channel", "content", "category"}, "add_tag": {"tag"}, "remove_tag": {"tag"},
    "create_task": {"title", "body", "due_in", "staff"}, "issue_coupon": {"coupon"},
    "webhook": {"url", "body"}, "set_attribute": {"attribute", "value"}, "enrol": {"journey"}, "exit": set(),
}


def _step(c: _Checker, raw: dict[str, Any], path: str) -> Step | None:
    sid, kind = raw["id"], raw["type"]
    _unknown(c, raw, path, COMMON | FIELDS[kind], sid)
    nxt = raw.get("next")
    if nxt is not None and not isinstance(nxt, str):
        c.add(f"{path}.next", "invalid_value", "next is a step id", sid)
        nxt = None
    base: dict[str, Any] = {"id": sid, "type": kind, "next": nxt}
    if kind == "exit" and nxt:
        c.add(f"{path}.next", "invalid_value", "an exit step ends the journey: it has no next", sid)
    if kind == "wait":
        return Step(**base, duration=_duration(c, raw.get("duration"), f"{path}.duration", sid))
    if kind == "wait_until_time":
        at = raw.get("at")
        if not isinstance(at, str) or not TIME_OF_DAY.match(at):
            c.add(f"{path}.at", "invalid_value", "at is a time of day HH:MM", sid)
            return None
        return Step(**base, at=time(int(at[:2]), int(at[3:])))
    if kind == "wait_for_event":
        return Step(**base, event=_event(c, raw.get("event"), f"{path}.event", sid),
                    duration=_duration(c, raw.get("timeout"), f"{path}.timeout", sid), on_timeout=raw.get("on_timeout"))
    if kind == "branch":
        if not isinstance(raw.get("rule"), dict):
            c.add(f"{path}.rule", "missing_field", "a branch tests a segment rule (docs/segments.md)", sid)
        if nxt:
            c.add(f"{path}.next", "invalid_value", "a branch goes on through yes and no, not next", sid)
        return Step(**{**base, "next": None}, yes=raw.get("yes"), no=raw.get("no"), params={"rule": raw.get("rule")})
    if kind == "split":
        return _split(c, raw, path, base)
    return Step(**base, params=_action(c, raw, path, sid),
                duration=_duration(c, raw["due_in"], f"{path}.due_in", sid) if kind == "create_task" and
                raw.get("due_in") is not None else None)


def _split(c: _Checker, raw: dict[str, Any], path: str, base: dict[str, Any]) -> Step | None:
    sid = base["id"]
    branches = raw.get("branches")
    if not isinstance(branches, list) or len(branches) < 2 or not all(
            isinstance(b, dict) and isinstance(b.get("percent"), int) and isinstance(b.get("next"), str)
            for b in branches):
        c.add(f"{path}.branches", "invalid_split", "a split has ≥ 2 branches of {\"percent\", \"next\"}", sid)
        return None
    if sum(b["percent"] for b in branches) != 100 or any(b["percent"] <= 0 for b in branches):
        c.add(f"{path}.branches", "invalid_split", "split percentages are positive and add up to 100", sid)
        return None
    return Step(**{**base, "next": None}, branches=tuple((b["percent"], b["next"]) for b in branches))


def _action(c: _Checker, raw: dict[str, Any], path: str, sid: str) -> dict[str, Any]:
    kind = raw["type"]
    if kind == "send_message":
        if raw.get("channel") not in CHANNELS:
            c.add(f"{path}.channel", "invalid_value", f"channel is one of {', '.join(CHANNELS)}", sid)
        wrong = _content_problem(raw.get("content"))
        if wrong:
            c.add(f"{path}.content", "missing_field" if not raw.get("content") else "invalid_value", wrong, sid)
        if raw.get("category", "marketing") not in ("marketing", "transactional"):
            c.add(f"{path}.category", "invalid_value", "category is marketing or transactional", sid)
        return {"channel": raw.get("channel"), "content": raw.get("content"),
                "category": raw.get("category", "marketing")}
    if kind in ("add_tag", "remove_tag"):
        return {"tag": _text(c, raw, "tag", path, sid, 64)}
    if kind == "create_task":
        return {"title": _text(c, raw, "title", path, sid), "body": raw.get("body") or "", "staff": raw.get("staff")}
    if kind == "issue_coupon":
        return {"coupon": _text(c, raw, "coupon", path, sid, 64)}
    if kind == "webhook":
        url = raw.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            c.add(f"{path}.url", "invalid_value", "a webhook url is http(s)://…", sid)
        return {"url": url, "body": raw.get("body") or {}}
    if kind == "set_attribute":
        return {"attribute": _text(c, raw, "attribute", path, sid, 64), "value": raw.get("value")}
    if kind == "enrol":
        ref = raw.get("journey")
        if not isinstance(ref, (int, str)) or isinstance(ref, bool) or ref == "":
            c.add(f"{path}.journey", "missing_field", "enrol names a journey (id or name)", sid)
        return {"journey": ref}
    return {}


def _content_problem(raw: Any) -> str | None:
    """Return what is wrong with a message's ``content`` ({text[, subject]}, {content_id[, variant]}, {collection})."""
    shapes = ({"text", "subject"}, {"content_id", "variant"}, {"collection"})
    if not isinstance(raw, dict) or not raw:
        return "content is an object: {text[, subject]}, {content_id[, variant]} or {collection}"
    if not any(set(raw) <= shape and set(raw) & (shape - {"subject", "variant"}) for shape in shapes):
        return "content is one of {text[, subject]}, {content_id[, variant]} and {collection}"
    if "text" in raw and (not isinstance(raw["text"], str) or not raw["text"].strip()):
        return "content.text is a non-empty string"
    if "content_id" in raw and (type(raw["content_id"]) is not int):
        return "content.content_id is an item id (an integer)"
    if "collection" in raw and (type(raw["collection"]) not in (int, str) or raw["collection"] == ""):
        return "content.collection is a collection id or name"
    return None


def _policies(c: _Checker, raw: dict[str, Any], journey: Journey) -> Journey:
    goal = raw.get("goal")
    values: dict[str, Any] = {}
    if goal is not None:
        if not isinstance(goal, dict):
            c.add("$.goal", "invalid_value", "a goal is {\"event\": …, \"within\": duration}")
        else:
            _unknown(c, goal, "$.goal", {"event", "within", "exit"})
            values["goal"] = _event(c, goal.get("event"), "$.goal.event")
            values["goal_window"] = _duration(c, goal.get("within"), "$.goal.within")
            values["exit_on_goal"] = bool(goal.get("exit", True))
    exits = raw.get("exit") or []
    if not isinstance(exits, list):
        c.add("$.exit", "invalid_value", "exit is a list of events that end the journey")
        exits = []
    values["exit_on"] = tuple(e for i, x in enumerate(exits) if (e := _event(c, x, f"$.exit[{i}]")) is not None)
    reentry = raw.get("reentry") or {"policy": "never"}
    if not isinstance(reentry, dict) or reentry.get("policy") not in REENTRY:
        c.add("$.reentry.policy", "invalid_value", f"a re-entry policy is one of {', '.join(REENTRY)}")
    else:
        values["reentry"] = reentry["policy"]
        if reentry["policy"] == "cooldown":
            values["cooldown"] = _duration(c, reentry.get("after"), "$.reentry.after")
    return replace(journey, **values)


def _graph(c: _Checker, raw_steps: list[Any], journey: Journey) -> None:
    index = {s["id"]: i for i, s in enumerate(raw_steps) if isinstance(s, dict) and isinstance(s.get("id"), str)}
    for step in journey.steps.values():
        for key, target in (("next", step.next), ("yes", step.yes), ("no", step.no), ("on_timeout", step.on_timeout)):
            if target is not None and target not in journey.steps:
                c.add(f"$.steps[{index[step.id]}].{key}", "unknown_step", f"step {target!r} does not exist", step.id)
        for i, (_p, target) in enumerate(step.branches):
            if target not in journey.steps:
                c.add(f"$.steps[{index[step.id]}].branches[{i}].next", "unknown_step",
                      f"step {target!r} does not exist", step.id)
        if step.type == "branch" and not (step.yes and step.no):
            c.add(f"$.steps[{index[step.id]}]", "missing_field", "a branch needs both yes and no", step.id)
        if step.type == "wait_for_event" and not step.on_timeout:
            c.add(f"$.steps[{index[step.id]}].on_timeout", "missing_field",
                  "a wait for an event names the step taken on timeout", step.id)
    if c.errors:
        return
    seen = _reachable(journey)
    for sid in journey.steps:
        if sid not in seen:
            c.add(f"$.steps[{index[sid]}]", "unreachable_step", f"no path from the first step reaches {sid!r}", sid)
    loop = _loop_without_wait(journey)
    if loop:
        c.add(f"$.steps[{index[loop[0]]}]", "loop_without_wait",
              f"the steps {' → '.join(loop + [loop[0]])} loop without a wait", loop[0])


def _reachable(journey: Journey) -> set[str]:
    seen, todo = {journey.first}, [journey.first]
    while todo:
        for target in journey.steps[todo.pop()].targets():
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _loop_without_wait(journey: Journey) -> list[str] | None:
    """Return one cycle of non-wait steps, if any (depth-first with colours)."""
    colour: dict[str, int] = {}
    stack: list[str] = []

    def visit(sid: str) -> list[str] | None:
        """Return a cycle reachable from ``sid`` through non-wait steps."""
        colour[sid] = 1
        stack.append(sid)
        for target in journey.steps[sid].targets():
            if journey.steps[target].type in WAITS:
                continue
            if colour.get(target) == 1:
                return stack[stack.index(target):]
            if target not in colour and (found := visit(target)):
                return found
        stack.pop()
        colour[sid] = 2
        return None

    for sid, step in journey.steps.items():
        if sid not in colour and step.type not in WAITS and (found := visit(sid)):
            return found
    return None


def _rules(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return every segment rule of the definition by its JSON path (branches and audiences)."""
    found: dict[str, dict[str, Any]] = {}
    trigger = raw.get("trigger") or {}
    if isinstance(trigger.get("audience"), dict):
        found["$.trigger.audience"] = trigger["audience"]
    for i, step in enumerate(raw.get("steps") or []):
        if isinstance(step, dict) and step.get("type") == "branch" and isinstance(step.get("rule"), dict):
            found[f"$.steps[{i}].rule"] = step["rule"]
    return found
