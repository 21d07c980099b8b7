"""Write README.md from nbs/index.ipynb: markdown cells as they are, code cells and outputs except `#| hide` ones."""
import json, os, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def render(nb_path):
    nb = json.loads(Path(nb_path).read_text())
    parts = []
    for cell in nb['cells']:
        src = ''.join(cell['source'])
        if cell['cell_type'] == 'markdown':
            parts.append(src.replace('](images/', '](nbs/images/'))   # pictures: seen from the repo root
        elif (cell['cell_type'] == 'code' and src.strip()
              and not any(l.strip() in ('#| hide', '#|hide') for l in src.splitlines())):
            lines = [l for l in src.splitlines() if not l.startswith('#|')]
            parts.append('```python\n' + '\n'.join(lines) + '\n```')
            for out in cell.get('outputs', []):
                text = ''.join(out.get('text', '') or out.get('data', {}).get('text/plain', ''))
                if text: parts.append('```\n' + text.rstrip() + '\n```')
    head = '<!-- generated from nbs/index.ipynb by tools/readme.py: edit the notebook, not this file -->\n\n'
    return head + '\n\n'.join(parts) + '\n'


if __name__ == '__main__':
    text = render(ROOT/'nbs'/'index.ipynb')
    fd, tmp = tempfile.mkstemp(dir=ROOT, prefix='.README.', suffix='.tmp')
    with os.fdopen(fd, 'w') as f: f.write(text)
    os.replace(tmp, ROOT/'README.md')
    print('wrote README.md')
