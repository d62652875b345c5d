"""Promotion gates: does a challenger deserve to replace the champion?

Each gate compares challenger and champion metrics measured on the *same* latest out-of-time window
and yields a :class:`Gate` with its value, threshold and verdict, so the decision can be logged and
explained gate by gate.

Example
-------
>>> from segml.config import RetrainConfig
>>> gates = evaluate_gates({"churn_roc_auc": 0.80}, {"churn_roc_auc": 0.79}, RetrainConfig())
>>> [(g.name, g.passed) for g in gates]
[('churn_roc_auc_drop', True), ('readiness', True)]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from segml.config import RetrainConfig
from segml.targets import TARGETS, Target


@dataclass(frozen=True)
class Gate:
    name: str
    value: float | None
    threshold: float
    passed: bool
    reason: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _drop_gate(name: str, champion: float | None, challenger: float | None, tolerance: float) -> Gate:
    if challenger is None:
        return Gate(name, None, tolerance, False, "challenger has no value for this metric")
    if champion is None:
        return Gate(name, 0.0, tolerance, True, "champion has no value: nothing to compare")
    drop = champion - challenger
    passed = drop <= tolerance + 1e-9  # 0.80 - 0.79 is 0.0100000001 in floating point
    verb = "within" if passed else "exceeds"
    return Gate(
        name, round(drop, 6), tolerance, passed,
        f"champion {champion:.4f} -> challenger {challenger:.4f}: drop {drop:+.4f} {verb} {tolerance}",
    )


def evaluate_gates(
    champion: dict[str, float],
    challenger: dict[str, float],
    config: RetrainConfig,
    *,
    segment_stability: float | None = None,
    readiness_passed: bool = True,
    champion_targets: list[str] | None = None,
    challenger_targets: list[str] | None = None,
    skipped: dict[str, str] | None = None,
    targets: Mapping[str, Target] | None = None,
) -> list[Gate]:
    """Every gate, target by target in the order of ``targets`` (the targets either side may
    predict, by name: the built-in ones, the champion's and the challenger's declared ones;
    None: the built-in ones, :data:`segml.targets.TARGETS`).

    Per target both sides predict: its headline metric may drop at most the target's tolerance
    (``max_auc_drop``, ``max_spearman_drop``) and a classifier's calibration error stays under
    ``max_ece``. A target only one side predicts is a gate of its own (``<target>_present``):
    the challenger lacking one the champion serves fails it, naming why (``skipped``: the plan's
    message, e.g. a horizon longer than the history); a new target passes. Without
    ``champion_targets`` / ``challenger_targets`` the targets are read off the metric names.

    Example
    -------
    >>> gates = evaluate_gates({"churn_roc_auc": 0.8, "spend_spearman": 0.7},
    ...                        {"churn_roc_auc": 0.81}, RetrainConfig(),
    ...                        champion_targets=["churn", "spend"], challenger_targets=["churn"],
    ...                        skipped={"spend": "target spend skipped: ..."})
    >>> [(g.name, g.passed) for g in gates]
    [('churn_roc_auc_drop', True), ('spend_present', False), ('readiness', True)]
    """
    gates: list[Gate] = []
    for spec in (TARGETS if targets is None else targets).values():
        key = f"{spec.name}_{spec.headline_metric}"
        has_champion = (spec.name in champion_targets if champion_targets is not None
                        else key in champion)
        has_challenger = (spec.name in challenger_targets if challenger_targets is not None
                          else key in challenger)
        if has_champion and not has_challenger:
            why = (skipped or {}).get(spec.name) or f"'{spec.name}' is not in models.targets"
            gates.append(Gate(f"{spec.name}_present", 0.0, 1.0, False,
                              f"the champion serves {spec.output_column} but the challenger has "
                              f"no {spec.name} model ({why})"))
            continue
        if not has_challenger:
            continue
        if not has_champion and champion_targets is not None:
            gates.append(Gate(f"{spec.name}_present", 1.0, 1.0, True,
                              f"new target: the champion has no {spec.name} model to compare"))
        else:
            tolerance = float(getattr(config, spec.gate_tolerance))
            gates.append(_drop_gate(f"{key}_drop", champion.get(key), challenger.get(key),
                                    tolerance))
        ece = challenger.get(f"{spec.name}_ece")
        if spec.is_classifier and ece is not None:
            gates.append(
                Gate(f"{spec.name}_ece", round(ece, 6), config.max_ece, ece <= config.max_ece,
                     f"challenger calibration error {ece:.4f} (max {config.max_ece})")
            )
    if segment_stability is not None:
        floor = config.min_segment_stability
        gates.append(
            Gate("segment_stability", round(segment_stability, 6), floor, segment_stability >= floor,
                 f"{segment_stability:.1%} of customers keep their leaf id (floor {floor:.0%})")
        )
    gates.append(
        Gate("readiness", 1.0 if readiness_passed else 0.0, 1.0, readiness_passed,
             "data readiness check passed" if readiness_passed else "data readiness check failed")
    )
    return gates


def promotion_decision(gates: list[Gate]) -> tuple[bool, list[str]]:
    """Promote only when every gate holds; the reasons list the failed gates."""
    failed = [f"{g.name}: {g.reason}" for g in gates if not g.passed]
    return not failed, failed
