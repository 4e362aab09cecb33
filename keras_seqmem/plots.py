"""Pictures of what the layers do, written as PNG files with matplotlib.

    plot_alignment(weights, source_tokens, target_tokens, "alignment.png")
"""

import os

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt


def plot_alignment(weights, source_tokens, target_tokens, path, title=None):
    """Heatmap of attention weights, source tokens × target tokens.

    As Figure 3 of Bahdanau et al. (2015): one column per source token, one
    row per generated target token, each row the attention distribution
    `α_t` used to produce that token (white 0, black 1).

    Args:
        weights: `(T_t, T_s)` array of weights (rows for padded steps
            cropped off by the caller, or cropped here to the token counts).
        source_tokens: The `T_s` source token strings (x axis).
        target_tokens: The `T_t` target token strings (y axis).
        path: The PNG file to write (folders are created).
        title: Optional title.

    Returns:
        `path`.
    """
    weights = np.asarray(weights, dtype="float64")
    if weights.ndim != 2:
        raise ValueError(
            f"plot_alignment expected weights of shape (target_steps, "
            f"source_steps), got shape {weights.shape}."
        )
    weights = weights[: len(target_tokens), : len(source_tokens)]
    if weights.shape != (len(target_tokens), len(source_tokens)):
        raise ValueError(
            f"plot_alignment expected at least {len(target_tokens)} x "
            f"{len(source_tokens)} weights for the given tokens, got shape "
            f"{weights.shape}."
        )
    plt = _pyplot()
    width = max(3.0, 0.32 * len(source_tokens) + 1.5)
    height = max(2.5, 0.32 * len(target_tokens) + 1.2)
    fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    image = ax.imshow(weights, cmap="gray_r", vmin=0.0, vmax=1.0,
                      aspect="auto", interpolation="nearest")
    ax.set_xticks(range(len(source_tokens)))
    ax.set_xticklabels([_show(t) for t in source_tokens], rotation=90)
    ax.set_yticks(range(len(target_tokens)))
    ax.set_yticklabels([_show(t) for t in target_tokens])
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    ax.xaxis.set_label_position("top")
    ax.xaxis.tick_top()
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if title:
        # A figure title, placed above the top axis labels by the layout.
        fig.suptitle(title, fontsize=9)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _show(token):
    return "_" if token == " " else token  # a space would be invisible
