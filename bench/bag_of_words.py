"""The bag-of-words baseline every LSTM row of the variants table is judged against: TF-IDF over
unigrams and bigrams (sublinear tf, words seen in two reviews or more) and logistic regression
(scikit-learn), fitted on the pipeline's own `train` split, its regularization C chosen on `eval`,
scored once on the 25,000 official test reviews. A reference, not a product feature.

    .venv/bin/python bench/bag_of_words.py --output-dir /tmp/imdb-bench   # a benchmark's run
    .venv/bin/python bench/bag_of_words.py --output-dir ~/imdb-lstm-tfx --pipeline-name imdb-lstm
"""
import argparse
import glob
import os
import resource
import sys
import time
from typing import Dict, List, Tuple

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, PROJECT_ROOT)

from trainer.features import LABEL_KEY, REVIEW_KEY  # noqa: E402

C_GRID = (1, 3, 10, 30, 100)


def raw_split(examples_dir: str, split: str) -> Tuple[List[str], List[int]]:
    """The reviews and labels of one split as ImdbExampleGen wrote them."""
    import tensorflow as tf
    files = glob.glob(os.path.join(examples_dir, f"Split-{split}", "*.gz"))
    spec = {REVIEW_KEY: tf.io.FixedLenFeature([], tf.string),
            LABEL_KEY: tf.io.FixedLenFeature([], tf.int64)}
    reviews, labels = [], []
    for batch in tf.data.TFRecordDataset(files, compression_type="GZIP").batch(4096):
        parsed = tf.io.parse_example(batch, spec)
        reviews += [text.decode("utf-8") for text in parsed[REVIEW_KEY].numpy()]
        labels += parsed[LABEL_KEY].numpy().tolist()
    return reviews, labels


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def fit_and_score(examples_dir: str) -> Dict[str, object]:
    """Fits on train, chooses C on eval, scores test; the figures of the benchmark's row."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    (train, y_train), (evaluation, y_eval), (test, y_test) = (
        raw_split(examples_dir, split) for split in ("train", "eval", "test"))
    started, cpu = time.time(), _cpu_seconds()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
    x_train = vectorizer.fit_transform(train)
    x_eval = vectorizer.transform(evaluation)
    fitted = {c: LogisticRegression(C=c, max_iter=2000).fit(x_train, y_train) for c in C_GRID}
    c = max(C_GRID, key=lambda value: fitted[value].score(x_eval, y_eval))
    fit_seconds, fit_cpu = time.time() - started, _cpu_seconds() - cpu
    scoring_started = time.perf_counter()
    probabilities = fitted[c].predict_proba(vectorizer.transform(test))[:, 1]
    scoring_seconds = time.perf_counter() - scoring_started
    return {
        "variant": "bag of words: TF-IDF 1-2-grams + logistic regression (reference)",
        "c": c, "features": x_train.shape[1],
        "eval_accuracy": fitted[c].score(x_eval, y_eval),
        "test_accuracy": float(((probabilities >= 0.5) == y_test).mean()),
        "test_auc": float(roc_auc_score(y_test, probabilities)),
        "wall_seconds": fit_seconds, "cpu_seconds": fit_cpu,
        "reviews_per_second": len(test) / scoring_seconds,
        "peak_memory_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", required=True,
                        help="a bench/benchmark.py or imdb-lstm run output dir")
    parser.add_argument("--pipeline-name", default="imdb-lstm-bench",
                        help="imdb-lstm for a `make run` output dir (default: %(default)s)")
    args = parser.parse_args()
    from benchmark import latest_output
    row = fit_and_score(latest_output(args.output_dir, "ImdbExampleGen", "examples",
                                      pipeline_name=args.pipeline_name))
    for key, value in row.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
