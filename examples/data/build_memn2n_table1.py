"""Transcribe Table 1 of "End-To-End Memory Networks" from the paper's PDF.

Writes `memn2n_table1.tsv` (the figures examples/babi_memn2n.py compares
with) and `memn2n_table1_verification.json` (per column and row: value,
verified, source, the exact line of the PDF's text it was read from) next to
this script, and lists every figure of an older transcription (`--compare`)
that differs from the paper.

    pip install pypdf
    python examples/data/build_memn2n_table1.py --pdf memn2n.pdf \
        --compare ../shared/data/babi/memn2n_table1.tsv

The PDF used for the stored files is arXiv:1503.08895v5 (stamp
"arXiv:1503.08895v5 [cs.NE] 24 Nov 2015", 11 pages, pdfTeX, created
2015-11-25), found in the public GitHub repository
yshen47/ECE544_text_generation as "End-To-End Memory Networks.pdf" (commit
89530775ed7b8c91fa227b575a3773f695c3ff3e, git blob
35e8577e227a50cda7d4da056fc7abd6ed9a81aa); its SHA-256 is checked below, so
another PDF (another arXiv version, the NIPS camera-ready) is refused unless
`--any-pdf` is given, and then its own hash is recorded.
"""

import argparse
import csv
import datetime
import hashlib
import json
import logging
import pathlib
import re
import sys

HERE = pathlib.Path(__file__).resolve().parent
PDF_SHA256 = "b3fa262999c77e840db9582de9f61dd486cf7f835240538450d1972dc40c646b"
PDF_ORIGIN = {
    "repository": "yshen47/ECE544_text_generation",
    "commit": "89530775ed7b8c91fa227b575a3773f695c3ff3e",
    "path": "End-To-End Memory Networks.pdf",
    "git_blob": "35e8577e227a50cda7d4da056fc7abd6ed9a81aa",
    "url": ("https://github.com/yshen47/ECE544_text_generation/blob/"
            "89530775ed7b8c91fa227b575a3773f695c3ff3e/"
            "End-To-End%20Memory%20Networks.pdf"),
}
ARXIV_STAMP = "arXiv:1503.08895v5  [cs.NE]  24 Nov 2015"
CITATION = {
    "authors": ["Sainbayar Sukhbaatar", "Arthur Szlam", "Jason Weston",
                "Rob Fergus"],
    "title": "End-To-End Memory Networks",
    "venue": "Advances in Neural Information Processing Systems 28 "
             "(NIPS 2015)",
    "arxiv": "1503.08895 (v5, 24 Nov 2015)",
    "table": "Table 1 (Section 4.4): test error rates (%) on the 20 bAbI QA "
             "tasks, 1k training examples; mean error and failed tasks for "
             "10k training examples at its bottom",
}
# (our column, the paper's column heading read top to bottom, its group)
COLUMNS = [
    ("MemNN_strong_sup", "Strongly Supervised MemNN [22]", "Baseline"),
    ("LSTM", "LSTM [22]", "Baseline"),
    ("MemNN_WSH", "MemNN WSH", "Baseline"),
    ("BoW", "BoW", "MemN2N"),
    ("PE", "PE", "MemN2N"),
    ("PE_LS", "PE LS", "MemN2N"),
    ("PE_LS_RN", "PE LS RN", "MemN2N"),
    ("1hop_PE_LS_joint", "1 hop PE LS joint", "MemN2N"),
    ("2hops_PE_LS_joint", "2 hops PE LS joint", "MemN2N"),
    ("3hops_PE_LS_joint", "3 hops PE LS joint", "MemN2N"),
    ("PE_LS_RN_joint", "PE LS RN joint", "MemN2N"),
    ("PE_LS_LW_joint", "PE LS LW joint", "MemN2N"),
]
# The heading as pypdf prints it (four lines for the stacked cells).
HEADING = [
    "Baseline MemN2N",
    "Strongly PE 1 hop 2 hops 3 hops PE PE LS",
    "Supervised LSTM MemNN PE LS PE LS PE LS PE LS LS RN LW",
    "Task MemNN [22] [22] WSH BoW PE LS RN joint joint joint joint joint",
]
# keras_seqmem.tasks.babi.TASK_NAMES (not imported: it would load Keras).
TASK_NAMES = {
    1: "single-supporting-fact", 2: "two-supporting-facts",
    3: "three-supporting-facts", 4: "two-arg-relations",
    5: "three-arg-relations", 6: "yes-no-questions", 7: "counting",
    8: "lists-sets", 9: "simple-negation", 10: "indefinite-knowledge",
    11: "basic-coreference", 12: "conjunction", 13: "compound-coreference",
    14: "time-reasoning", 15: "basic-deduction", 16: "basic-induction",
    17: "positional-reasoning", 18: "size-reasoning", 19: "path-finding",
    20: "agents-motivations",
}
# Summary rows: (our row label, the paper's line start, section).
SUMMARIES = [
    ("mean_error", "Mean error (%)", "1k"),
    ("failed_tasks_gt5", "Failed tasks (err. > 5%)", "1k"),
    ("mean_error_10k", "Mean error (%)", "10k"),
    ("failed_tasks_gt5_10k", "Failed tasks (err. > 5%)", "10k"),
]
NUMBER = r"(\d+(?:\.\d)?)"
N = len(COLUMNS)


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def pdf_text(path):
    """The text of each page, as pypdf extracts it."""
    try:
        import pypdf
    except ImportError:
        fail("reading the PDF needs pypdf: pip install pypdf")
    # pypdf warns that a figure's font needs fontTools; the table's text
    # does not.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    reader = pypdf.PdfReader(str(path))
    return [page.extract_text() for page in reader.pages], pypdf.__version__


def parse_table1(pages):
    """Table 1's rows from the page that holds its caption -> dict."""
    hits = [t for t in pages if "Table 1: Test error rates (%)" in t]
    if len(hits) != 1:
        fail(f"found Table 1's caption on {len(hits)} pages, not 1: is this "
             "the End-To-End Memory Networks paper (arXiv:1503.08895)?")
    lines = [" ".join(line.split()) for line in hits[0].splitlines()]
    missing = [h for h in HEADING if h not in lines]
    if missing:
        fail(f"Table 1's column headings differ from v5's: {missing}")
    tasks, summaries, excerpts = {}, {}, {}
    task_row = re.compile(r"^(\d+): (.+?) " + " ".join([NUMBER] * N) + "$")
    section = "1k"
    for line in lines:
        if line == "On 10k training data":
            section = "10k"
            continue
        match = task_row.match(line)
        if match and section == "1k":
            task = int(match.group(1))
            tasks[task] = [float(v) for v in match.groups()[2:]]
            excerpts[str(task)] = line
            continue
        for label, start, where in SUMMARIES:
            if where == section and line.startswith(start + " "):
                values = line[len(start):].split()
                if len(values) != N:
                    fail(f"{label}: {len(values)} values, not {N}: {line!r}")
                cast = int if label.startswith("failed") else float
                summaries[label] = [cast(v) for v in values]
                excerpts[label] = line
    if sorted(tasks) != list(range(1, 21)):
        fail(f"read task rows {sorted(tasks)}, not 1-20")
    if sorted(summaries) != sorted(s[0] for s in SUMMARIES):
        fail(f"read summary rows {sorted(summaries)}")
    return tasks, summaries, excerpts


def consistency(tasks, summaries):
    """Each column's printed 1k mean and failed count against the ones the
    per-task figures give (the paper rounds per-task errors to 0.1, so a
    task printed as 5.0 may have failed)."""
    notes = []
    for i, (column, _, _) in enumerate(COLUMNS):
        values = [tasks[t][i] for t in range(1, 21)]
        mean = sum(values) / 20
        failed = sum(v > 5.0 for v in values)
        at_five = [t for t in range(1, 21) if tasks[t][i] == 5.0]
        if abs(mean - summaries["mean_error"][i]) > 0.05 + 1e-9:
            notes.append(f"{column}: printed mean {summaries['mean_error'][i]}"
                         f", per-task figures give {mean:.2f}")
        if failed != summaries["failed_tasks_gt5"][i]:
            notes.append(
                f"{column}: printed failed {summaries['failed_tasks_gt5'][i]}"
                f", per-task figures > 5.0 give {failed}"
                + (f" (task {at_five} printed as 5.0)" if at_five else ""))
    return notes


def text_against_table(pages, tasks, summaries):
    """Figures of Table 1 that the paper's prose (Section 4.4) repeats,
    compared with the table: (claim, prose value, table value, excerpt)."""
    text = " ".join(" ".join(pages).split())
    index = {c: i for i, (c, _, _) in enumerate(COLUMNS)}
    checks = [
        (r"1k: (\d+\.\d)% for MemNN vs (\d+\.\d)% for MemN2N with position "
         r"encoding \+ linear start \+ random noise, jointly trained",
         [("1k mean error, strongly supervised MemNN",
           summaries["mean_error"][index["MemNN_strong_sup"]]),
          ("1k mean error, PE LS RN joint",
           summaries["mean_error"][index["PE_LS_RN_joint"]])]),
        (r"10k: (\d+\.\d)% for MemNN vs",
         [("10k mean error, strongly supervised MemNN",
           summaries["mean_error_10k"][index["MemNN_strong_sup"]])]),
        (r"See task 16 in Table 1, where PE alone gets (\d+\.\d)% error, "
         r"while using LS reduces it to (\d+\.\d)%",
         [("task 16, PE", tasks[16][index["PE"]]),
          ("task 16, PE LS", tasks[16][index["PE_LS"]])]),
    ]
    found = []
    for pattern, claims in checks:
        match = re.search(pattern, text)
        if not match:
            fail(f"the prose of Section 4.4 no longer reads {pattern!r}")
        for (claim, table), prose in zip(claims, match.groups()):
            found.append({"claim": claim, "prose": float(prose),
                          "table": table, "agree": float(prose) == table,
                          "excerpt": match.group(0)})
    return found


# How each column's heading ends in pdfminer's text, where a column's cells
# come out as one block under its heading.
PDFMINER_HEADING_ENDS = {
    "MemNN_strong_sup": "Supervised MemNN [22]", "LSTM": "[22]",
    "MemNN_WSH": "WSH", "BoW": "BoW", "PE": "PE", "PE_LS": "PE LS",
    "PE_LS_RN": "PE LS RN", "1hop_PE_LS_joint": "1 hop PE LS joint",
    "2hops_PE_LS_joint": "2 hops PE LS joint",
    "3hops_PE_LS_joint": "3 hops PE LS joint",
    "PE_LS_RN_joint": "PE LS RN joint", "PE_LS_LW_joint": "PE LS LW joint",
}


def cross_check(pdf, tasks, summaries):
    """Read Table 1 a second time with pdfminer.six, which lays the table
    out column by column (heading, 20 tasks, mean, failed; then the 10k
    pair as a block of its own), and compare every figure."""
    try:
        from pdfminer.high_level import extract_text
    except ImportError:
        return {"run": False,
                "why": "pdfminer.six not installed (pip install pdfminer.six)"}
    logging.getLogger("pdfminer").setLevel(logging.ERROR)
    text = extract_text(str(pdf))
    start = text.index("4.4 Results")
    text = text[start:text.index("Table 1: Test error rates", start)]
    number = re.compile(r"^\d+(?:\.\d)?$")
    blocks, pairs = [], []
    for block in text.split("\n\n"):
        cells = [line.strip() for line in block.splitlines() if line.strip()]
        values = [float(c) for c in cells if number.match(c)]
        heading = " ".join(c for c in cells if not number.match(c))
        if len(values) == 22:
            blocks.append((heading, values))
        elif len(values) == 2 and not heading:
            pairs.append(values)
    order, mismatches = [], []
    for i, (column, _, _) in enumerate(COLUMNS):
        ours = ([tasks[t][i] for t in range(1, 21)]
                + [summaries["mean_error"][i],
                   summaries["failed_tasks_gt5"][i]])
        found = [j for j, (heading, values) in enumerate(blocks)
                 if heading.endswith(PDFMINER_HEADING_ENDS[column])
                 and values == ours]
        if len(found) != 1:
            mismatches.append(f"{column}: 1k figures not found once under "
                              f"'{PDFMINER_HEADING_ENDS[column]}'")
        else:
            order.append((found[0], i))
    order.sort()
    ten_k = [[summaries["mean_error_10k"][i],
              float(summaries["failed_tasks_gt5_10k"][i])] for _, i in order]
    if ten_k != pairs:
        mismatches.append(f"10k rows: pdfminer's pairs {pairs} (in its column "
                          f"order), ours {ten_k}")
    import pdfminer
    return {"run": True, "tool": f"pdfminer.six {pdfminer.__version__}",
            "figures_compared": 22 * len(order) + 2 * len(pairs),
            "mismatches": mismatches}


def read_tsv(path):
    rows = [line for line in pathlib.Path(path).read_text().splitlines()
            if line and not line.startswith("#")]
    return {row["task"]: row for row in csv.DictReader(rows, delimiter="\t")}


def compare(path, tasks, summaries):
    """Every figure of an older transcription that is not the paper's."""
    if not pathlib.Path(path).exists():
        fail(f"--compare: no file {path}; give the older table's path or "
             "leave --compare out")
    old = read_tsv(path)
    labels = {str(t): tasks[t] for t in tasks}
    labels.update(summaries)
    differences, compared = [], 0
    for label, values in labels.items():
        if label not in old:
            continue
        for i, (column, _, _) in enumerate(COLUMNS):
            if column not in old[label]:
                continue
            compared += 1
            theirs = float(old[label][column])
            if theirs != float(values[i]):
                differences.append({"row": label, "column": column,
                                    "older": old[label][column],
                                    "paper": values[i]})
    return {"file": str(path), "figures_compared": compared,
            "differences": differences}


def fmt(value):
    return str(value) if isinstance(value, int) else f"{value:.1f}"


def write_tsv(path, tasks, summaries, source, notes):
    header = [
        f"# SOURCE: {', '.join(CITATION['authors'])}, \"{CITATION['title']}\""
        f", {CITATION['venue']}; arXiv:{CITATION['arxiv']}; "
        f"{CITATION['table']}.",
        "# Columns (the paper's headings): " + "; ".join(
            f"{c} = {h} ({g})" for c, h, g in COLUMNS) + ".",
        "#   Key (Table 1's caption): BoW = bag-of-words; PE = position "
        "encoding; LS = linear start; RN = random injection of time index "
        "noise; LW = layer-wise weight tying (else adjacent); joint = one "
        "model trained on all tasks. Baselines LSTM and strongly supervised "
        "MemNN are from ref. [22] (Weston et al., arXiv:1502.05698).",
        "# VERIFIED: every figure below (20 task rows x 12 columns, the 1k "
        "'Mean error (%)' and 'Failed tasks (err. > 5%)' rows and the two "
        "10k rows) was read from the paper's own text: the PDF of "
        f"arXiv:1503.08895v5 (stamp '{' '.join(ARXIV_STAMP.split())}', "
        f"SHA-256 {source['sha256']}), text extracted with pypdf "
        f"{source['pypdf']}, from {source['origin']}. Summary rows are the "
        "paper's printed ones, not recomputed. Per-figure record: "
        "memn2n_table1_verification.json.",
    ]
    for note in notes:
        header.append(f"# NOTE (paper's own rounding): {note}.")
    header.append("# Written by examples/data/build_memn2n_table1.py on "
                  f"{source['date']}.")
    lines = header + ["\t".join(["task", "name"] + [c for c, _, _ in COLUMNS])]
    for task in range(1, 21):
        lines.append("\t".join([str(task), TASK_NAMES[task]]
                               + [fmt(v) for v in tasks[task]]))
    for label, _, where in SUMMARIES:
        lines.append("\t".join([label, f"paper_{where}"]
                               + [fmt(v) for v in summaries[label]]))
    path.write_text("\n".join(lines) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--pdf", required=True,
                        help="the paper's PDF (arXiv:1503.08895v5)")
    parser.add_argument("--compare", default=None,
                        help="an older transcription (tsv) to list the "
                             "figures of that differ from the paper")
    parser.add_argument("--any-pdf", action="store_true",
                        help="accept a PDF whose SHA-256 is not v5's")
    parser.add_argument("--out-dir", default=str(HERE),
                        help="where to write the tsv and json")
    args = parser.parse_args(argv)
    pdf = pathlib.Path(args.pdf)
    if not pdf.is_file():
        fail(f"--pdf: no file {pdf}; give the path of the paper's PDF")
    digest = hashlib.sha256(pdf.read_bytes()).hexdigest()
    if digest != PDF_SHA256 and not args.any_pdf:
        fail(f"--pdf: SHA-256 {digest} is not the v5 PDF's ({PDF_SHA256}); "
             "pass --any-pdf to transcribe this one")
    pages, pypdf_version = pdf_text(pdf)
    if not any(ARXIV_STAMP in page for page in pages):
        fail(f"--pdf: no '{ARXIV_STAMP}' stamp; pass a copy of "
             "arXiv:1503.08895v5")
    tasks, summaries, excerpts = parse_table1(pages)
    notes = consistency(tasks, summaries)
    prose = text_against_table(pages, tasks, summaries)
    second = cross_check(pdf, tasks, summaries)
    if second["run"] and second["mismatches"]:
        fail("pypdf and pdfminer.six read Table 1 differently: "
             + "; ".join(second["mismatches"]))
    origin = (dict(PDF_ORIGIN) if digest == PDF_SHA256
              else {"path": str(pdf)})
    source = {
        "id": "paper_pdf_arxiv_v5",
        "kind": "the paper itself (author PDF as posted on arXiv)",
        "arxiv_stamp": " ".join(ARXIV_STAMP.split()),
        "sha256": digest,
        "pypdf": pypdf_version,
        "origin": (f"GitHub {origin['repository']} '{origin['path']}' at "
                   f"commit {origin['commit']}" if "repository" in origin
                   else origin["path"]),
        "origin_detail": origin,
        "date": datetime.date.today().isoformat(),
    }
    out = pathlib.Path(args.out_dir)
    write_tsv(out / "memn2n_table1.tsv", tasks, summaries, source, notes)
    columns = {}
    for i, (column, heading, group) in enumerate(COLUMNS):
        rows = {}
        for task in range(1, 21):
            rows[str(task)] = {"value": tasks[task][i], "verified": True,
                               "source": source["id"], "excerpt_row": str(task)}
        for label, _, _ in SUMMARIES:
            rows[label] = {"value": summaries[label][i], "verified": True,
                           "source": source["id"], "excerpt_row": label}
        columns[column] = {"paper_heading": heading, "group": group,
                           "column_index": i + 1, "rows": rows}
    record = {
        "citation": CITATION,
        "sources": {source["id"]: source},
        "excerpts": {
            "note": "the exact lines of Table 1 in the PDF's text (pypdf); "
                    "each row's figures are in column order",
            "heading": HEADING,
            "rows": excerpts,
        },
        "columns": columns,
        "paper_rounding_notes": notes,
        "paper_prose_vs_table": prose,
        "second_extraction": second,
        "command": " ".join(["python", "examples/data/"
                             "build_memn2n_table1.py"] + sys.argv[1:]),
    }
    if args.compare:
        record["older_transcription"] = compare(args.compare, tasks,
                                                summaries)
    (out / "memn2n_table1_verification.json").write_text(
        json.dumps(record, indent=1) + "\n")
    verified = sum(len(c["rows"]) for c in columns.values())
    print(f"{verified} figures read from the paper ({N} columns x "
          f"{20 + len(SUMMARIES)} rows)")
    for note in notes:
        print(f"note: {note}")
    print("second reading: " + (
        f"{second['tool']}, {second['figures_compared']} figures, "
        f"{len(second['mismatches'])} mismatches" if second["run"]
        else second["why"]))
    for p in prose:
        if not p["agree"]:
            print(f"note: the paper's prose gives {p['prose']} for "
                  f"{p['claim']}, its Table 1 {p['table']}")
    if args.compare:
        found = record["older_transcription"]
        print(f"{found['figures_compared']} figures of {args.compare} "
              f"compared, {len(found['differences'])} differ:")
        for d in found["differences"]:
            print(f"  row {d['row']}, {d['column']}: {d['older']} there, "
                  f"{d['paper']} in the paper")


if __name__ == "__main__":
    main()
