"""Metric checks of models in production, in the shape of Argo Rollouts' AnalysisTemplate metrics.

A check names a PromQL ``query`` (``{{args.model}}``, ``{{args.version}}``, ``{{args.digest}}``,
``{{args.site}}``, ``{{args.stage}}``, ``{{args.namespace}}`` filled in), a ``successCondition``
and/or ``failureCondition`` over ``result`` (the list of a site's values), how often to
measure (``initialDelay``, ``interval``, ``count``), how many failed or inconclusive
measurements it tolerates (``failureLimit``, ``inconclusiveLimit``) and what a failure does
(``action``). One query serves a whole stage: its series carry the site's name in the label
``siteLabel`` (default ``site``).

Conditions are evaluated by ``simpleeval``, a maintained evaluator of Python-like
expressions that runs no code: names, attribute access to internals, imports, lambdas and
comprehensions are refused. ``&&``, ``||`` and ``!`` of Argo's expr language are accepted too.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass

from simpleeval import EvalWithCompoundTypes, InvalidExpression

from gitops_mlops.config.reader import Reader
from gitops_mlops.core.errors import InputError
from gitops_mlops.core.names import NAME_RE
from gitops_mlops.yamltext.nodes import Node, ScalarNode, line_of

ACTIONS = ("none", "rollback", "retrain")
_DURATION = re.compile(r"^(?:([0-9]{1,12})h)?(?:([0-9]{1,12})m(?!s))?(?:([0-9]{1,12})s)?(?:([0-9]{1,12})ms)?$", re.ASCII)
MAX_DURATION = 24 * 3600  # seconds: a check's interval and initialDelay, watch --interval
MAX_COUNT = 1000  # a check's measurements per run, and its failure and inconclusive limits
_ARG = re.compile(r"\{\{\s*args\.(\w+)\s*\}\}")
ARGS = ("model", "version", "digest", "site", "stage", "namespace")


@dataclass(frozen=True)
class Prometheus:
    address: str  # http(s)://host:port, the API root
    bearer_token_env: str = ""  # the variable that holds a bearer token (never the token)
    ca_file: str = ""


@dataclass(frozen=True)
class Check:
    name: str
    provider: Prometheus
    query: str
    success_condition: str = ""
    failure_condition: str = ""
    interval: float = 0.0  # seconds between measurements
    count: int = 1
    initial_delay: float = 0.0
    failure_limit: int = 0
    inconclusive_limit: int = 0
    action: str = "none"
    site_label: str = "site"


@dataclass(frozen=True)
class Retrain:
    """Where a failed ``retrain`` check sends its trigger, and the variable holding the HMAC secret."""

    url: str
    secret_env: str = ""


def parse_duration(text: str, where: str, maximum: float = MAX_DURATION) -> float:
    """'30s', '5m', '1h30m', '500ms' (or a bare number of seconds), in decimal digits, as seconds;
    more than ``maximum`` is bad input."""
    text = str(text).strip()
    if re.fullmatch(r"[0-9]{1,12}(\.[0-9]{1,12})?", text, re.ASCII):
        seconds = float(text)
    else:
        match = _DURATION.match(text)
        if not text or not match or not any(match.groups()):
            raise InputError(f"{where}: duration {text!r} is not like 30s, 5m, 1h30m or 500ms")
        hours, minutes, whole, millis = (int(g) if g else 0 for g in match.groups())
        seconds = hours * 3600 + minutes * 60 + whole + millis / 1000
    if seconds > maximum:
        raise InputError(f"{where}: duration {text!r} is longer than the {maximum / 3600:g}h limit")
    return seconds


def _duration(r: Reader, key: str, at: str) -> float:
    """A check's duration field, with the line it is on."""
    node = r.values.get(key)
    if node is None:
        return 0.0
    where = f"{r.source}:{line_of(node)}: {at.split(': ', 1)[1]} {key}"
    if not isinstance(node, ScalarNode) or not node.tag.endswith((":str", ":int", ":float")):
        raise InputError(f"{where}: duration must be like 30s, 5m, 1h30m or 500ms")
    return parse_duration(node.value, where)


def render_query(query: str, args: dict[str, str]) -> str:
    """``query`` with each ``{{args.NAME}}`` replaced by its value escaped for where it stands, so no value
    can end a string or a matcher: inside "…" or '…' by PromQL's string escapes (backslash, the quote,
    control characters); inside `…` (raw, no escapes) a value with a backtick is refused; outside a
    string only a plain word ([A-Za-z0-9_:]) is put."""
    out, state, at = [], None, 0
    for match in _ARG.finditer(query):
        text = query[at : match.start()]
        state = _string_state(text, state)
        value = args.get(match.group(1))
        out += [text, match.group(0) if value is None else _escaped(value, state, match.group(0))]
        at = match.end()
    return "".join(out) + query[at:]


def _string_state(text: str, state: str | None) -> str | None:
    """The quote of the string literal (or '#' of the comment) open after ``text``, from ``state`` before it."""
    escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif state is None:
            state = char if char in "\"'`#" else None
        elif state == "#":
            state = None if char == "\n" else state
        elif char == "\\" and state != "`":
            escaped = True
        elif char == state:
            state = None
    if escaped:
        raise InputError("query: a placeholder right after a backslash in a string; write the escape apart from it")
    return state


def _escaped(value: str, state: str | None, placeholder: str) -> str:
    if state in ('"', "'"):
        return "".join(_escape_char(c, state) for c in value)
    if state == "`":
        if "`" in value:
            raise InputError(f"query: the value of {placeholder} holds a backtick and stands in a raw `…` string: {value!r}")
        return value
    if not re.fullmatch(r"[A-Za-z0-9_:]+", value):
        raise InputError(f"query: {placeholder} stands outside a quoted string and its value {value!r} is not a plain word; quote it")
    return value


def _escape_char(char: str, quote: str) -> str:
    if char in ("\\", quote):
        return "\\" + char
    if char in _CHAR_ESCAPES:
        return _CHAR_ESCAPES[char]
    return f"\\x{ord(char):02x}" if ord(char) < 0x20 or ord(char) == 0x7F else char


_CHAR_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def uses_build(query: str) -> bool:
    """Whether the query names the build (``{{args.digest}}`` or ``{{args.version}}``): then sites running
    different builds need a query each."""
    return any(m.group(1) in ("digest", "version") for m in _ARG.finditer(query))


def check_query(query: str, where: str) -> None:
    unknown = sorted({m.group(1) for m in _ARG.finditer(query)} - set(ARGS))
    if unknown:
        raise InputError(f"{where}: query uses {{{{args.{unknown[0]}}}}}; the arguments are {', '.join(ARGS)}")
    try:
        render_query(query, {})  # where each placeholder stands: a dangling escape before one is refused here
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


def _nan(value) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _inf(value) -> bool:
    return isinstance(value, float) and math.isinf(value)


def _nan_or(pick):
    """min or max that is NaN when a value is (Python's own would depend on where the NaN stands)."""

    def choose(values):
        values = list(values)
        return math.nan if any(_nan(v) for v in values) else pick(values)

    return choose


FUNCTIONS = {
    "len": len,
    "min": _nan_or(min),
    "max": _nan_or(max),
    "sum": sum,
    "abs": abs,
    "isNaN": _nan,
    "isnan": _nan,
    "isInf": _inf,
    "all": all,
    "any": any,
    "mean": lambda values: sum(values) / len(values),
}


def _python(expression: str) -> str:
    """Argo's expr operators in their Python spelling: && || and a leading !."""
    text = expression.replace("&&", " and ").replace("||", " or ")
    return re.sub(r"!(?!=)", " not ", text)


def compile_condition(expression: str, where: str) -> str:
    """The condition in the evaluator's spelling; one that does not parse is bad input."""
    text = _python(expression).strip()
    try:
        ast.parse(text, mode="eval")  # one expression, never a statement
        EvalWithCompoundTypes(functions=FUNCTIONS, names={"result": [1.0]}).parse(text)
    except (SyntaxError, InvalidExpression, ValueError) as exc:
        raise InputError(f"{where}: condition {expression!r} does not parse: {exc}") from None
    return text


def evaluate(condition: str, result: list[float]) -> bool:
    """A compiled condition over a site's values; an error in evaluating it (result[0] of nothing) raises ValueError."""
    evaluator = EvalWithCompoundTypes(functions=FUNCTIONS, names={"result": list(result)})
    try:
        return bool(evaluator.eval(condition))
    except Exception as exc:  # simpleeval raises many kinds; every one means the condition could not be decided
        raise ValueError(f"{type(exc).__name__}: {exc}") from None


# ------------------------------------------------------------------ reading them from the config


_CHECK_KEYS = {
    "name", "provider", "query", "successCondition", "failureCondition", "interval", "count",
    "initialDelay", "failureLimit", "inconclusiveLimit", "action", "siteLabel",
}  # fmt: skip


def read_checks(source: str, owner: Reader, where: str) -> tuple[Check, ...]:
    """The ``checks:`` of a stage or a model, each in the shape of an AnalysisTemplate metric."""
    found: list[Check] = []
    for node in owner.list("checks"):
        r = Reader(source, node, f"{where} check", _CHECK_KEYS)
        name = r.str("name", pattern=NAME_RE)
        at = f"{source}:{line_of(node)}: check {name!r}"
        if any(c.name == name for c in found):
            raise InputError(f"{at}: defined twice in {where}")
        provider = Reader(source, r.values["provider"], f"check {name!r} provider", {"prometheus"}) if "provider" in r.values else None
        if provider is None or "prometheus" not in provider.values:
            raise InputError(f"{at}: needs provider.prometheus.address")
        p = Reader(source, provider.values["prometheus"], f"check {name!r} provider.prometheus", {"address", "bearerTokenEnv", "caFile"})
        address = p.url("address")
        success, failure = r.str("successCondition", default=""), r.str("failureCondition", default="")
        if not success and not failure:
            raise InputError(f"{at}: needs a successCondition or a failureCondition")
        query = r.str("query")
        check_query(query, at)
        action = r.str("action", default="none")
        if action not in ACTIONS:
            raise r.error(r.values["action"], f"check {name!r}: action {action!r} is not one of {', '.join(ACTIONS)}")
        found.append(
            Check(
                name=name,
                provider=Prometheus(address.rstrip("/"), p.str("bearerTokenEnv", default=""), p.str("caFile", default="")),
                query=query,
                success_condition=compile_condition(success, f"{at} successCondition") if success else "",
                failure_condition=compile_condition(failure, f"{at} failureCondition") if failure else "",
                interval=_duration(r, "interval", at),
                count=r.int("count", 1, minimum=1, maximum=MAX_COUNT),
                initial_delay=_duration(r, "initialDelay", at),
                failure_limit=r.int("failureLimit", 0, maximum=MAX_COUNT),
                inconclusive_limit=r.int("inconclusiveLimit", 0, maximum=MAX_COUNT),
                action=action,
                site_label=r.str("siteLabel", default="site"),
            )
        )
    return tuple(found)


def read_retrain(source: str, node: Node | None) -> Retrain | None:
    if node is None:
        return None
    r = Reader(source, node, "retrain", {"url", "secretEnv"})
    return Retrain(url=r.url("url"), secret_env=r.str("secretEnv", default=""))
