"""Timing helpers shared by the benchmarks in this folder.

Everything here times with `time.perf_counter` and summarises repeated
measurements by their median, which is robust to the odd slow call (a
garbage collection, another process taking a core).

    warm_up(fn, n)                      call fn n times, untimed
    time_calls(fn, repeats, warmup)     Timing of fn: warm-up, then repeats
    time_interleaved(fns, ...)          the same for several fns, called in
                                        turn (A B A B ...) so that a change
                                        of machine load hits all of them
    matmul_peak(n, ...)                 GFLOP/s of an (n, n) x (n, n) matmul
    gflops(flops, seconds)              FLOP count and time -> GFLOP/s
    environment()                       versions, devices, CPU count
    apply_quick(args, argv, quick)      --quick: small shapes, unless a
                                        flag was given explicitly

The callables must block until their result is computed. Keras'
`train_on_batch` / `predict_on_batch` do (they return NumPy values); for a
raw TensorFlow function, make it return something small that is read on the
host, or rely on eager CPU execution being synchronous (it is by default).
"""

import dataclasses
import os
import platform
import statistics
import time


@dataclasses.dataclass
class Timing:
    """Wall-clock seconds of the timed calls of one callable."""

    samples: list

    @property
    def median(self):
        return statistics.median(self.samples)

    @property
    def min(self):
        return min(self.samples)

    @property
    def max(self):
        return max(self.samples)

    @property
    def spread(self):
        """(max - min) / median: a rough measure of how noisy the run was."""
        return (self.max - self.min) / self.median

    def as_dict(self):
        return {
            "median_s": self.median,
            "min_s": self.min,
            "max_s": self.max,
            "samples_s": list(self.samples),
        }


def warm_up(fn, n):
    """Call `fn` `n` times and drop the results (tracing, compilation)."""
    for _ in range(n):
        fn()


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def time_calls(fn, repeats=5, warmup=2):
    """Call `fn` `warmup` times untimed, then `repeats` times timed."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    warm_up(fn, warmup)
    return Timing([_timed(fn) for _ in range(repeats)])


def time_interleaved(fns, repeats=5, warmup=2):
    """Time several callables fairly against each other.

    `fns` maps names to callables. Each is warmed up `warmup` times, then
    the timed calls go round-robin (`a, b, a, b, ...`; the order of each
    round alternates so that neither always goes first), so slow drifts of
    the machine (other processes, clock frequency) affect all of them alike.

    Returns a dict name -> Timing.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    names = list(fns)
    for name in names:
        warm_up(fns[name], warmup)
    samples = {name: [] for name in names}
    for round_ in range(repeats):
        order = names if round_ % 2 == 0 else names[::-1]
        for name in order:
            samples[name].append(_timed(fns[name]))
    return {name: Timing(samples[name]) for name in names}


def gflops(flops, seconds):
    """Achieved GFLOP/s of `flops` floating-point operations in `seconds`."""
    return flops / seconds / 1e9


def matmul_peak(n=2048, repeats=5, warmup=2, dtype="float32", jit_compile=False):
    """GFLOP/s of an `(n, n) x (n, n)` `tf.matmul`, timed like the rest.

    The product runs in a `tf.function` (graph mode, as Keras runs models);
    the result is reduced to one number read on the host, so the call
    blocks until the product is done. The reduction (n*n adds) is noise
    next to the 2*n^3 FLOPs of the product.

    Returns `(gflop_per_s, Timing)`.
    """
    import tensorflow as tf

    a = tf.random.stateless_normal((n, n), seed=(1, 2), dtype=dtype)
    b = tf.random.stateless_normal((n, n), seed=(3, 4), dtype=dtype)

    @tf.function(jit_compile=jit_compile)
    def product(a, b):
        return tf.reduce_sum(tf.matmul(a, b))

    timing = time_calls(lambda: product(a, b).numpy(), repeats, warmup)
    return gflops(2.0 * n**3, timing.median), timing


def environment():
    """What the numbers were measured on."""
    import keras
    import numpy as np
    import tensorflow as tf

    devices = tf.config.list_physical_devices()
    accelerators = [d for d in devices if d.device_type != "CPU"]
    try:
        usable_cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable_cpus = os.cpu_count()
    import datetime
    import sys

    return {
        "command": " ".join(["python"] + [
            os.path.relpath(sys.argv[0]) if sys.argv and sys.argv[0]
            else ""] + sys.argv[1:]).strip(),
        "date": datetime.date.today().isoformat(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable_cpus,
        "devices": [f"{d.device_type}:{d.name}" for d in devices],
        "accelerator": (
            ", ".join(d.name for d in accelerators) if accelerators else "none"
        ),
        "xla_built": bool(tf.test.is_built_with_xla()),
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "env": {
            k: os.environ[k]
            for k in ("TF_ENABLE_ONEDNN_OPTS", "XLA_FLAGS", "TF_XLA_FLAGS",
                      "OMP_NUM_THREADS", "CUDA_VISIBLE_DEVICES",
                      "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")
            if k in os.environ
        },
    }


def apply_quick(args, argv, quick):
    """Sets the `--quick` smoke-run values on `args`, except for the flags
    the user gave explicitly (they win).

    Args:
        args: The parsed `argparse.Namespace`.
        argv: The argument list that was parsed (None: `sys.argv[1:]`).
        quick: `{"--flag": ("attribute", value)}`.
    """
    import sys

    given = {a.split("=")[0] for a in (argv if argv is not None
                                       else sys.argv[1:])}
    for flag, (attr, value) in quick.items():
        if flag not in given:
            setattr(args, attr, value)
