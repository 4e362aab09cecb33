"""The dates task across attention mechanisms and seeds, from results files.

Reads the results files that `examples/dates.py` wrote (one per mechanism,
order and seed), checks that they share every setting but the mechanism,
the order and the seed, and prints (and writes) exact match per mechanism:
greedy and beam search, each seed and the mean.

    python examples/dates.py --attention luong --seed 1     # ... each run
    python examples/dates_summary.py examples/results/dates_2026-12-07
"""

import argparse
import collections
import json
import pathlib
import sys

import _results

VARYING = ("attention", "attention_order", "attention_layer_size", "seed",
           "out", "results")


def load(folder):
    """{(attention, order): {seed: record}} and the settings they share."""
    runs = collections.defaultdict(dict)
    shared = None
    for path in sorted(pathlib.Path(folder).glob("*seed*.json")):
        record = json.loads(path.read_text())
        settings = record["settings"]
        if settings.get("quick"):
            continue
        common = {k: v for k, v in settings.items() if k not in VARYING}
        if shared is None:
            shared = common
        elif common != shared:
            raise SystemExit(
                f"error: {path} was trained with other settings than the "
                f"first file ({common} vs {shared}); compare like with like.")
        key = (settings.get("attention", "bahdanau"),
               settings.get("attention_order", "bahdanau"),
               settings.get("attention_layer_size"))
        runs[key][settings["seed"]] = {
            "file": str(path),
            "greedy": record["decoding"]["greedy"]["exact_match"],
            "beam": record["decoding"]["beam"]["exact_match"],
        }
    if not runs:
        raise SystemExit(f"error: no dates results files in {folder}; run "
                         f"examples/dates.py first.")
    return runs, shared


def summarise(runs):
    rows = []
    for (attention, order, layer_size), by_seed in sorted(
            runs.items(), key=lambda item: tuple(map(str, item[0]))):
        seeds = sorted(by_seed)
        greedy = [by_seed[s]["greedy"] for s in seeds]
        beam = [by_seed[s]["beam"] for s in seeds]
        rows.append({
            "attention": attention, "order": order,
            "attention_layer_size": layer_size, "seeds": seeds,
            "greedy": greedy, "beam": beam,
            "greedy_mean": round(sum(greedy) / len(greedy), 4),
            "beam_mean": round(sum(beam) / len(beam), 4),
            "files": [by_seed[s]["file"] for s in seeds],
        })
    return rows


def table(rows):
    lines = ["| attention | order | W_a | seeds | greedy (per seed) "
             "| greedy mean | beam-4 (per seed) | beam-4 mean |",
             "|---|---|---|---|---|---:|---|---:|"]
    for r in rows:
        lines.append(
            f"| {r['attention']} | {r['order']} | "
            f"{r['attention_layer_size'] or '-'} | "
            f"{', '.join(map(str, r['seeds']))} | "
            f"{' / '.join(f'{v:.4f}' for v in r['greedy'])} | "
            f"{r['greedy_mean']:.4f} | "
            f"{' / '.join(f'{v:.4f}' for v in r['beam'])} | "
            f"{r['beam_mean']:.4f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="a folder of examples/dates.py "
                        "results files")
    parser.add_argument("--out", default=None, help="summary JSON (default "
                        "<folder>/summary.json)")
    args = parser.parse_args(argv)
    if not pathlib.Path(args.folder).is_dir():
        print(f"error: no folder {args.folder}", file=sys.stderr)
        return 2
    runs, shared = load(args.folder)
    rows = summarise(runs)
    print(table(rows))
    out = args.out or str(pathlib.Path(args.folder) / "summary.json")
    record = {"provenance": _results.provenance("dates_summary.py", []),
              "settings": shared, "rows": rows}
    print(f"summary: {_results.write(out, record)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
