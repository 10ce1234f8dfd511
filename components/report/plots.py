"""The report's figures, drawn with matplotlib and embedded as PNG data URIs (the page opens
offline). Functions that compare take `runs`: (label, summary) pairs, one for a run's report,
two for `imdb-lstm report --compare`."""
import base64
import io
from typing import Any, Dict, List, Sequence, Tuple

import matplotlib

matplotlib.use("Agg")  # no display: render to memory
import matplotlib.pyplot as plt  # noqa: E402

Runs = Sequence[Tuple[str, Dict[str, Any]]]
_WIDE = (9.0, 3.4)
_SQUARE = (4.4, 4.0)


def _data_uri(figure) -> str:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def length_distribution(data: Dict[str, Any]) -> str:
    """Share of reviews per length bucket, one bar per split."""
    buckets: List[str] = data["length_buckets"]
    splits = {name: split for name, split in data["splits"].items() if split["length_buckets"]}
    figure, axis = plt.subplots(figsize=_WIDE)
    width = 0.8 / max(len(splits), 1)
    for i, (name, split) in enumerate(splits.items()):
        shares = [split["length_buckets"].get(b, 0) / split["examples"] for b in buckets]
        axis.bar([x + i * width for x in range(len(buckets))], shares, width, label=name)
    axis.set_xticks([x + width * (len(splits) - 1) / 2 for x in range(len(buckets))],
                    [f"{b} words" for b in buckets])
    axis.set_ylabel("share of reviews")
    axis.legend()
    return _data_uri(figure)


def training_curves(runs: Runs) -> str:
    """Loss and accuracy per epoch, train (solid) vs eval (dashed)."""
    figure, axes = plt.subplots(1, 2, figsize=_WIDE)
    for axis, metric in zip(axes, ("loss", "accuracy")):
        for label, summary in runs:
            history = summary["training"]["history"]
            for key, style, split in ((metric, "-", "train"), (f"val_{metric}", "--", "eval")):
                values = history.get(key) or []
                axis.plot(range(1, len(values) + 1), values, style, marker="o",
                          label=f"{label} {split}".strip())
        axis.set_title(metric)
        axis.set_xlabel("epoch")
        axis.legend(fontsize="small")
    return _data_uri(figure)


def slice_accuracy(runs: Runs, slice_features: Sequence[str]) -> str:
    """Accuracy per slice value, one panel per sliced feature."""
    figure, axes = plt.subplots(1, len(slice_features), figsize=(11.0, 3.4), squeeze=False)
    width = 0.8 / len(runs)
    for axis, feature in zip(axes[0], slice_features):
        for i, (label, summary) in enumerate(runs):
            entries = [s for s in summary["evaluation"]["slices"] if s["feature"] == feature]
            accuracies = [s["metrics"]["binary_accuracy"] or 0.0 for s in entries]
            axis.bar([x + i * width for x in range(len(entries))], accuracies, width,
                     label=label or None)
            axis.set_xticks([x + width * (len(runs) - 1) / 2 for x in range(len(entries))],
                            [str(s["value"]) for s in entries], fontsize="small")
        axis.set_title(feature)
        axis.set_ylim(0, 1)
        axis.set_ylabel("accuracy")
        if len(runs) > 1:
            axis.legend(fontsize="small")
    return _data_uri(figure)


def roc_and_pr_curves(runs: Runs) -> str:
    figure, (roc_axis, pr_axis) = plt.subplots(1, 2, figsize=(9.0, 4.0))
    for label, summary in runs:
        evaluation = summary["evaluation"]
        overall = evaluation["overall"]
        roc_axis.plot(evaluation["roc"]["fpr"], evaluation["roc"]["tpr"],
                      label=f"{label} AUC {overall['auc']:.4f}".strip())
        pr_axis.plot(evaluation["pr"]["recall"], evaluation["pr"]["precision"],
                     label=f"{label} AUC-PR {overall['auc_precision_recall']:.4f}".strip())
    roc_axis.plot([0, 1], [0, 1], ":", color="grey")
    roc_axis.set(title="ROC curve", xlabel="false positive rate", ylabel="true positive rate")
    pr_axis.set(title="Precision-recall curve", xlabel="recall", ylabel="precision",
                ylim=(0, 1.02))
    roc_axis.legend(loc="lower right", fontsize="small")
    pr_axis.legend(loc="lower left", fontsize="small")
    return _data_uri(figure)


def calibration(runs: Runs) -> str:
    """Share positive against mean prediction per prediction bin; dot area: reviews in the bin."""
    figure, axis = plt.subplots(figsize=_SQUARE)
    for label, summary in runs:
        buckets = summary["evaluation"]["calibration"]
        total = sum(b["count"] for b in buckets)
        axis.plot([b["mean_prediction"] for b in buckets], [b["mean_label"] for b in buckets],
                  "-", alpha=0.5)
        axis.scatter([b["mean_prediction"] for b in buckets], [b["mean_label"] for b in buckets],
                     s=[max(6.0, 600 * b["count"] / total) for b in buckets], alpha=0.6,
                     label=label or None)
    axis.plot([0, 1], [0, 1], ":", color="grey")
    axis.set(title="Calibration", xlabel="mean prediction", ylabel="share positive",
             xlim=(0, 1), ylim=(0, 1))
    if len(runs) > 1:
        axis.legend(fontsize="small")
    return _data_uri(figure)


def confusion_matrix(matrix: Dict[str, Any]) -> str:
    cells = [[matrix["trueNegatives"], matrix["falsePositives"]],
             [matrix["falseNegatives"], matrix["truePositives"]]]
    figure, axis = plt.subplots(figsize=_SQUARE)
    axis.imshow(cells, cmap="Blues")
    largest = max(max(row) for row in cells)
    for row in range(2):
        for column in range(2):
            value = cells[row][column]
            axis.text(column, row, f"{value:,}", ha="center", va="center", fontsize="large",
                      color="white" if value > largest / 2 else "black")
    axis.set_xticks([0, 1], ["negative", "positive"])
    axis.set_yticks([0, 1], ["negative", "positive"])
    axis.set(title=f"Confusion matrix at {matrix['threshold']:g}", xlabel="predicted",
             ylabel="actual")
    return _data_uri(figure)
