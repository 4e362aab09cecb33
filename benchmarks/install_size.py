"""Size of a `pip install` of keras-seqmem: the core against today's.

Installs the package into fresh virtual environments, one per scenario, and
records for each the installed distributions (count and versions) and the
megabytes of its site-packages (`du -sm`), next to an empty virtual
environment (pip itself):

    core          pip install SRC                  (the new pyproject)
    cpu           pip install "SRC[cpu]"           (+ tensorflow-cpu)
    jax           pip install "SRC[jax]"           (+ jax, jaxlib CPU)
    cpu_all       pip install "SRC[cpu,all]"       (what `[cpu]` was)
    before_core   pip install BASE                 (the pyproject at --base)
    before_cpu    pip install "BASE[cpu]"          (the README's install at
                                                    --base)

SRC is a copy of the working tree's pyproject.toml, README.md and
keras_seqmem/, BASE the same files from the commit --base (`git archive`),
so that no build output lands in the checkout. Every install resolves
against the package index pip is configured with; the result records pip's
and Python's versions, the commands and the date.

    python benchmarks/install_size.py --json benchmarks/results/install_size_2026-12-02.json
    python benchmarks/install_size.py --scenarios core cpu   # a subset
"""

import argparse
import datetime
import json
import pathlib
import platform
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
FILES = ("pyproject.toml", "README.md", "keras_seqmem")

SCENARIOS = {
    # name: (source, extras)
    "core": ("new", ""),
    "cpu": ("new", "cpu"),
    "jax": ("new", "jax"),
    "cpu_all": ("new", "cpu,all"),
    "before_core": ("base", ""),
    "before_cpu": ("base", "cpu"),
}


def _run(cmd, **kwargs):
    return subprocess.run(cmd, check=True, capture_output=True, text=True,
                          **kwargs)


def _copy_working_tree(dest):
    dest.mkdir(parents=True)
    for name in FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns(
                "__pycache__", "*.pyc", "*.egg-info"))
        else:
            shutil.copy2(src, dest / name)


def _export_commit(ref, dest):
    dest.mkdir(parents=True)
    tar = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar",
                          ref, *FILES], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=tar.stdout,
                   check=True)


def _site_packages(venv):
    out = _run([str(venv / "bin" / "python"), "-c",
                "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    return pathlib.Path(out.stdout.strip())


def _measure(venv):
    """(distributions {name: version}, MB of site-packages)."""
    listing = _run([str(venv / "bin" / "python"), "-m", "pip", "list",
                    "--format=json", "--disable-pip-version-check"])
    dists = {d["name"]: d["version"] for d in json.loads(listing.stdout)}
    du = _run(["du", "-sm", str(_site_packages(venv))])
    return dists, int(du.stdout.split()[0])


def _new_venv(path):
    _run([sys.executable, "-m", "venv", str(path)])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS),
                        choices=list(SCENARIOS))
    parser.add_argument("--base", default="0e017b1",
                        help="the commit whose pyproject is 'before' "
                        "(default 0e017b1, the last before the slim core)")
    parser.add_argument("--workdir", default=None,
                        help="where the venvs go (default a temporary "
                        "folder, removed afterwards)")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args(argv)

    work = pathlib.Path(args.workdir or tempfile.mkdtemp(prefix="ksm_size_"))
    work.mkdir(parents=True, exist_ok=True)
    sources = {"new": work / "src_new", "base": work / "src_base"}
    for path in sources.values():
        shutil.rmtree(path, ignore_errors=True)
    _copy_working_tree(sources["new"])
    _export_commit(args.base, sources["base"])
    base_commit = _run(["git", "-C", str(ROOT), "rev-parse",
                        args.base]).stdout.strip()
    new_commit = _run(["git", "-C", str(ROOT), "rev-parse",
                       "HEAD"]).stdout.strip()
    dirty = bool(_run(["git", "-C", str(ROOT), "status", "--porcelain",
                       "--", "pyproject.toml"]).stdout.strip())

    empty = work / "venv_empty"
    shutil.rmtree(empty, ignore_errors=True)
    _new_venv(empty)
    empty_dists, empty_mb = _measure(empty)
    pip_version = empty_dists.get("pip")
    print(f"empty venv: {len(empty_dists)} distributions, {empty_mb} MB",
          flush=True)

    results = []
    for name in args.scenarios:
        which, extras = SCENARIOS[name]
        venv = work / f"venv_{name}"
        shutil.rmtree(venv, ignore_errors=True)
        _new_venv(venv)
        target = str(sources[which]) + (f"[{extras}]" if extras else "")
        shown = ("SRC" if which == "new" else "BASE") + (
            f"[{extras}]" if extras else "")
        start = time.perf_counter()
        _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
              "--disable-pip-version-check", target])
        seconds = time.perf_counter() - start
        dists, mb = _measure(venv)
        added = {k: v for k, v in dists.items() if k not in empty_dists}
        added.pop("keras-seqmem", None)
        row = {
            "scenario": name,
            "command": f'pip install "{shown}"',
            "pyproject": which,
            "distributions": len(dists),
            "distributions_added": len(added),
            "site_packages_mb": mb,
            "site_packages_mb_added": mb - empty_mb,
            "install_seconds": round(seconds, 1),
            "packages": dict(sorted(added.items())),
        }
        results.append(row)
        print(f"{name:12s} {row['command']:28s} {len(added):3d} packages "
              f"added, site-packages {mb} MB ({mb - empty_mb} MB added), "
              f"{seconds:.0f} s", flush=True)
        if not args.workdir:
            shutil.rmtree(venv, ignore_errors=True)

    record = {
        "benchmark": "install_size",
        "date": datetime.date.today().isoformat(),
        "command": "python benchmarks/install_size.py " + " ".join(
            sys.argv[1:] if argv is None else argv),
        "what": "fresh venv per scenario; packages = distributions pip list "
                "shows beyond an empty venv's (pip), keras-seqmem itself "
                "not counted; MB = du -sm of site-packages",
        "environment": {
            "python": platform.python_version(),
            "pip": pip_version,
            "platform": platform.platform(),
            "pip_index": "pip's configuration on this machine (a local "
                         "mirror of PyPI)",
        },
        "base_commit": base_commit,
        "new_commit": new_commit,
        "new_pyproject_uncommitted": dirty,
        "empty_venv": {"distributions": len(empty_dists),
                       "site_packages_mb": empty_mb},
        "rows": results,
    }
    if args.json:
        path = pathlib.Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=2) + "\n")
        print(f"written to {path}")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
