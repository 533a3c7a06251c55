"""The rules file: health model, trigger catalogue, playbooks and per-segment overrides.

`load_rules` returns a validated `Rules` or raises `RulesError` with one human message per
problem (`<file>: <field.path>: <problem>; valid: <what would be valid>`), so a bad file stops
a worker at start with something an operator can act on. `check_rules_file` returns the same
messages without raising (the `check-config` command).
"""

from __future__ import annotations

import copy
import math
import re
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from config.metrics_catalogue import METRICS

DEFAULT_RULES_PATH = Path(__file__).with_name("rules.yaml")

SEGMENTS = ("enterprise", "mid_market", "smb")
PRIORITIES = ("low", "medium", "high", "critical")
PRIORITY_RANK = {name: rank for rank, name in enumerate(PRIORITIES)}
COMPONENTS = ("usage", "adoption", "engagement", "satisfaction", "support")
OPERATORS = (">=", "<=", "==", "!=", ">", "<")
CONDITION_KIND = "condition"

Priority = Literal["low", "medium", "high", "critical"]
SegmentName = Literal["enterprise", "mid_market", "smb"]

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
DURATION_HINT = 'a duration like "30m", "8h", "24h", "7d" or "2w"'


class RulesError(Exception):
    """The rules file is invalid; `errors` holds one human message per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def parse_duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    match = _DURATION_RE.match(value) if isinstance(value, str) else None
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(f"{value!r} is not a positive duration; valid: {DURATION_HINT}")
    return timedelta(seconds=float(match.group(1)) * _DURATION_UNITS[match.group(2)])


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Ratio = Annotated[float, Field(ge=0, le=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- conditions of user-defined playbooks ------------------------------------------------

_CLAUSE_RE = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d+)?)\s*$")
_AND_RE = re.compile(r"\s+and\s+", re.IGNORECASE)
_OP_RE = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*(\S+)\s*(.*)$")


class Clause(_Strict):
    metric: str
    op: str
    value: float


def parse_condition(text: str) -> tuple[list[Clause], list[str]]:
    """Parse `metric OP number [and ...]`; returns the clauses and the problems found."""
    clauses: list[Clause] = []
    problems: list[str] = []
    if not text or not text.strip():
        return [], ["empty condition; valid: `metric OP number` clauses joined by `and`"]
    for part in _AND_RE.split(text.strip()):
        match = _CLAUSE_RE.match(part)
        if match is None:
            loose = _OP_RE.match(part)
            if loose and loose.group(2) not in OPERATORS and loose.group(1) in METRICS:
                problems.append(
                    f"bad operator {loose.group(2)!r} in {part.strip()!r}; "
                    f"valid: one of {', '.join(OPERATORS)}"
                )
            else:
                problems.append(
                    f"cannot parse clause {part.strip()!r}; valid: `metric OP number` "
                    f"with OP one of {', '.join(OPERATORS)}, clauses joined by `and`"
                )
            continue
        metric, op, number = match.groups()
        if metric not in METRICS:
            problems.append(
                f"unknown metric {metric!r}; valid: one of {', '.join(sorted(METRICS))}"
            )
            continue
        clauses.append(Clause(metric=metric, op=op, value=float(number)))
    return clauses, problems


# --- the model ---------------------------------------------------------------------------


class EvaluationRules(_Strict):
    interval: Duration = timedelta(hours=1)
    catchup_full_boundaries: int = Field(default=48, ge=1, le=10_000)
    catchup_max_days: int = Field(default=400, ge=1, le=10_000)


class DedupRules(_Strict):
    max_event_ids: int = Field(default=2000, ge=1, le=1_000_000)


class RetentionRules(_Strict):
    usage_days: int = Field(default=62, ge=31, le=400)
    user_days: int = Field(default=31, ge=31, le=400)
    user_last_active_days: int = Field(default=62, ge=15, le=400)
    nps_days: int = Field(default=180, ge=1, le=1000)
    escalation_days: int = Field(default=30, ge=1, le=400)


class Points(_Strict):
    good: int = 5
    at_risk: int = 3
    critical: int = 1


class RatioBands(_Strict):
    good_at_least: Ratio
    at_risk_at_least: Ratio
    window: Duration = timedelta(days=30)


class EngagementBands(_Strict):
    good_at_most_days: int = Field(default=7, ge=0)
    at_risk_at_most_days: int = Field(default=14, ge=0)


class SatisfactionBands(_Strict):
    good_at_least: int = Field(default=8, ge=0, le=10)
    at_risk_at_least: int = Field(default=6, ge=0, le=10)
    window: Duration = timedelta(days=180)


class SupportBands(_Strict):
    window: Duration = timedelta(days=30)
    good_at_most_open: int = Field(default=2, ge=0)
    at_risk_at_most_open: int = Field(default=5, ge=0)
    escalation_is_critical: bool = True


class Bands(_Strict):
    champion: float = 85
    healthy: float = 70
    at_risk: float = 50


class HealthRules(_Strict):
    core_features: list[str] = Field(
        default_factory=lambda: [
            "dashboards",
            "reports",
            "alerts",
            "integrations",
            "automation",
            "exports",
        ],
        min_length=1,
    )
    weights: dict[Literal["usage", "adoption", "engagement", "satisfaction", "support"], float] = (
        Field(
            default_factory=lambda: {
                "usage": 0.30,
                "adoption": 0.20,
                "engagement": 0.20,
                "satisfaction": 0.15,
                "support": 0.15,
            }
        )
    )
    points: Points = Points()
    usage: RatioBands = RatioBands(good_at_least=0.5, at_risk_at_least=0.25)
    adoption: RatioBands = RatioBands(good_at_least=0.7, at_risk_at_least=0.4)
    engagement: EngagementBands = EngagementBands()
    satisfaction: SatisfactionBands = SatisfactionBands()
    support: SupportBands = SupportBands()
    bands: Bands = Bands()
    # Whole completed days of observed history (since the account's first event) before the
    # usage and adoption components count; until then they are "no data" (weight shared).
    warmup_days: int = Field(default=7, ge=0, le=365)

    @field_validator("weights")
    @classmethod
    def _weights_sum_to_one(cls, weights: dict[str, float]) -> dict[str, float]:
        missing = [c for c in COMPONENTS if c not in weights]
        if missing:
            raise ValueError(
                f"missing component(s) {', '.join(missing)}; valid: weights for all of "
                f"{', '.join(COMPONENTS)} (0 disables one)"
            )
        total = sum(weights.values())
        if any(w < 0 for w in weights.values()) or not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(
                f"weights sum to {total:g}; valid: non-negative weights summing to 1 "
                "(e.g. usage 0.30, adoption 0.20, engagement 0.20, satisfaction 0.15, "
                "support 0.15)"
            )
        return weights


# Kind-specific thresholds. Validated after the main model so the message can name the kind.
class NpsDetractorParams(_Strict):
    max_score: int = Field(default=6, ge=0, le=10)
    resolve_min_score: int = Field(default=7, ge=0, le=10)
    resolve_after: Duration = timedelta(days=30)


class UsageDropParams(_Strict):
    drop_at_least: Ratio = 0.30
    min_prev_active_users: int = Field(default=5, ge=0)
    resolve_within: Ratio = 0.15


class SupportEscalationParams(_Strict):
    on_escalated: bool = True
    on_urgent_opened: bool = True


class HealthRecoveryParams(_Strict):
    resolve_at_least: float = Field(default=70, ge=20, le=100)
    resolve_weeks: float = Field(default=2, ge=0, le=52)


class ExpansionParams(_Strict):
    min_seat_ratio: float = Field(default=0.9, ge=0)
    min_health: float = Field(default=70, ge=20, le=100)
    resolve_below_ratio: float = Field(default=0.8, ge=0)
    resolve_below_health: float = Field(default=70, ge=20, le=100)


class RenewalParams(_Strict):
    milestones_days: list[int] = Field(default_factory=lambda: [90, 60, 30], min_length=1)
    milestone_priority: dict[int, Priority] = Field(default_factory=lambda: {30: "high"})


class ChampionSilentParams(_Strict):
    max_inactive_days: int = Field(default=10, ge=0)


class LowAdoptionParams(_Strict):
    after_contract_days: int = Field(default=60, ge=0)
    # Whole completed days observed since the account's first event: a 30-day adoption window
    # with a few days of history in it understates adoption.
    min_observed_days: int = Field(default=14, ge=0, le=365)
    below_ratio: Ratio = 0.30
    resolve_at_least: Ratio = 0.40


class ConditionParams(_Strict):
    pass


KIND_PARAMS: dict[str, type[_Strict]] = {
    "nps_detractor": NpsDetractorParams,
    "usage_drop": UsageDropParams,
    "support_escalation": SupportEscalationParams,
    "health_at_risk": HealthRecoveryParams,
    "health_critical": HealthRecoveryParams,
    "expansion_signal": ExpansionParams,
    "renewal_approaching": RenewalParams,
    "champion_silent": ChampionSilentParams,
    "low_adoption": LowAdoptionParams,
}
BUILTIN_KINDS = tuple(KIND_PARAMS)


class PlaybookRule(_Strict):
    kind: str | None = None
    enabled: bool = True
    title: str | None = None
    priority: Priority
    owner_role: str = Field(min_length=1)
    sla: Duration
    cooldown: Duration = timedelta(days=7)
    steps: list[str] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    condition: str | None = None
    resolve_when: str | None = None
    segments: list[SegmentName] | None = None


class SegmentOverride(_Strict):
    # Partial documents merged over the defaults, then validated as a whole.
    health: dict[str, Any] = Field(default_factory=dict)
    playbooks: dict[str, dict[str, Any]] = Field(default_factory=dict)


class Rules(_Strict):
    version: Literal[1] = 1
    evaluation: EvaluationRules = EvaluationRules()
    dedup: DedupRules = DedupRules()
    retention: RetentionRules = RetentionRules()
    health: HealthRules = HealthRules()
    playbooks: dict[str, PlaybookRule]
    segments: dict[SegmentName, SegmentOverride] = Field(default_factory=dict)

    def for_segment(self, segment: str | None) -> Rules:
        """The rules with the segment's overrides applied (validated when the file loaded)."""
        if segment is None:
            return self
        return self.resolved_segments.get(segment, self)

    @cached_property
    def resolved_segments(self) -> dict[str, Rules]:
        resolved, errors = _resolve_segments(self, "<rules>")
        if errors:
            raise RulesError(errors)
        return resolved

    @cached_property
    def interval_seconds(self) -> float:
        return self.evaluation.interval.total_seconds()

    @cached_property
    def compiled(self) -> CompiledRules:
        return _compile(self)


class CompiledPlaybook:
    """A playbook ready for the engine: its kind, typed params and parsed conditions."""

    __slots__ = ("id", "rule", "kind", "params", "condition", "resolve_when", "order")

    def __init__(self, pid: str, rule: PlaybookRule, order: int) -> None:
        self.id = pid
        self.rule = rule
        self.kind = playbook_kind(pid, rule) or CONDITION_KIND
        self.order = order
        params_model = KIND_PARAMS.get(self.kind, ConditionParams)
        self.params: Any = params_model.model_validate(rule.params)
        self.condition = parse_condition(rule.condition)[0] if rule.condition else []
        self.resolve_when = parse_condition(rule.resolve_when)[0] if rule.resolve_when else None


class CompiledRules:
    __slots__ = ("playbooks", "by_kind")

    def __init__(self, playbooks: list[CompiledPlaybook]) -> None:
        self.playbooks = playbooks
        self.by_kind: dict[str, list[CompiledPlaybook]] = {}
        for pb in playbooks:
            self.by_kind.setdefault(pb.kind, []).append(pb)


def playbook_kind(pid: str, rule: PlaybookRule) -> str | None:
    if rule.kind is not None:
        return rule.kind
    if rule.condition is not None:
        return CONDITION_KIND
    return pid if pid in KIND_PARAMS else None


def _compile(rules: Rules) -> CompiledRules:
    # Built-in kinds run in catalogue order (health_at_risk before health_critical, so an
    # at-risk task escalates before a critical one could open), user-defined ones after.
    kind_order = {kind: i for i, kind in enumerate(BUILTIN_KINDS)}
    items = [
        CompiledPlaybook(pid, rule, i)
        for i, (pid, rule) in enumerate(rules.playbooks.items())
        if rule.enabled
    ]
    items.sort(key=lambda pb: (kind_order.get(pb.kind, len(kind_order)), pb.order))
    return CompiledRules(items)


# --- validation ----------------------------------------------------------------------------


def _fmt(source: str, path: str, problem: str, valid: str | None = None) -> str:
    if valid is None or "; valid:" in problem:
        return f"{source}: {path}: {problem}"
    return f"{source}: {path}: {problem}; valid: {valid}"


def _loc_path(loc: tuple[Any, ...]) -> str:
    # pydantic inserts validator names (e.g. "function-before[...]") into locations.
    parts = [str(p) for p in loc if not (isinstance(p, str) and "[" in p and "]" in p)]
    return ".".join(parts) or "(top level)"


def _unwrap(annotation: Any) -> Any:
    while get_origin(annotation) in (Annotated, Union) or str(get_origin(annotation)) in (
        "types.UnionType",
        "<class 'types.UnionType'>",
    ):
        args = [a for a in get_args(annotation) if a is not type(None)]
        annotation = args[0]
    return annotation


def _model_at(loc: tuple[Any, ...], root: type[BaseModel]) -> type[BaseModel] | None:
    """The model class that owns the field at `loc` (used to list the valid field names)."""
    current: Any = root
    parts = list(loc)
    while parts:
        if isinstance(current, type) and issubclass(current, BaseModel):
            name = parts.pop(0)
            field = current.model_fields.get(str(name))
            if field is None:
                return current if not parts else None
            current = _unwrap(field.annotation)
        elif get_origin(current) is dict:
            parts.pop(0)
            current = _unwrap(get_args(current)[1])
        elif get_origin(current) is list:
            parts.pop(0)
            current = _unwrap(get_args(current)[0])
        else:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _pydantic_messages(
    err: ValidationError, source: str, root: type[BaseModel], prefix: str = ""
) -> list[str]:
    out = []
    for e in err.errors(include_url=False):
        loc = tuple(e["loc"])
        path = prefix + _loc_path(loc)
        msg = str(e["msg"]).removeprefix("Value error, ")
        valid: str | None = None
        if e["type"] == "extra_forbidden":
            owner = _model_at(loc[:-1], root) if len(loc) > 1 else root
            msg = f"unknown field {loc[-1]!r}"
            if owner is not None:
                valid = "one of " + ", ".join(owner.model_fields)
        elif e["type"] == "missing":
            msg = "required field is missing"
            valid = "add it"
        elif e["type"] == "literal_error":
            msg = f"{e.get('input')!r} is not allowed"
            valid = "one of " + str(e.get("ctx", {}).get("expected", ""))
        else:
            valid = "a value of the right type and range"
        out.append(_fmt(source, path, msg, valid))
    return out


def _semantic_errors(rules: Rules, source: str, prefix: str = "") -> list[str]:
    errors: list[str] = []
    for name in ("usage", "adoption"):
        bands = getattr(rules.health, name)
        if bands.at_risk_at_least > bands.good_at_least:
            errors.append(
                _fmt(
                    source,
                    f"{prefix}health.{name}",
                    "at_risk_at_least is above good_at_least",
                    "at_risk_at_least <= good_at_least",
                )
            )
    b = rules.health.bands
    if not (20 <= b.at_risk <= b.healthy <= b.champion <= 100):
        errors.append(
            _fmt(
                source,
                f"{prefix}health.bands",
                "band edges out of order",
                "20 <= at_risk <= healthy <= champion <= 100",
            )
        )
    for pid, rule in rules.playbooks.items():
        path = f"{prefix}playbooks.{pid}"
        kind = playbook_kind(pid, rule)
        if kind is None or (kind not in KIND_PARAMS and kind != CONDITION_KIND):
            errors.append(
                _fmt(
                    source,
                    f"{path}.kind" if rule.kind else path,
                    f"unknown playbook kind {kind or pid!r}",
                    f"one of {', '.join(BUILTIN_KINDS)}, or a user-defined playbook with "
                    "a `condition`",
                )
            )
            continue
        if kind == CONDITION_KIND:
            if not rule.condition:
                errors.append(
                    _fmt(source, f"{path}.condition", "required for a condition playbook", None)
                )
            for fname in ("condition", "resolve_when"):
                text = getattr(rule, fname)
                if text is not None:
                    errors.extend(
                        _fmt(source, f"{path}.{fname}", p) for p in parse_condition(text)[1]
                    )
            if rule.params:
                errors.append(
                    _fmt(
                        source,
                        f"{path}.params",
                        "a condition playbook takes no params",
                        "put thresholds in `condition`",
                    )
                )
        else:
            for fname in ("condition", "resolve_when"):
                if getattr(rule, fname) is not None:
                    errors.append(
                        _fmt(
                            source,
                            f"{path}.{fname}",
                            f"not allowed on built-in kind {kind!r}",
                            "tune `params` instead, or define a playbook without `kind`",
                        )
                    )
            try:
                KIND_PARAMS[kind].model_validate(rule.params)
            except ValidationError as err:
                errors.extend(
                    _pydantic_messages(err, source, KIND_PARAMS[kind], prefix=f"{path}.params.")
                )
    return errors


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = _merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(override)


def _resolve_segments(rules: Rules, source: str) -> tuple[dict[str, Rules], list[str]]:
    base = rules.model_dump(mode="python", exclude={"segments"})
    resolved: dict[str, Rules] = {}
    errors: list[str] = []
    for seg, override in rules.segments.items():
        prefix = f"segments.{seg}."
        unknown = [pid for pid in override.playbooks if pid not in rules.playbooks]
        for pid in unknown:
            errors.append(
                _fmt(
                    source,
                    f"{prefix}playbooks.{pid}",
                    f"overrides unknown playbook {pid!r}",
                    "one of " + ", ".join(rules.playbooks),
                )
            )
        if unknown:
            continue
        doc = _merge(base, {"health": override.health, "playbooks": override.playbooks})
        try:
            merged = Rules.model_validate(doc)
        except ValidationError as err:
            errors.extend(_pydantic_messages(err, source, Rules, prefix=prefix))
            continue
        seg_errors = _semantic_errors(merged, source, prefix=prefix)
        errors.extend(seg_errors)
        if not seg_errors:
            resolved[seg] = merged
    return resolved, errors


def build_rules(data: Any, source: str = "<rules>") -> Rules:
    """Validate a rules document (already parsed YAML); raises RulesError."""
    rules, errors = _build(data, source)
    if errors or rules is None:
        raise RulesError(errors)
    return rules


def _unprefixed(message: str, source: str) -> str:
    return re.sub(rf"^{re.escape(source)}: segments\.[a-z_]+\.", f"{source}: ", message)


def _build(data: Any, source: str) -> tuple[Rules | None, list[str]]:
    if not isinstance(data, dict):
        return None, [_fmt(source, "(top level)", "not a mapping", "a YAML mapping of sections")]
    try:
        rules = Rules.model_validate(data)
    except ValidationError as err:
        return None, _pydantic_messages(err, source, Rules)
    errors = _semantic_errors(rules, source)
    resolved, seg_errors = _resolve_segments(rules, source)
    # A base problem shows up again in every merged segment; report it once.
    errors += [e for e in seg_errors if _unprefixed(e, source) not in errors]
    if errors:
        return None, errors
    rules.__dict__["resolved_segments"] = resolved  # prime the cached_property
    return rules, []


def _read(path: Path) -> tuple[Any, list[str]]:
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        return None, [_fmt(source, "(file)", f"cannot read: {err.strerror or err}")]
    try:
        return yaml.safe_load(text), []
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        problem = getattr(err, "problem", None) or str(err)
        return None, [_fmt(source, where, f"invalid YAML: {problem}", "well-formed YAML")]


def load_rules(path: str | Path | None = None) -> Rules:
    """Load and validate the rules file (None: the bundled config/rules.yaml)."""
    p = Path(path) if path is not None else DEFAULT_RULES_PATH
    data, errors = _read(p)
    if errors:
        raise RulesError(errors)
    return build_rules(data, str(p))


def check_rules_file(path: str | Path | None = None) -> list[str]:
    """Every problem in the rules file as a human message; empty when the file is valid.

    None checks the bundled config/rules.yaml."""
    p = Path(path) if path is not None else DEFAULT_RULES_PATH
    data, errors = _read(p)
    if errors:
        return errors
    return _build(data, str(p))[1]


def priority_rank(priority: str) -> int:
    return PRIORITY_RANK[priority]
