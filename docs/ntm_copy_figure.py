"""Trains an NTM on copy for a short while and draws its read and write
weightings on one copy sequence (the docs figure, Figure 6 of Graves et al.).

    python docs/ntm_copy_figure.py --steps 7000 --eval-every 1000  # the docs
    python docs/ntm_copy_figure.py --steps 3000 --eval-every 500 \
        --max-length 5 --memory-size 20 --word-size 8 --controller 32 \
        --plot-length 5 --name ntm_copy_small --out /tmp/ntm_small  # small
    python docs/ntm_copy_figure.py --steps 20 --out /tmp   # a quick look

This is a short run on CPU, not the converged reproduction (copy of lengths
1-20 to < 0.1 bit per sequence, which needs ~10^5 steps). It prints the
held-out bits per sequence as it goes and writes, under `--out`,
`<name>_weightings.png`, `<name>_training.json` (settings, curve, wall
time) and the trained weights `<name>.weights.h5` (`--name`, default
`ntm_copy`).
"""

import argparse
import json
import os
import time

import keras
import numpy as np

import keras_seqmem
from keras_seqmem.plots import plot_ntm_weightings
from keras_seqmem.tasks import algorithmic

FIGURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pages",
                       "figures")


def build(args):
    ntm = keras_seqmem.NTM(
        controller=args.controller, memory_size=args.memory_size,
        word_size=args.word_size, units=8, return_sequences=True,
        weighting_init=args.weighting_init,
        name="ntm")
    inputs = keras.Input((None, 10))
    model = keras.Model(inputs, ntm(inputs))
    model.compile(
        keras.optimizers.Adam(args.learning_rate, global_clipnorm=50.0),
        keras.losses.BinaryCrossentropy(from_logits=True),
        jit_compile=True)
    return model, ntm


def evaluate(model, x, y, mask):
    logits = model.predict(x, batch_size=len(x), verbose=0)
    return algorithmic.bits_per_sequence(y, logits, mask)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--min-length", type=int, default=1)
    parser.add_argument("--max-length", type=int, default=20)
    parser.add_argument("--memory-size", type=int, default=128)
    parser.add_argument("--word-size", type=int, default=20)
    parser.add_argument("--controller", type=int, default=100)
    parser.add_argument("--weighting-init", default="learned",
                        choices=("learned", "constant", "random"))
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--plot-length", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=FIGURES)
    parser.add_argument("--name", default="ntm_copy",
                        help="prefix of the files written")
    args = parser.parse_args()
    keras.utils.set_random_seed(args.seed)

    lengths = dict(min_length=args.min_length, max_length=args.max_length)
    val = algorithmic.COPY.generate(500, seed=10_000 + args.seed, **lengths)
    model, ntm = build(args)
    probe = keras_seqmem.NTM(
        controller=args.controller, memory_size=args.memory_size,
        word_size=args.word_size, units=8, return_sequences=True,
        weighting_init=args.weighting_init,
        return_weightings=True)
    probe(val[0][:1])

    def sharpness():
        """Mean over 32 held-out sequences and their steps of the largest
        read weight (1/N for a uniform weighting, 1 for a one-hot one)."""
        probe.set_weights(ntm.get_weights())
        _, read_w, _ = probe(val[0][:32])
        return float(np.mean(np.max(np.asarray(read_w), axis=-1)))

    curve = []
    start = time.time()
    done = 0
    chunk_seed = args.seed
    while done < args.steps:
        n = min(args.eval_every, args.steps - done)
        # Fresh sequences for every step, as in the paper.
        x, y, mask = algorithmic.COPY.generate(
            n * args.batch_size, seed=chunk_seed, **lengths)
        chunk_seed += 1
        history = model.fit(x, y, sample_weight=mask,
                            batch_size=args.batch_size, epochs=1,
                            shuffle=False, verbose=0)
        done += n
        bits = evaluate(model, *val)
        curve.append({"step": done, "loss": history.history["loss"][-1],
                      "val_bits_per_sequence": bits,
                      "mean_max_read_weight": sharpness(),
                      "seconds": time.time() - start})
        print(f"step {done}: loss {curve[-1]['loss']:.4f}, held-out "
              f"{bits:.2f} bits/sequence, mean max read weight "
              f"{curve[-1]['mean_max_read_weight']:.3f}, "
              f"{curve[-1]['seconds']:.0f} s", flush=True)

    os.makedirs(args.out, exist_ok=True)
    model.save_weights(os.path.join(args.out, f"{args.name}.weights.h5"))

    # One copy sequence of --plot-length vectors, with its weightings.
    x, y, mask = algorithmic.COPY.generate(
        1, seed=99, min_length=args.plot_length, max_length=args.plot_length)
    probe.set_weights(ntm.get_weights())
    logits, read_w, write_w = probe(x)
    outputs = 1.0 / (1.0 + np.exp(-np.asarray(logits)[0]))
    bits = algorithmic.bits_per_sequence(y, np.asarray(logits), mask)
    # Draw the locations the heads visited (weight > 0.1 at some step).
    visited = np.flatnonzero(
        np.maximum(np.asarray(read_w)[0].max(axis=(0, 1)),
                   np.asarray(write_w)[0].max(axis=(0, 1))) > 0.1)
    locations = None
    if visited.size:
        locations = (max(0, int(visited.min()) - 2),
                     min(args.memory_size - 1, int(visited.max()) + 2))
    os.makedirs(args.out, exist_ok=True)
    png = os.path.join(args.out, f"{args.name}_weightings.png")
    plot_ntm_weightings(
        np.asarray(write_w)[0], np.asarray(read_w)[0], png,
        inputs=x[0], outputs=outputs * mask[0][:, None], locations=locations,
        title=(f"NTM on copy after {done} steps of batch {args.batch_size} "
               f"(length {args.plot_length}: {bits:.0f} wrong bits)"))
    record = {"settings": vars(args), "curve": curve,
              "plotted_sequence_wrong_bits": bits, "png": png}
    with open(os.path.join(args.out, f"{args.name}_training.json"), "w") as f:
        json.dump(record, f, indent=1)
    print(f"wrote {png}")


if __name__ == "__main__":
    main()
