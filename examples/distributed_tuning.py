"""Distributed hyperparameter search on KerasTuner's chief/worker protocol.

    python examples/distributed_tuning.py                 # 1 chief, 2 workers
    python examples/distributed_tuning.py --trials 12 --workers 3 --epochs 3
    python examples/distributed_tuning.py --quick         # a 1-minute look

Starts, on this machine, one chief and `--workers` workers as separate
Python processes, each with KerasTuner's environment variables:

    KERASTUNER_TUNER_ID     "chief", then "tuner0", "tuner1", ...
    KERASTUNER_ORACLE_IP    127.0.0.1
    KERASTUNER_ORACLE_PORT  a free port

The chief runs the oracle (a `RandomSearch` over the ``"recurrent"`` space
of `keras_seqmem.tuning`, on `--task`) as a gRPC server and trains
nothing; each worker asks it for a trial, trains the model of that trial,
reports the validation loss back, and asks for the next, until the oracle
has handed out `--trials` trials. All of them share the project folder,
where the oracle writes each trial's `trial.json` and the worker that ran
it writes `worker.json` (`keras_seqmem.tuning.WORKER_RECORD`). When the
workers are done, this script reads those records and prints each trial
once: its id, the worker that ran it, its status, its score and its
hyperparameters (with `--json`, also as a file).

On a cluster the same code runs unchanged: start the chief on one machine
and the workers on others, with `KERASTUNER_ORACLE_IP` the chief's address
and a shared `--directory`. `keras-seqmem tune` also runs as chief or worker
when these variables are set.

Two details of the protocol handled here: the workers wait for each other
before they ask for their first trial (a file barrier in the project
folder, so that a slow-starting worker still gets trials), and the chief,
which checks for running trials only every 20 s once the oracle is
exhausted, is stopped as soon as every worker has exited (by then the
oracle has written every trial's final record).
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", default="adding")
    parser.add_argument("--length", type=int, default=50)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--train-size", type=int, default=4000)
    parser.add_argument("--test-size", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--fix", action="append", default=[],
                        metavar="NAME=VALUE",
                        help="pin a hyperparameter, e.g. units=32")
    parser.add_argument("--directory", default="runs/distributed_tuning")
    parser.add_argument("--project-name", default="distributed")
    parser.add_argument("--threads", type=int, default=1,
                        help="TensorFlow threads per process (default 1)")
    parser.add_argument("--timeout", type=float, default=3600,
                        help="seconds before the workers are given up")
    parser.add_argument("--json", default=None,
                        help="also write the trial records to this file")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes: 4 trials of 1 epoch")
    parser.add_argument("--role", choices=["launch", "tuner"],
                        default="launch", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.length, args.trials, args.epochs = 8, 4, 1
        args.train_size, args.test_size, args.batch_size = 128, 64, 32
        args.fix = args.fix + ["units=16"]
    return args


def _fixed(args):
    import ast

    fixed = {}
    for text in args.fix:
        name, value = text.split("=", 1)
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            pass
        fixed[name] = value
    return fixed


def _barrier(path, tuner_id, workers, timeout):
    """Waits until all `workers` have written their file under `path`."""
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, tuner_id), "w") as f:
        f.write(str(os.getpid()))
    deadline = time.time() + timeout
    while len(os.listdir(path)) < workers:
        if time.time() > deadline:
            raise SystemExit(f"{tuner_id}: the other workers did not start")
        time.sleep(0.2)


def run_tuner(args):
    """One process: the chief (oracle server) or a worker."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from keras_seqmem import tuning

    tuner_id = os.environ["KERASTUNER_TUNER_ID"]
    hypermodel = tuning.RecurrentHyperModel(
        args.task, fixed=_fixed(args), task_params={"length": args.length})
    # The same tuner in every process: the chief's runs the oracle, the
    # workers' forward it to the chief (KerasTuner reads the variables).
    tuner = tuning.make_tuner(
        "random", hypermodel, max_trials=args.trials,
        directory=args.directory, project_name=args.project_name)
    if tuner_id == "chief":
        print("chief: serving the oracle", flush=True)
        tuner.search()  # returns when every trial has been handed out
        print("chief: done", flush=True)
        return
    data = hypermodel.make_data(args.train_size, args.test_size,
                                batch_size=args.batch_size)
    _barrier(os.path.join(args.directory, args.project_name + "_ready"),
             tuner_id, args.workers, args.timeout)
    print(f"{tuner_id}: searching", flush=True)
    tuner.search(data.train, validation_data=data.validation,
                 epochs=args.epochs, shuffle=False, verbose=2)
    print(f"{tuner_id}: done", flush=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_trials(project_dir):
    """Each `trial_*/trial.json` the oracle wrote, with the `worker.json`
    the worker wrote beside it (what `keras_seqmem.tuning.read_trials`
    reads; done here without importing TensorFlow in this process)."""
    records = []
    for name in sorted(os.listdir(project_dir)):
        folder = os.path.join(project_dir, name)
        if not (name.startswith("trial_")
                and os.path.exists(os.path.join(folder, "trial.json"))):
            continue
        with open(os.path.join(folder, "trial.json")) as f:
            state = json.load(f)
        tuner_id = None
        if os.path.exists(os.path.join(folder, "worker.json")):
            with open(os.path.join(folder, "worker.json")) as f:
                tuner_id = json.load(f)["tuner_id"]
        records.append({"trial_id": state["trial_id"],
                        "status": state["status"], "score": state["score"],
                        "hyperparameters": state["hyperparameters"]["values"],
                        "tuner_id": tuner_id})
    return sorted(records, key=lambda r: r["trial_id"])


def launch(args):
    """Starts the chief and the workers, waits, and returns the records."""
    project_dir = os.path.join(args.directory, args.project_name)
    for path in (project_dir, project_dir + "_ready"):
        shutil.rmtree(path, ignore_errors=True)  # a fresh search
    os.makedirs(args.directory, exist_ok=True)
    port = free_port()
    argv = [sys.executable, os.path.abspath(__file__), "--role", "tuner",
            "--task", args.task, "--length", str(args.length),
            "--trials", str(args.trials), "--epochs", str(args.epochs),
            "--workers", str(args.workers),
            "--train-size", str(args.train_size),
            "--test-size", str(args.test_size),
            "--batch-size", str(args.batch_size),
            "--directory", args.directory,
            "--project-name", args.project_name,
            "--threads", str(args.threads), "--timeout", str(args.timeout)]
    for text in args.fix:
        argv += ["--fix", text]
    env = dict(os.environ, KERASTUNER_ORACLE_IP="127.0.0.1",
               KERASTUNER_ORACLE_PORT=str(port),
               TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL",
                                                   "2"))
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)
    ids = ["chief"] + [f"tuner{i}" for i in range(args.workers)]
    print(f"starting {', '.join(ids)} on 127.0.0.1:{port}, {args.trials} "
          f"trials of {args.epochs} epoch(s) on {args.task} (length "
          f"{args.length}), trials in {project_dir}", flush=True)
    start = time.time()
    processes = {
        tuner_id: subprocess.Popen(argv, env=dict(env,
                                                  KERASTUNER_TUNER_ID=tuner_id))
        for tuner_id in ids}
    failed = []
    try:
        for tuner_id in ids[1:]:
            left = max(1.0, args.timeout - (time.time() - start))
            if processes[tuner_id].wait(timeout=left) != 0:
                failed.append(tuner_id)
    finally:
        chief = processes["chief"]
        try:  # it may be sleeping in its 20 s wait; the records are final
            chief.wait(timeout=1)
        except subprocess.TimeoutExpired:
            chief.terminate()
            chief.wait(timeout=30)
        for process in processes.values():
            if process.poll() is None:
                process.kill()
    if failed:
        raise SystemExit(f"worker(s) {failed} failed")
    records = read_trials(project_dir)
    print(f"\n{len(records)} trials in {time.time() - start:.0f} s")
    print(f"{'trial':>5}  {'worker':8}  {'status':10}  {'val_loss':>9}  "
          f"hyperparameters")
    for record in records:
        score = ("" if record["score"] is None
                 else f"{record['score']:.4f}")
        print(f"{record['trial_id']:>5}  {record['tuner_id'] or '?':8}  "
              f"{record['status']:10}  {score:>9}  "
              f"{json.dumps(record['hyperparameters'], sort_keys=True)}")
    by_worker = {}
    for record in records:
        by_worker[record["tuner_id"]] = by_worker.get(record["tuner_id"],
                                                      0) + 1
    print("trials per worker: " + ", ".join(
        f"{k}: {v}" for k, v in sorted(by_worker.items(), key=str)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"project_dir": project_dir, "trials": records}, f,
                      indent=1)
    return records


def main(argv=None):
    args = parse_args(argv)
    if args.role == "tuner":
        run_tuner(args)
        return 0
    launch(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
