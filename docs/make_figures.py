"""Draws the documentation's figures.

    python docs/make_figures.py                        # from the layers
    python docs/make_figures.py --benchmark-json r.json # + the speed chart

The impulse response is computed by the layers themselves; the speed chart
draws the ratios a run of `benchmarks/recurrent.py --json r.json` measured;
the learning curves come from `examples/long_memory.py`.
"""

import argparse
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import keras_seqmem  # noqa: E402

FIGURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pages",
                       "figures")


def leaky_impulse_response(path):
    """Memory of a leaky unit: response to one input pulse, per γ."""
    gammas = [1.0, 2.0, 5.0, 20.0, 50.0]
    steps = 100
    layer = keras_seqmem.LeakyRNN(
        len(gammas), gamma=gammas, activation="linear",
        kernel_initializer="ones", recurrent_initializer="zeros",
        return_sequences=True,
    )
    pulse = np.zeros((1, steps, 1), "float32")
    pulse[0, 0, 0] = 1.0
    response = np.asarray(layer(pulse))[0]  # (steps, units)
    response = response / response[0]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for k, gamma in enumerate(gammas):
        ax.plot(response[:, k], label=f"γ = {gamma:g}")
    ax.set_xlabel("steps after the pulse")
    ax.set_ylabel("h_t / h_0")
    ax.set_title("LeakyRNN: a unit forgets over about γ steps")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def benchmark_ratios(results, path):
    """Bars: our throughput / Keras's, per layer, mode and jit setting."""
    rows = results["rows"]
    labels, ratios = [], []
    for row in rows:
        jit = "XLA" if row["jit"] else "no XLA"
        labels.append(f"{row['layer']}\n{row['mode']}\n{jit}")
        ratios.append(row["ratio"])
    fig, ax = plt.subplots(figsize=(11, 4.2))
    colors = ["tab:green" if r >= 1.0 else "tab:red" for r in ratios]
    ax.bar(range(len(ratios)), ratios, color=colors)
    ax.axhline(1.0, color="black", linewidth=1)
    ax.set_xticks(range(len(ratios)))
    ax.set_xticklabels(labels, fontsize=7, rotation=0)
    ax.set_ylabel("throughput / Keras layer")
    args = results["args"]
    env = results["environment"]
    device = ("CPU only" if env["accelerator"] == "none"
              else env["accelerator"])
    ax.set_title(
        f"vs keras.layers.LSTM / SimpleRNN: batch {args['batch']}, "
        f"{args['steps']} steps, {args['features']} features, "
        f"{args['units']} units ({device}, {env['cpu_count']} CPU cores)",
        fontsize=9,
    )
    for k, r in enumerate(ratios):
        ax.text(k, r + 0.02, f"{r:.2f}", ha="center", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmark-json", default=None,
                        help="results of benchmarks/recurrent.py --json")
    args = parser.parse_args()
    os.makedirs(FIGURES, exist_ok=True)
    path = os.path.join(FIGURES, "leaky_impulse_response.png")
    leaky_impulse_response(path)
    print("wrote", path)
    if args.benchmark_json:
        with open(args.benchmark_json) as f:
            results = json.load(f)
        path = os.path.join(FIGURES, "benchmark_recurrent.png")
        benchmark_ratios(results, path)
        print("wrote", path)


if __name__ == "__main__":
    main()
