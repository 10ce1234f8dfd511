"""Continuous-training table (docs/BENCHMARKS.md, "Continuous training"): one row per span that
`imdb-lstm watch` processed into OUTPUT_DIR, read from its ML Metadata, the runs' report
summaries and watch's log; with a second OUTPUT_DIR (the same spans, e.g. --warm-start false),
its columns beside.

    python bench/continuous_training.py /tmp/ct/warm [/tmp/ct/scratch]
"""
import glob
import json
import os
import re
import sys
from typing import Dict, List, Optional

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, PROJECT_ROOT)

from pipeline import outcome  # noqa: E402

PIPELINE = "imdb-lstm"
_SPAN_LINE = re.compile(r"span (\d+): .*, run (\d+) s(?:, span to serving (\d+) s)?$")


def logged_seconds(output_dir: str) -> Dict[int, Dict[str, Optional[int]]]:
    """{span: {"run": s, "to_serving": s or None}} from watch's one line per span."""
    found = {}
    for path in sorted(glob.glob(os.path.join(output_dir, "logs", PIPELINE, "*.log"))):
        with open(path) as f:
            for line in f:
                match = _SPAN_LINE.search(line.rstrip())
                if match:
                    found[int(match[1])] = {"run": int(match[2]),
                                            "to_serving": match[3] and int(match[3])}
    return found


def _summary(run: outcome.RunOutcome) -> Optional[dict]:
    if not run.report_path:
        return None
    with open(os.path.join(os.path.dirname(run.report_path), "summary.json")) as f:
        return json.load(f)


def _drift(summary: Optional[dict], run: outcome.RunOutcome) -> str:
    if summary is None:
        return "**blocked**" if run.component_states.get("DriftGate") == "FAILED" else "?"
    drift = summary["drift"]
    if not drift or not drift["compared"]:
        return "- (first span)"
    over = [f"{f['feature']} {f['distance']:.3f}" for f in drift["features"] if f["over"]]
    return "**blocked**: " + ", ".join(over) if over else "passed"


def _result(run: outcome.RunOutcome, summary: Optional[dict], seconds: dict) -> str:
    """'epochs, Trainer s, run s, test accuracy, span held-out accuracy (serving), verdict'."""
    if summary is None or not summary["training"]:
        return f"run {seconds.get('run', '?')} s, nothing trained or pushed"
    training = summary["training"]
    span_check = run.span_accuracies or "-"
    verdict = (f"pushed {run.pushed_version}" if run.pushed and run.new_version
               else "refused: " + "; ".join(run.refused_by) if run.refused_by else "not pushed")
    return (f"{training['epochs']}, {sum(training['epoch_seconds'] or []):.0f}, "
            f"{seconds.get('run', '?')}, {run.metrics['binary_accuracy']:.4f}, {span_check}, "
            f"{verdict}")


def rows(output_dir: str) -> Dict[int, dict]:
    seconds = logged_seconds(output_dir)
    runs = [r for r in outcome.runs(os.path.join(output_dir, "metadata", PIPELINE, "metadata.db"),
                                    PIPELINE) if r.finished and r.span]
    table = {}
    for run in runs:
        summary = _summary(run)
        reviews = summary["data"]["splits"]["span"]["examples"] if summary else None
        table[run.span] = {
            "span": f"{run.span} ({reviews:,})" if reviews else str(run.span),
            "window": "-".join(map(str, sorted({run.window_spans[0], run.window_spans[-1]})))
                      if run.window_spans else "?",
            "drift": _drift(summary, run),
            "result": _result(run, summary, seconds.get(run.span, {})),
            "to_serving": seconds.get(run.span, {}).get("to_serving"),
        }
    return table


def markdown(columns: List[Dict[int, dict]]) -> str:
    first = columns[0]
    header = ["span (reviews)", "window", "drift verdict"] + [
        "epochs, Trainer s, run s, test accuracy, span held-out accuracy (serving), outcome"
        for _ in columns] + ["span to serving s"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for span in sorted(first):
        row = first[span]
        cells = [row["span"], row["window"], row["drift"]] + [
            column.get(span, {}).get("result", "-") for column in columns] + [
            str(row["to_serving"] or "-")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    print(markdown([rows(output_dir) for output_dir in sys.argv[1:]]))
