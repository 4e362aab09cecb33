"""`keras-seqmem train --checkpoint-dir / --tensorboard / --early-stopping`:
the Keras callbacks reach `training.train_on_task` and do their work."""

import importlib.util

import keras
import pytest

from keras_seqmem import cli
from keras_seqmem import training

# A tiny adding problem: 64 training sequences of 4 steps, 2 steps per epoch.
TINY = ["train", "--task", "adding", "--length", "4", "--units", "4",
        "--train-size", "64", "--test-size", "32", "--batch-size", "32",
        "--no-jit"]
STEPS_PER_EPOCH = 2


class Interrupt(keras.callbacks.Callback):
    """Raises at the end of epoch `epoch` (0-based), after the callbacks
    before it (BackupAndRestore) have run."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError(f"interrupted after epoch {epoch + 1}")


class StartingPoint(keras.callbacks.Callback):
    """Records the optimizer's step count when training begins (after
    BackupAndRestore has restored the backup)."""

    def on_train_begin(self, logs=None):
        self.iterations = int(self.model.optimizer.iterations.numpy())


@pytest.fixture
def spy(monkeypatch):
    """Wraps `training.train_on_task` (which `keras-seqmem train` calls):
    records the callbacks the command passes and the results, and appends
    `spy.extra` callbacks."""

    class Spy:
        extra = []
        callbacks = []
        results = []

    original = training.train_on_task

    def train_on_task(*args, callbacks=None, **kwargs):
        Spy.callbacks.append(list(callbacks or []))
        result = original(*args, callbacks=list(callbacks or []) + Spy.extra,
                          **kwargs)
        Spy.results.append(result)
        return result

    monkeypatch.setattr(training, "train_on_task", train_on_task)
    return Spy


HAS_TENSORBOARD = importlib.util.find_spec("tensorboard") is not None


def test_tensorboard_writes_event_files(spy, tmp_path, capsys):
    """Event files for the training and the validation curves; without the
    tensorboard package (the `tensorboard` extra), a one-line error and
    exit status 2 before training starts (tests/test_install.py checks it
    with the package hidden)."""
    logs = tmp_path / "tb"
    command = TINY + ["--epochs", "1", "--tensorboard", str(logs)]
    if not HAS_TENSORBOARD:
        assert cli.main(command) == 2
        assert 'pip install "keras-seqmem[tensorboard]"' in (
            capsys.readouterr().err)
        assert spy.callbacks == []
        return
    assert cli.main(command) == 0
    (callback,) = spy.callbacks[0]
    assert isinstance(callback, keras.callbacks.TensorBoard)
    for split in ("train", "validation"):
        events = list((logs / split).glob("events.out.tfevents.*"))
        assert events and all(e.stat().st_size > 0 for e in events), split


def test_early_stopping_stops_before_epochs(spy, capsys):
    """With a learning rate of 0 the validation loss is the same at every
    epoch: patience 0 stops after the second epoch of 5."""
    assert cli.main(TINY + ["--epochs", "5", "--learning-rate", "0",
                            "--early-stopping", "0"]) == 0
    (callback,) = spy.callbacks[0]
    assert isinstance(callback, keras.callbacks.EarlyStopping)
    assert callback.monitor == "val_loss" and callback.patience == 0
    assert callback.restore_best_weights
    history = spy.results[0].history
    assert len(history["loss"]) == 2, history
    assert history["val_loss"][0] == history["val_loss"][1]
    assert "early stopping" in capsys.readouterr().out


def test_checkpoint_dir_resumes_where_the_run_stopped(spy, tmp_path, capsys):
    """A run of 4 epochs interrupted after epoch 2, rerun with the same
    command: the rerun restores the backup (model, optimizer, epoch) and
    trains epochs 3 and 4 only."""
    backup = tmp_path / "backup"
    command = TINY + ["--epochs", "4", "--checkpoint-dir", str(backup)]
    spy.extra = [Interrupt(epoch=1)]
    with pytest.raises(RuntimeError, match="after epoch 2"):
        cli.main(command)
    (callback,) = spy.callbacks[0]
    assert isinstance(callback, keras.callbacks.BackupAndRestore)
    assert any(backup.iterdir()), "nothing backed up"
    capsys.readouterr()

    start = StartingPoint()
    spy.extra = [start]
    assert cli.main(command) == 0
    printed = capsys.readouterr().out
    assert start.iterations == 2 * STEPS_PER_EPOCH  # restored optimizer
    assert len(spy.results[-1].history["loss"]) == 2  # epochs 3 and 4
    assert "Epoch 3/4" in printed and "Epoch 1/4" not in printed, printed
    assert "RESULT task=adding" in printed
