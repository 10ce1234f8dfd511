"""What Beam's local runner (the FnApiRunner of Beam 2.74) needs to run a streaming job for days.

It runs an unbounded pipeline as an endless series of bundles and, after each one, folds the
bundle's metrics into its totals per stage (`fn_runner.run_stages`) with
`consolidate_monitoring_infos`, a generator: a stage's totals become a generator over the new
bundle's MonitoringInfos chained to the previous totals, evaluated only when someone reads the
metrics. The chain gains a link per bundle, each holding its bundle's response: about 100 KB a
bundle, which made an idle job grow by 9-12 MB a second
(docs/experiments/2026-12-07-streaming-soak.md). Folded at once, the totals stay one list per
stage, and the metrics read the same.
"""
from apache_beam.runners.portability.fn_api_runner import fn_runner


def fold_metrics_eagerly() -> None:
    """Makes the local runner fold each bundle's metrics into its totals at once (idempotent;
    a Beam without that function is left as it is)."""
    consolidate = getattr(fn_runner, "consolidate_monitoring_infos", None)
    if consolidate is None or getattr(consolidate, "eager", False):
        return

    def eager(monitoring_infos):
        return list(consolidate(monitoring_infos))

    eager.eager = True
    fn_runner.consolidate_monitoring_infos = eager
