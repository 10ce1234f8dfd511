"""The training loop for several replicas, where Keras 3's Model.fit falls short: it does not run
under MultiWorkerMirroredStrategy at all (keras-team/keras#20585: "Attempt to convert a value
(PerReplica...)"), and under MirroredStrategy it fails when the first batch of a fit or evaluate
does not split evenly over the replicas (it averages that batch across replicas to build the
model: keras/src/backend/tensorflow/trainer.py, _maybe_symbolic_build; "Inputs to operation AddN
must have the same size and shape").

It trains the compiled model the way fit would (its optimizer, binary cross-entropy plus the
model's regularization losses, accuracy at 0.5) and drives the same Keras callbacks per epoch, so
early stopping, TensorBoard and the epoch log behave as under fit and the returned History has
fit's keys.
"""
from typing import Callable, List

import keras
import tensorflow as tf

from trainer import features
from trainer import strategy as strategies

DatasetFn = Callable[[tf.distribute.InputContext], tf.data.Dataset]


def is_needed(strategy: tf.distribute.Strategy) -> bool:
    return strategy.num_replicas_in_sync > 1 or strategies.is_multi_worker(strategy)


def _batch_sums(model: keras.Model, inputs, labels, training: bool):
    """Sums over one replica's batch: (loss x examples, correct predictions, examples), and the
    per-example losses and regularization loss to train on."""
    examples = tf.shape(labels)[0]
    # A replica whose data ran out first gets an empty batch, which Keras' LSTM cannot run
    # ("Shape must be rank 1 but is rank 2"); it scores one stand-in review instead (one token,
    # no n-grams), weighted 0.
    missing = tf.maximum(0, 1 - examples)
    inputs = {key: tf.pad(value, [[0, missing], [0, missing]],
                          constant_values=1 if key == features.TOKENS_KEY else 0)
              for key, value in inputs.items()}
    weights = tf.cast(tf.range(examples + missing) < examples, tf.float32)
    probabilities = model(inputs, training=training)
    targets = tf.cast(tf.reshape(tf.pad(labels, [[0, missing]]), [-1, 1]), probabilities.dtype)
    per_example_loss = keras.losses.binary_crossentropy(targets, probabilities) * weights
    predicted = tf.cast(probabilities > 0.5, targets.dtype)
    correct = tf.reduce_sum(tf.cast(tf.equal(targets, predicted)[:, 0], tf.float32) * weights)
    regularization = tf.add_n(model.losses) if model.losses else 0.0
    count = tf.cast(examples, tf.float32)
    loss_sum = tf.reduce_sum(per_example_loss) + regularization * count
    return per_example_loss, regularization, tf.stack([loss_sum, correct, count])


def _replicated_steps(model: keras.Model, strategy: tf.distribute.Strategy):
    """A training step and an evaluation step over one distributed batch, each returning the
    sums over every replica: (loss x examples, correct predictions, examples)."""
    def train_replica(inputs, labels):
        with tf.GradientTape() as tape:
            per_example_loss, regularization, sums = _batch_sums(model, inputs, labels, True)
            # The mean over this step's examples on every replica, as fit's loss on one replica
            # (a fixed global batch size would underweight the last, partial batches).
            step_examples = tf.distribute.get_replica_context().all_reduce(
                tf.distribute.ReduceOp.SUM, sums[2])
            loss = (tf.reduce_sum(per_example_loss) / step_examples
                    + tf.nn.scale_regularization_loss(regularization))
            # Mixed precision: the LossScaleOptimizer scales up here, unscales when applying.
            scaled_loss = model.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, model.trainable_variables)
        model.optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return sums

    def eval_replica(inputs, labels):
        return _batch_sums(model, inputs, labels, False)[2]

    # reduce_retracing: length buckets give batches a few different lengths.
    @tf.function(reduce_retracing=True)
    def train_step(batch):
        return strategy.reduce(tf.distribute.ReduceOp.SUM,
                               strategy.run(train_replica, args=batch), axis=None)

    @tf.function(reduce_retracing=True)
    def eval_step(batch):
        return strategy.reduce(tf.distribute.ReduceOp.SUM,
                               strategy.run(eval_replica, args=batch), axis=None)
    return train_step, eval_step


def _means(totals) -> dict:
    loss_sum, correct, examples = tf.unstack(totals)
    return {"loss": loss_sum / examples, "accuracy": correct / examples}


def _epoch_logs(step, data, on_batch_end=None) -> dict:
    """Runs `step` over every batch of `data`: the epoch's mean loss and accuracy."""
    totals = tf.zeros([3])
    for index, batch in enumerate(data):
        totals += step(batch)
        if on_batch_end:
            on_batch_end(index, _means(totals))
    return {name: float(value) for name, value in _means(totals).items()}


def fit(model: keras.Model, strategy: tf.distribute.Strategy, train_dataset_fn: DatasetFn,
        eval_dataset_fn: DatasetFn, epochs: int,
        callbacks: List[keras.callbacks.Callback]) -> keras.callbacks.History:
    """Model.fit(train, validation_data=eval, epochs, callbacks) for several replicas.

    The dataset functions get each input pipeline's InputContext: they shard the data and batch
    per replica. Replicas whose data runs out first get empty batches until all are done
    (tf.distribute's partial-batch handling).
    """
    with strategy.scope():
        # Now, not lazily inside the first step: tf.function cannot always lift variable creation
        # out of a replicated step ("You must feed a value for placeholder tensor 'cond/...'").
        model.optimizer.build(model.trainable_variables)
    train_data = strategy.distribute_datasets_from_function(train_dataset_fn)
    eval_data = strategy.distribute_datasets_from_function(eval_dataset_fn)
    train_step, eval_step = _replicated_steps(model, strategy)
    history = keras.callbacks.History()
    callback_list = keras.callbacks.CallbackList(callbacks + [history], model=model,
                                                 epochs=epochs, verbose=0)
    model.stop_training = False
    callback_list.on_train_begin()
    # A BackupAndRestore callback sets _initial_epoch in on_train_begin when it resumes.
    for epoch in range(model._initial_epoch or 0, epochs):
        callback_list.on_epoch_begin(epoch)
        logs = _epoch_logs(train_step, train_data, on_batch_end=callback_list.on_train_batch_end)
        # As fit's evaluation: SwapEMAWeights swaps averaged weights in for it.
        callback_list.on_test_begin()
        evaluation = _epoch_logs(eval_step, eval_data)
        callback_list.on_test_end(evaluation)
        logs.update({f"val_{name}": value for name, value in evaluation.items()})
        callback_list.on_epoch_end(epoch, logs)
        # Every worker sees the same all-reduced logs, so early stopping stops all of them.
        if model.stop_training:
            break
    # As fit: with averaged weights, the averages replace the weights as trained.
    model.optimizer.finalize_variable_values(model.trainable_variables)
    callback_list.on_train_end()
    return history
