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

from dataclasses import asdict, dataclass

from segml.config import RetrainConfig

CLASSIFIERS = ("churn", "purchase", "high_clv")


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
) -> list[Gate]:
    """Every gate for the targets the challenger reports, in a stable order."""
    gates: list[Gate] = []
    for target in CLASSIFIERS:
        key = f"{target}_roc_auc"
        if key in challenger or key in champion:
            gates.append(
                _drop_gate(f"{key}_drop", champion.get(key), challenger.get(key), config.max_auc_drop)
            )
        ece = challenger.get(f"{target}_ece")
        if ece is not None:
            gates.append(
                Gate(f"{target}_ece", round(ece, 6), config.max_ece, ece <= config.max_ece,
                     f"challenger calibration error {ece:.4f} (max {config.max_ece})")
            )
    if "spend_spearman" in challenger or "spend_spearman" in champion:
        gates.append(
            _drop_gate("spend_spearman_drop", champion.get("spend_spearman"),
                       challenger.get("spend_spearman"), config.max_spearman_drop)
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
