"""A TensorFlow Datasets builder of bAbI v1.2, built offline from a folder.

Importing this module registers the builder :class:`Babi` under the TFDS
name ``"babi"`` (TFDS's own catalog has no ``babi``), so that
``tfds.builder("babi/qa1")`` and ``tfds.load("babi/qa1")`` find it. It is
kept out of ``keras_seqmem.tasks`` so that ``import keras_seqmem`` does not
import ``tensorflow_datasets``: import this module explicitly. It needs the
``data`` extra and TensorFlow (``pip install "keras-seqmem[data]"`` beside a
TensorFlow backend); without them, importing it raises a one-line
``ImportError`` naming the ``pip install`` that provides them.

Nothing is downloaded: the data comes from the ``manual_dir`` of the
download config, which holds the ``tasks_1-20_v1-2`` folder, or its ``en/``
folder, or is one of them (see :data:`Babi.MANUAL_DOWNLOAD_INSTRUCTIONS`).
The examples are those of :func:`keras_seqmem.tasks.babi.read_task_file`.

Configs: ``qa1`` .. ``qa20`` (one task each) and ``all`` (the 20 tasks,
task after task). Splits: ``train`` and ``test``, 1,000 questions per task
each, in the reader's order (task, then file order; TFDS does not
shuffle them). Features of one example (one question):

* ``story``: ``Sequence(Text)``, the statements before the question, oldest
  first, as the reader's words joined by single spaces
  (``"mary moved to the bathroom"``: lowercase, no punctuation);
* ``question``: ``Text``, the same (``"where is mary"``);
* ``answer``: ``Text``, the lowercased answer, one token (``"s,e"``);
* ``supporting``: ``Sequence(int32)``, indices into ``story`` of the
  supporting statements;
* ``task``: ``int32``, the task number.

``text.split()`` gives back the reader's words.

Example (offline, into a folder of your choice)::

    import tensorflow_datasets as tfds
    import keras_seqmem.tasks.babi_tfds  # registers "babi"

    config = tfds.download.DownloadConfig(manual_dir="/data/tasks_1-20_v1-2")
    train, test = tfds.load(
        "babi/qa1", split=["train", "test"], data_dir="/tmp/tfds",
        download_and_prepare_kwargs={"download_config": config})
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np

from keras_seqmem._extras import require

require("keras_seqmem.tasks.babi_tfds",
        ["tensorflow_datasets", "tensorflow"])

import tensorflow_datasets as tfds  # noqa: E402
from etils import epath  # noqa: E402  (installed by tensorflow-datasets)

from . import babi  # noqa: E402

__all__ = ["Babi", "BabiConfig"]

_CITATION = """\
@article{weston2015towards,
  title={Towards AI-Complete Question Answering: A Set of Prerequisite Toy Tasks},
  author={Weston, Jason and Bordes, Antoine and Chopra, Sumit and Rush, Alexander M.
          and van Merri{\\"e}nboer, Bart and Joulin, Armand and Mikolov, Tomas},
  journal={arXiv preprint arXiv:1502.05698},
  year={2015}
}
"""

_DESCRIPTION = """\
The 20 bAbI question answering tasks, v1.2, English, 1k questions per task and
split (Weston et al. 2015), read by keras_seqmem.tasks.babi from a local
copy. One example is one question with the statements of its story before it
(lowercased words without punctuation, joined by spaces), its one-token
answer, and the indices of the supporting statements in the story.
"""


@dataclasses.dataclass(eq=False)
class BabiConfig(tfds.core.BuilderConfig):
    """A :class:`Babi` config: which tasks it holds.

    Attributes:
        tasks: Task numbers, in generation order.
    """

    tasks: tuple[int, ...] = ()


def _configs() -> list[BabiConfig]:
    configs = [
        BabiConfig(
            name=f"qa{task}",
            description=f"bAbI task {task}: {name}.",
            tasks=(task,),
        )
        for task, name in babi.TASK_NAMES.items()
    ]
    configs.append(
        BabiConfig(
            name="all",
            description="The 20 bAbI tasks together (the `task` feature "
            "tells them apart).",
            tasks=tuple(babi.TASK_NAMES),
        )
    )
    return configs


class Babi(tfds.core.GeneratorBasedBuilder):
    """bAbI v1.2 QA tasks, from a local ``tasks_1-20_v1-2`` folder.

    TFDS name ``"babi"``; configs ``qa1`` .. ``qa20`` and ``all``; splits
    ``train`` and ``test``. See the module docstring for the features.
    """

    VERSION = tfds.core.Version("1.2.0")
    RELEASE_NOTES = {"1.2.0": "bAbI v1.2 (tasks_1-20_v1-2), English, 1k."}
    BUILDER_CONFIGS = _configs()
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
    Put the bAbI v1.2 data in the manual folder (nothing is downloaded):
    either the tasks_1-20_v1-2 folder of tasks_1-20_v1-2.tar.gz (Weston et
    al. 2015, CC BY 3.0), or its en/ folder, holding the 40 files
    qa{N}_{name}_{train,test}.txt. The manual folder may also be one of these
    folders itself. Pass it as
    tfds.download.DownloadConfig(manual_dir=...).
    """

    # TFDS 4.9.x finds a builder's file through `importlib_resources`, which
    # it only installs on Python < 3.9 (tensorflow/datasets#11212: "No module
    # named 'importlib_resources'"). The file is known here; TFDS only uses it
    # to look for a checksums file next to it (there is none: no download).
    @tfds.core.utils.classproperty
    @classmethod
    def code_path(cls) -> epath.Path:
        return epath.Path(__file__)

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=_DESCRIPTION,
            features=tfds.features.FeaturesDict(
                {
                    "story": tfds.features.Sequence(tfds.features.Text()),
                    "question": tfds.features.Text(),
                    "answer": tfds.features.Text(),
                    "supporting": tfds.features.Sequence(np.int32),
                    "task": np.int32,
                }
            ),
            supervised_keys=None,
            # Records stay in generation order: task, then file order, so
            # example k of a split is example k of the reader.
            disable_shuffling=True,
            homepage="https://research.facebook.com/downloads/babi/",
            citation=_CITATION,
        )

    def _split_generators(self, dl_manager):
        root = _data_folder(pathlib.Path(dl_manager.manual_dir))
        return {
            split: self._generate_examples(root, split)
            for split in babi.SPLITS
        }

    def _generate_examples(self, root, split):
        for task in self.builder_config.tasks:
            path = babi.find_task_file(root, task, split)
            for k, ex in enumerate(babi.read_task_file(path, task)):
                yield f"qa{task}_{k}", {
                    "story": [" ".join(s) for s in ex.story],
                    "question": " ".join(ex.question),
                    "answer": ex.answer,
                    "supporting": list(ex.supporting),
                    "task": ex.task,
                }


def _data_folder(manual_dir: pathlib.Path) -> pathlib.Path:
    """``manual_dir/tasks_1-20_v1-2`` if present, else ``manual_dir``.

    :func:`~keras_seqmem.tasks.babi.find_task_file` then looks in its
    ``en/`` folder, or in the folder itself.
    """
    nested = manual_dir / "tasks_1-20_v1-2"
    return nested if nested.is_dir() else manual_dir
