"""Draws the documentation's figures from the layers themselves.

    python docs/make_figures.py            # writes docs/pages/figures/*.png

The learning curves come from `examples/long_memory.py` and the speed chart
from `benchmarks/recurrent.py --json`; this script draws what only needs the
layers.
"""

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


def main():
    os.makedirs(FIGURES, exist_ok=True)
    path = os.path.join(FIGURES, "leaky_impulse_response.png")
    leaky_impulse_response(path)
    print("wrote", path)


if __name__ == "__main__":
    main()
