"""Draw the gort/Go ratios of run.sh's results.csv as a bar chart.

Usage: plot.py RESULTS_CSV OUTPUT_PNG

One bar per workload on a log axis, with a line at 1.0 (as fast, or as small,
as Go); lower is better for gort. Workloads without a ratio (n/a) get a label
and no bar.

Uses matplotlib if this Python can import it. Otherwise it installs matplotlib
with pip into the venv that run.sh uses for Go ($GORT_GO_VENV, default
~/.cache/gort/govenv), making that venv if needed, and re-runs itself there.
"""

import csv
import os
import subprocess
import sys


def venv_dir():
    """The venv run.sh uses for Go, where matplotlib goes if it is missing."""
    return os.environ.get("GORT_GO_VENV") or os.path.expanduser("~/.cache/gort/govenv")


def ensure_matplotlib():
    """Return if matplotlib imports; else re-run in the venv, installing it there."""
    try:
        import matplotlib  # noqa: F401
        return
    except ImportError:
        pass
    venv = venv_dir()
    if os.path.realpath(sys.prefix) == os.path.realpath(venv):
        # Already re-run inside the venv, right after installing: give up.
        sys.exit(f"plot.py: matplotlib does not import even in {venv}")
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    if subprocess.run([python, "-c", "import matplotlib"], capture_output=True).returncode:
        print(f"plot.py: installing matplotlib into {venv}", file=sys.stderr)
        subprocess.run([python, "-m", "pip", "install", "--quiet", "matplotlib"], check=True)
    os.execv(python, [python, *sys.argv])


def plot(csv_path, png_path):
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    names = [row["workload"] for row in rows]
    ratios = [None if row["ratio"] == "n/a" else float(row["ratio"]) for row in rows]

    fig, ax = plt.subplots(figsize=(8, 4.5))
    # A log axis shows 2x slower and 2x faster as equally far from 1.0, so
    # each bar runs from 1.0 up (gort slower/bigger) or down (faster/smaller).
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    for x, ratio in enumerate(ratios):
        if ratio is None:
            ax.text(x, 1.0, "n/a", ha="center", va="bottom")
            continue
        bar = ax.bar(x, ratio - 1, bottom=1, color="tab:green" if ratio <= 1 else "tab:red")
        ax.bar_label(bar, labels=[f"{ratio:.2f}"])
    ax.set_xticks(range(len(names)), names)
    ax.axhline(1.0, color="black", linewidth=1, linestyle="--", label="Go = 1.0")
    ax.set_ylabel("gort / Go  (lower is better)")
    ax.set_title("gort vs Go, median of interleaved runs (parked: bytes, others: ns/op)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(png_path, dpi=120)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: plot.py RESULTS_CSV OUTPUT_PNG")
    try:
        ensure_matplotlib()
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit(f"plot.py: could not install matplotlib: {e}")
    plot(sys.argv[1], sys.argv[2])


if __name__ == "__main__":
    main()
