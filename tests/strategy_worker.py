"""Trains on prepared transformed data under a distribution strategy; run as a subprocess by
test_strategy.py, since logical devices and TF_CONFIG must be set before TensorFlow starts."""
import argparse
import glob
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True, help="dir with transform_fn/, train*.gz, eval*.gz")
    parser.add_argument("--strategy", required=True)
    parser.add_argument("--logical-cpus", type=int, default=0)
    parser.add_argument("--serving-dir", required=True)
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--crash-after-epoch", type=int, default=0,
                        help="exit abruptly once this epoch's backup is written")
    parser.add_argument("--weight-averaging", type=float)
    parser.add_argument("--record-steps", help="pickle every replica's weights after each step "
                                               "here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")

    import tensorflow as tf
    if args.logical_cpus:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * args.logical_cpus)
    import tensorflow_transform as tft

    from trainer import callbacks, config, training
    if args.crash_after_epoch:
        backup_epoch_end = callbacks.EpochBackup.on_epoch_end

        def crash_after_backup(self, epoch, logs=None):
            backup_epoch_end(self, epoch, logs)
            if epoch + 1 == args.crash_after_epoch:
                os._exit(75)
        callbacks.EpochBackup.on_epoch_end = crash_after_backup
    if args.record_steps:
        _record_steps(args.record_steps)
    trainer_config = config.TrainerConfig(
        strategy=args.strategy, epochs=args.epochs, early_stopping_patience=args.epochs,
        batch_size=8, vocab_size=50, sequence_length=16, embedding_dim=8, lstm_units=4,
        dense_units=4, weight_averaging=args.weight_averaging)
    training.train(trainer_config, tft.TFTransformOutput(os.path.join(args.data, "transform_fn")),
                   glob.glob(os.path.join(args.data, "train*.gz")),
                   glob.glob(os.path.join(args.data, "eval*.gz")),
                   args.serving_dir, args.run_dir)


def _record_steps(path):
    """Writes each replica's trainable weights after every training step to `path` (a list of
    steps, each a list of variables, each a list of replicas' values) when training ends."""
    import pickle

    import keras

    from trainer import callbacks

    class StepWeights(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.steps = []

        def on_train_batch_end(self, batch, logs=None):
            self.steps.append([[replica.numpy() for replica in variable.value.values]
                               for variable in self.model.trainable_variables])

        def on_train_end(self, logs=None):
            with open(path, "wb") as f:
                pickle.dump(self.steps, f)

    keep_best_epoch = callbacks.keep_best_epoch
    callbacks.keep_best_epoch = lambda *args: [StepWeights(), *keep_best_epoch(*args)]


if __name__ == "__main__":
    main()
