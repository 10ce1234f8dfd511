"""One self-contained HTML page per run (and one comparing two runs), from `summarize` output."""
import json
import math
from typing import Any, Dict, List, Optional

import jinja2

from components.report import plots
from trainer import features


_environment = jinja2.Environment(
    loader=jinja2.PackageLoader("components.report", "templates"),
    autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)


def number(value: Optional[float], digits: int = 4) -> str:
    """The one way measurements appear on the page; tests read them back the same way."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def count(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{int(value):,}"


def metric(value: Optional[float], name: str) -> str:
    return count(value) if name == "example_count" else number(value)


def percent(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


_environment.filters["number"] = number
_environment.filters["percent"] = percent
_environment.filters["count"] = count
_environment.filters["metric"] = metric
_environment.filters["pretty_json"] = lambda value: json.dumps(value, indent=2, sort_keys=True)


def _figures(summary: Dict[str, Any]) -> Dict[str, str]:
    runs = [("", summary)]
    figures = {}
    if summary["data"]:
        figures["length_distribution"] = plots.length_distribution(summary["data"])
    if summary["training"]:
        figures["training_curves"] = plots.training_curves(runs)
    evaluation = summary["evaluation"]
    if evaluation:
        figures["slice_accuracy"] = plots.slice_accuracy(runs, features.EVAL_SLICE_KEYS)
        figures["roc_and_pr"] = plots.roc_and_pr_curves(runs)
        figures["calibration"] = plots.calibration(runs)
        if evaluation["confusion_matrix"]:
            figures["confusion_matrix"] = plots.confusion_matrix(evaluation["confusion_matrix"])
    return figures


def render_report(summary: Dict[str, Any]) -> str:
    return _environment.get_template("report.html.j2").render(
        s=summary, figures=_figures(summary))


def _flatten(values: Any, prefix: str = "") -> Dict[str, Any]:
    if not isinstance(values, dict):
        return {prefix: values}
    flat: Dict[str, Any] = {}
    for key, value in values.items():
        flat.update(_flatten(value, f"{prefix}.{key}" if prefix else key))
    return flat


def _config_differences(a: Dict[str, Any], b: Dict[str, Any]) -> List[Dict[str, Any]]:
    flat_a, flat_b = _flatten(a["run"]["config"] or {}), _flatten(b["run"]["config"] or {})
    return [{"setting": key, "a": flat_a.get(key), "b": flat_b.get(key)}
            for key in sorted(set(flat_a) | set(flat_b)) if flat_a.get(key) != flat_b.get(key)]


def _slice_rows(a: Dict[str, Any], b: Dict[str, Any]) -> List[Dict[str, Any]]:
    def accuracy_by_slice(summary):
        return {(s["feature"], s["value"]): s["metrics"]["binary_accuracy"]
                for s in summary["evaluation"]["slices"]}
    accuracy_a, accuracy_b = accuracy_by_slice(a), accuracy_by_slice(b)
    keys = [(s["feature"], s["value"]) for s in a["evaluation"]["slices"]]
    keys += [k for k in accuracy_b if k not in accuracy_a]
    return [{"feature": f, "value": v, "a": accuracy_a.get((f, v)), "b": accuracy_b.get((f, v))}
            for f, v in keys]


def render_comparison(a: Dict[str, Any], b: Dict[str, Any]) -> str:
    """Two runs side by side: settings that differ, metrics with deltas, overlaid curves."""
    runs = [(a["run"]["id"], a), (b["run"]["id"], b)]
    figures = {}
    if a["training"] and b["training"]:
        figures["training_curves"] = plots.training_curves(runs)
    evaluated = a["evaluation"] and b["evaluation"]
    if evaluated:
        figures["slice_accuracy"] = plots.slice_accuracy(runs, features.EVAL_SLICE_KEYS)
        figures["roc_and_pr"] = plots.roc_and_pr_curves(runs)
        figures["calibration"] = plots.calibration(runs)
    return _environment.get_template("compare.html.j2").render(
        a=a, b=b, figures=figures, config_differences=_config_differences(a, b),
        slice_rows=_slice_rows(a, b) if evaluated else [])
