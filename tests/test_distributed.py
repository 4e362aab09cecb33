"""tf.distribute: every layer family trains under MirroredStrategy (two
logical CPU devices) and under MultiWorkerMirroredStrategy (two local worker
processes on 127.0.0.1) to the same losses and weights as on one device.

The training runs in fresh processes (`tests/distributed_worker.py`, whose
docstring says how the models are built and trained): logical devices and
collective ops can only be configured before TensorFlow initialises its
runtime, which this pytest process has already done.
"""

import json
import os
import pathlib
import socket
import subprocess
import sys

import numpy as np

WORKER = pathlib.Path(__file__).resolve().parent / "distributed_worker.py"
# Every public layer family: LeakyRNN, PeepholeLSTM, CoupledLSTM,
# AttentiveDecoder + BahdanauAttention, KeyValueMemory, MemN2N,
# KeyValueMemoryNetwork, NTM, ACTRNN(ACT(LSTMCell)).
MIRRORED_MODELS = ["LeakyRNN", "PeepholeLSTM", "CoupledLSTM",
                   "AttentiveDecoder", "KeyValueMemory", "MemN2N",
                   "KeyValueMemoryNetwork", "NTM", "ACTRNN", "Seq2Seq"]
# The multi-worker subset: the recurrent fast path, ACT's bounded loop and
# added loss, MemN2N's embedding gradients (IndexedSlices, all-reduced
# across the workers). The NTM, slowest to trace, is left to the mirrored
# check: the layers' graphs are the same under both strategies, only the
# communication differs.
MULTI_WORKER_MODELS = ["PeepholeLSTM", "ACTRNN", "MemN2N"]
# Float32 sums in another order: measured differences are below 3e-7
# (losses, relative) and 6e-8 (weights, absolute).
LOSS_RTOL = 1e-5
WEIGHT_RTOL, WEIGHT_ATOL = 1e-5, 1e-6
TIMEOUT = 600


def _env():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TF_CONFIG", None)
    return env


def _weights(results, mode, name):
    prefix = f"{mode}/{name}/w"
    keys = sorted((k for k in results.files if k.startswith(prefix)),
                  key=lambda k: int(k[len(prefix):]))
    return [results[k] for k in keys]


def _assert_same_training(name, reference, distributed, dist_mode="dist"):
    """Same initial weights, per-step losses and final weights."""
    np.testing.assert_array_equal(
        distributed[f"{dist_mode}/{name}/init"],
        reference[f"single/{name}/init"],
        err_msg=f"{name}: the runs did not start from the same weights")
    want = reference[f"single/{name}/loss"]
    got = distributed[f"{dist_mode}/{name}/loss"]
    assert want.shape == got.shape == (3,), (name, want, got)
    assert np.all(np.isfinite(got)), (name, got)
    # It really trained (the loss went down), and identically.
    assert got[-1] < got[0], (name, got)
    np.testing.assert_allclose(got, want, rtol=LOSS_RTOL,
                               err_msg=f"{name}: per-step losses")
    want_w = _weights(reference, "single", name)
    got_w = _weights(distributed, dist_mode, name)
    assert len(want_w) == len(got_w) > 0, name
    for i, (a, b) in enumerate(zip(want_w, got_w)):
        np.testing.assert_allclose(
            b, a, rtol=WEIGHT_RTOL, atol=WEIGHT_ATOL,
            err_msg=f"{name}: final weight {i}")


def test_mirrored_strategy_matches_single_device(tmp_path):
    """Each model trained with `model.fit` on one device and under a
    MirroredStrategy over two logical CPU devices (the global batch of 8
    split 4 + 4): same per-step losses, same final weights."""
    out = tmp_path / "mirrored.npz"
    result = subprocess.run(
        [sys.executable, str(WORKER), "mirrored", str(out),
         *MIRRORED_MODELS],
        capture_output=True, text=True, timeout=TIMEOUT, env=_env(),
        cwd=tmp_path,
    )
    assert result.returncode == 0 and "DISTRIBUTED_OK" in result.stdout, (
        result.stdout[-3000:] + result.stderr[-5000:])
    results = np.load(out)
    for name in MIRRORED_MODELS:
        _assert_same_training(name, results, results)


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def test_multi_worker_mirrored_strategy_matches_single_process(tmp_path):
    """Two worker processes (one CPU replica each) on 127.0.0.1 train with
    MultiWorkerMirroredStrategy, each on its half of the global batch, the
    gradients all-reduced across the workers: both workers end with the
    same weights, and losses and weights equal those of `model.fit` in one
    process."""
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    procs, outs, logs = [], [], []
    try:
        for index in range(2):
            env = _env()
            env["TF_CONFIG"] = json.dumps(
                {"cluster": cluster, "task": {"type": "worker",
                                              "index": index}})
            outs.append(tmp_path / f"worker{index}.npz")
            logs.append(open(tmp_path / f"worker{index}.log", "w"))
            procs.append(subprocess.Popen(
                [sys.executable, str(WORKER), "multiworker",
                 str(outs[-1]), *MULTI_WORKER_MODELS],
                stdout=logs[-1], stderr=subprocess.STDOUT, env=env,
                cwd=tmp_path))
        codes = [p.wait(timeout=TIMEOUT) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for log in logs:
            log.close()
    texts = [(tmp_path / f"worker{i}.log").read_text() for i in range(2)]
    assert codes == [0, 0] and all("DISTRIBUTED_OK" in t for t in texts), (
        "\n----\n".join(t[-4000:] for t in texts))
    workers = [np.load(out) for out in outs]
    assert [int(w["task"]) for w in workers] == [0, 1]
    assert [int(w["replicas"]) for w in workers] == [2, 2]
    for index, name in enumerate(MULTI_WORKER_MODELS):
        # The model.fit reference of this model ran on task index % 2.
        reference = workers[index % 2]
        assert f"single/{name}/loss" not in workers[1 - index % 2]
        for worker in workers:
            _assert_same_training(name, reference, worker)
        # Synchronous training: the two workers hold the same weights.
        for a, b in zip(_weights(workers[0], "dist", name),
                        _weights(workers[1], "dist", name)):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-7)
