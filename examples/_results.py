"""Results files of the examples: every figure a script prints, stored with
the command, versions, seeds, date and machine that produced it.

The figures quoted in `examples/README.md` and `docs/` come from these files
(`tests/test_figures.py` checks that each published figure is in one).
"""

import datetime
import json
import os
import pathlib
import platform
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "examples" / "results"


def provenance(script, seeds):
    """Command, versions, seeds, date and machine of this run."""
    versions = {"python": platform.python_version()}
    for name in ("keras", "tensorflow", "numpy", "keras_seqmem"):
        module = sys.modules.get(name)
        if module is None:
            try:
                module = __import__(name)
            except ImportError:
                continue
        versions[name] = getattr(module, "__version__", "unknown")
    try:
        import keras
        versions["keras_backend"] = keras.backend.backend()
    except ImportError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count()
    return {
        "command": " ".join(["python", f"examples/{script}"] + sys.argv[1:]),
        "versions": versions,
        "seeds": list(seeds),
        "date": datetime.date.today().isoformat(),
        "time": datetime.datetime.now().astimezone().isoformat(
            timespec="seconds"),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable,
        "threads_env": {k: os.environ[k] for k in (
            "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS",
            "OMP_NUM_THREADS") if k in os.environ},
    }


def default_path(name, suffix):
    """`examples/results/<name>_<today>/<suffix>.json`."""
    today = datetime.date.today().isoformat()
    return RESULTS / f"{name}_{today}" / f"{suffix}.json"


def write(path, record):
    """Writes `record` as indented JSON (creating the folder); returns the
    path."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, default=float) + "\n")
    return path
