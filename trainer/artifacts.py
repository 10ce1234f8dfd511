"""The files the Trainer and the Pretrainer write, by name, for whatever reads them (the report,
the pipeline's checks of an imported language model) without importing TensorFlow."""
import os

# In the Trainer's run directory: loss and accuracy per epoch, train and eval, and its seconds.
HISTORY_FILE = "history.json"
# In the SavedModel (TF Serving ignores assets.extra/): the settings the model was trained with,
# and the decision threshold fitted on eval with eval accuracy before and after.
CONFIG_ASSET = os.path.join("assets.extra", "trainer_config.json")
CALIBRATION_ASSET = os.path.join("assets.extra", "calibration.json")
# In the SavedModel too: the Keras weights and the vocabularies their token and n-gram ids stand
# for, from which the next continuous-training run starts (trainer/warm_start.py).
WARM_START_DIR = os.path.join("assets.extra", "warm_start")
WEIGHTS_FILE = "model.weights.h5"
VOCABULARY_FILE = "vocabulary.txt"
NGRAM_VOCABULARY_FILE = "ngram_vocabulary.txt"
# In the Trainer's run directory: which model the training started from.
START_FILE = "start.json"
# The Pretrainer's output: the encoder (embedding and LSTM) and the vocabulary its token ids
# stand for, so a Trainer on another vocabulary matches embedding rows by word.
PRETRAINED_ENCODER_FILE = "encoder.keras"
PRETRAINED_VOCABULARY_FILE = VOCABULARY_FILE
