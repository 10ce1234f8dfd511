"""The features: their keys, the label rule and the length buckets, for every layer that reads or
writes reviews (ingest, Transform, the Trainer, the Evaluator's slices, the report). No
hyperparameters here (trainer/config.py) and no TensorFlow, so any layer may import it.
"""
from typing import List, Optional

# Raw features, as ingest writes them into tf.Examples.
REVIEW_KEY = "review"
LABEL_KEY = "label"
RATING_KEY = "rating"
# Describe each review for data statistics and evaluation slices; the model never reads them.
WORD_COUNT_KEY = "review_words"
LENGTH_BUCKET_KEY = "review_length_bucket"

# The Stanford corpus' rule: ratings 1-10, >= 7 positive, <= 4 negative; 5 and 6 carry no label.
RATINGS = range(1, 11)
POSITIVE_RATINGS = range(7, 11)
NEGATIVE_RATINGS = range(1, 5)


def label_of(rating: int) -> Optional[int]:
    """1 for a positive rating, 0 for a negative one, None for a neutral one (5 or 6)."""
    if rating not in RATINGS:
        raise ValueError(f"rating must be in 1..10, got {rating}")
    if rating in POSITIVE_RATINGS:
        return 1
    return 0 if rating in NEGATIVE_RATINGS else None


# Lower word-count bounds of the length buckets: short, typical, long (truncated at the default
# sequence_length of 200), very long.
LENGTH_BUCKET_BOUNDS = (0, 100, 200, 400)


def length_bucket(word_count: int) -> str:
    """'0-99', '100-199', '200-399' or '400+' words."""
    lower = max(b for b in LENGTH_BUCKET_BOUNDS if b <= word_count)
    index = LENGTH_BUCKET_BOUNDS.index(lower)
    if index + 1 == len(LENGTH_BUCKET_BOUNDS):
        return f"{lower}+"
    return f"{lower}-{LENGTH_BUCKET_BOUNDS[index + 1] - 1}"


def length_buckets() -> List[str]:
    """Every bucket name, shortest first."""
    return [length_bucket(bound) for bound in LENGTH_BUCKET_BOUNDS]


# The Evaluator's slices of the test split, besides the whole of it.
EVAL_SLICE_KEYS = (RATING_KEY, LENGTH_BUCKET_KEY, LABEL_KEY)

# Transformed features, as the preprocessing_fn emits them: right-padded token ids, the input of
# every variant's LSTM...
TOKENS_KEY = "review_tokens"
VOCABULARY_NAME = "review_vocabulary"
PADDING_ID = 0  # Reserved: word and n-gram ids start at 1, so padding is never taken for one.
# ...and, for the wide part beside it (trainer.ngram_vocab_size > 0), each review's distinct
# n-grams among the vocabulary's, as ids, with their TF-IDF weights in the review.
NGRAMS_KEY = "review_ngrams"
NGRAM_WEIGHTS_KEY = "review_ngram_weights"
NGRAM_VOCABULARY_NAME = "review_ngram_vocabulary"

# Output name of both serving signatures and of the model's prediction.
PREDICTION_KEY = "probabilities"
