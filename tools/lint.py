"""`ruff check` on the package, as `make test` runs it (rules and line length 120 in pyproject.toml).

One kind of hit is dropped: line length on the first line of `__all__`, which nbdev writes itself (it wraps the list at
120 characters and then puts `__all__ = ` in front). Everything else ruff reports fails the check.
"""
import json, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main():
    ruff = Path(sys.executable).parent/'ruff'
    res = subprocess.run([str(ruff) if ruff.exists() else 'ruff', 'check', '--output-format', 'json', 'dirtymnist'],
                         cwd=ROOT, capture_output=True, text=True)
    if res.returncode not in (0, 1): sys.exit(f'ruff failed: {res.stderr.strip()}')
    hits = []
    for h in json.loads(res.stdout or '[]'):
        line = Path(h['filename']).read_text().splitlines()[h['location']['row'] - 1]
        if h['code'] == 'E501' and line.startswith('__all__ = '): continue   # nbdev's own line
        hits.append(h)
    for h in hits:
        print(f"{Path(h['filename']).relative_to(ROOT)}:{h['location']['row']}:{h['location']['column']}: {h['code']} {h['message']}")
    print(f'ruff: {len(hits)} problem(s)' if hits else 'ruff: all checks passed')
    sys.exit(1 if hits else 0)


if __name__ == '__main__':
    main()
