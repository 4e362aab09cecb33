"""Pictures of what the layers do, written as PNG files with matplotlib.

    plot_alignment(weights, source_tokens, target_tokens, "alignment.png")
    plot_memory_attention(attention, sentences, "hops.png", question="...")
    plot_ntm_weightings(write_weightings, read_weightings, "ntm.png")
    plot_ponder_time(steps + remainders, "ponder.png", labels=[...])
    plot_ponder_by(difficulty, {"tau=0.001": ponder}, "ponder_by.png")

Needs the `plots` extra (matplotlib): ``pip install "keras-seqmem[plots]"``;
without it, each function raises a one-line `ImportError` saying so.
"""

import os

import numpy as np


def _pyplot():
    from keras_seqmem._extras import require

    require("keras_seqmem.plots", ["matplotlib"])
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    """Writes `fig` as PNG to `path` (creating its folder), closes it, and
    returns `path`."""
    plt = _pyplot()
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


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
    return _save(fig, path)


def plot_memory_attention(attention, sentences, path, question=None,
                          answer=None, predicted=None, supporting=()):
    """Hop-by-hop attention of a memory network over story sentences.

    As Table 2 of Sukhbaatar et al. (2015): one row per story sentence (its
    text as the label, supporting facts marked `*`), one column per hop,
    each column the read weights `p^k` of that hop (white 0, black 1, the
    value written in each cell).

    Args:
        attention: `(hops, sentences)` weights.
        sentences: The sentence strings, oldest first.
        path: The PNG file to write (folders are created).
        question, answer, predicted: Shown in the title when given.
        supporting: Indices of the supporting sentences.

    Returns:
        `path`.
    """
    attention = np.asarray(attention, dtype="float64")
    if attention.ndim != 2 or attention.shape[1] != len(sentences):
        raise ValueError(
            f"plot_memory_attention expected attention of shape (hops, "
            f"{len(sentences)}) for {len(sentences)} sentences, got shape "
            f"{attention.shape}."
        )
    hops = attention.shape[0]
    plt = _pyplot()
    height = max(2.5, 0.3 * len(sentences) + 1.4)
    width = 0.07 * max(len(s) for s in sentences) + 0.8 * hops + 2.0
    fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    ax.imshow(attention.T, cmap="gray_r", vmin=0.0, vmax=1.0, aspect="auto",
              interpolation="nearest")
    for (k, i), value in np.ndenumerate(attention):
        ax.text(k, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                color="white" if value > 0.5 else "black")
    ax.set_xticks(range(hops))
    ax.set_xticklabels([f"hop {k + 1}" for k in range(hops)])
    ax.xaxis.tick_top()
    supporting = set(supporting)
    ax.set_yticks(range(len(sentences)))
    ax.set_yticklabels([("* " if i in supporting else "") + s
                        for i, s in enumerate(sentences)], fontsize=8)
    parts = []
    if question:
        parts.append(question)
    if answer is not None:
        parts.append(f"answer: {answer}")
    if predicted is not None:
        parts.append(f"predicted: {predicted}")
    if parts:
        fig.suptitle("   ".join(parts), fontsize=9)
    return _save(fig, path)


def _show(token):
    return "_" if token == " " else token  # a space would be invisible


def plot_ntm_weightings(write_weightings, read_weightings, path,
                        inputs=None, outputs=None, locations=None,
                        title=None):
    """Write and read weightings of a Neural Turing Machine over time.

    As Figure 6 of Graves, Wayne & Danihelka (2014): one panel for the write
    weightings and one for the read weightings, memory locations down, time
    steps across, each column a weighting `w_t` (white 0, black 1); with
    `inputs` and `outputs` given, the input and output vectors are drawn
    above them, time steps aligned.

    Args:
        write_weightings: `(timesteps, memory_size)`, or `(timesteps,
            heads, memory_size)` (the heads are drawn side by side as
            separate panels), e.g. one example of `NTM(...,
            return_weightings=True)`'s output.
        read_weightings: The same for the read heads.
        path: The PNG file to write (folders are created).
        inputs: Optional `(timesteps, features)` input vectors.
        outputs: Optional `(timesteps, features)` outputs (e.g. sigmoid
            of the logits).
        locations: Optional `(first, last)` (inclusive) range of memory
            locations to draw, e.g. those the heads visit; default all.
        title: Optional figure title.

    Returns:
        `path`.
    """
    panels = []
    for label, weights in (("write", write_weightings),
                           ("read", read_weightings)):
        weights = np.asarray(weights, dtype="float64")
        if weights.ndim == 2:
            weights = weights[:, None, :]
        if weights.ndim != 3:
            raise ValueError(
                f"plot_ntm_weightings expected {label} weightings of shape "
                f"(timesteps, memory_size) or (timesteps, heads, "
                f"memory_size), got shape {weights.shape}."
            )
        heads = weights.shape[1]
        first, last = 0, weights.shape[2] - 1
        if locations is not None:
            first, last = int(locations[0]), int(locations[1])
            if not 0 <= first <= last < weights.shape[2]:
                raise ValueError(
                    f"plot_ntm_weightings expected locations (first, last) "
                    f"within [0, {weights.shape[2] - 1}], got {locations}."
                )
        for h in range(heads):
            name = f"{label} weightings" + (f" (head {h})" if heads > 1 else "")
            panels.append((name, weights[:, h, first:last + 1].T,
                           f"location − {first}" if first else "location"))
    steps = {p[1].shape[1] for p in panels}
    if len(steps) != 1:
        raise ValueError(
            f"plot_ntm_weightings expected write and read weightings over "
            f"the same number of time steps, got {sorted(steps)}."
        )
    vectors = []
    for label, array in (("inputs", inputs), ("outputs", outputs)):
        if array is None:
            continue
        array = np.asarray(array, dtype="float64")
        if array.ndim != 2 or array.shape[0] not in steps:
            raise ValueError(
                f"plot_ntm_weightings expected {label} of shape "
                f"({next(iter(steps))}, features), got shape {array.shape}."
            )
        vectors.append((label, array.T, "channels"))
    rows = vectors + panels
    plt = _pyplot()
    heights = [min(4.0, max(1.0, r[1].shape[0] / 12.0)) for r in rows]
    width = max(5.5, 0.12 * next(iter(steps)) + 2.0)
    fig, axes = plt.subplots(
        len(rows), 1, figsize=(width, sum(heights) + 0.5 * len(rows) + 0.6),
        layout="constrained", gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    for ax, (name, image, ylabel) in zip(axes[:, 0], rows):
        ax.imshow(image, cmap="gray_r", vmin=0.0, vmax=1.0, aspect="auto",
                  interpolation="nearest")
        ax.set_title(name, fontsize=9, loc="left")
        ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(labelsize=7)
    axes[-1, 0].set_xlabel("time step")
    if title:
        fig.suptitle(title, fontsize=9)
    return _save(fig, path)


def plot_ponder_time(ponder, path, labels=None, title=None,
                     max_ponder_steps=None):
    """Ponder time `N(t) + R(t)` of an `ACT` cell at every input step.

    As Figures 9 and 12 of Graves (2016): one bar per input step of one
    sequence, e.g. `steps[0] + remainders[0]` of `ACTRNN(...,
    return_ponder=True)`.

    Args:
        ponder: `(timesteps,)` ponder times.
        path: The PNG file to write (folders are created).
        labels: Optional tick label per input step (e.g. the inputs).
        title: Optional title.
        max_ponder_steps: Optional bound, drawn as a dashed line.

    Returns:
        `path`.
    """
    ponder = np.asarray(ponder, dtype="float64")
    if ponder.ndim != 1:
        raise ValueError(
            f"plot_ponder_time expected ponder times of shape (timesteps,), "
            f"got {ponder.shape}.")
    if labels is not None and len(labels) != len(ponder):
        raise ValueError(
            f"plot_ponder_time expected {len(ponder)} labels, got "
            f"{len(labels)}.")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(4.0, 0.35 * len(ponder) + 1.5), 3.0))
    ax.bar(range(len(ponder)), ponder, color="0.3")
    if max_ponder_steps is not None:
        ax.axhline(max_ponder_steps + 1, color="0.5", linestyle="--",
                   linewidth=1, label="bound M + 1")
        ax.legend(loc="upper right", fontsize=8)
    ax.set_xlabel("input step")
    ax.set_ylabel("ponder time N(t) + R(t)")
    if labels is not None:
        ax.set_xticks(range(len(ponder)))
        ax.set_xticklabels([str(label) for label in labels], fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_ponder_by(difficulty, ponder_by_label, path, xlabel="difficulty",
                   title=None):
    """Mean ponder time against a measure of difficulty, one line per model.

    As Figure 5 of Graves (2016), where the difficulty of a parity input is
    its number of non-zero entries.

    Args:
        difficulty: `(n,)` the difficulty of each example.
        ponder_by_label: `{label: (n,) ponder times}`, one per model.
        path: The PNG file to write (folders are created).
        xlabel: Label of the difficulty axis.
        title: Optional title.

    Returns:
        `path`.
    """
    difficulty = np.asarray(difficulty)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 3.5))
    values = np.unique(difficulty)
    for label, ponder in ponder_by_label.items():
        ponder = np.asarray(ponder, dtype="float64")
        if ponder.shape != difficulty.shape:
            raise ValueError(
                f"plot_ponder_by expected ponder times of shape "
                f"{difficulty.shape} for {label!r}, got {ponder.shape}.")
        means = [ponder[difficulty == v].mean() for v in values]
        ax.plot(values, means, marker=".", label=str(label))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("mean ponder time")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)
