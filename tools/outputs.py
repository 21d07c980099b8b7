"""Run module notebooks and keep their outputs, so that their figures and examples can be seen without running them.

    python tools/outputs.py nbs/02_letters.ipynb nbs/17_analysis.ipynb ...

settings.ini has `clear_all = False`, so `nbdev_clean` keeps outputs; this script makes them. Each notebook runs top to
bottom in a fresh `python3` kernel of this interpreter, from `nbs/`, as `nbdev_test` runs it (`IN_TEST=1`; cells marked
`slow` or `gpu` are not run and keep no output), with the widgets' state stored so that a saved widget shows what it
showed. Outputs of `#| hide` cells are dropped, a long text output is cut to its first and last lines, and the notebook
is written back (temp file, then rename) and cleaned with `nbdev_clean`. Re-run it after changing a notebook whose
outputs are kept; `make test` checks only that notebooks are clean, not that outputs are current.
"""
import argparse, os, re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIP = re.compile(r'^\s*#\|\s*(slow|gpu|eval:\s*false)\b', re.M)
HIDE = re.compile(r'^\s*#\|\s*hide\s*$', re.M)
NOISE = re.compile(r'Overwriting \S+ in registry')   # a notebook re-registering its own timm model: no news


def _cut(text, keep=15):
    lines = text.splitlines(keepends=True)
    if len(lines) <= 2 * keep: return text
    return ''.join(lines[:keep] + [f'... ({len(lines) - 2 * keep} lines cut by tools/outputs.py)\n'] + lines[-keep:])


def _noise(o):
    "A finished progress bar (fastprogress's HTML) or a known warning that says nothing about the example."
    page = ''.join(o.get('data', {}).get('text/html', ''))
    empty = not re.sub(r'(?s)<style>.*?</style>', '', page).strip()
    bar = 'text/html' in o.get('data', {}) and ('<progress' in page or empty)
    return bar or (o.get('name') == 'stderr' and NOISE.search(o.get('text', '')) is not None)


def _small_png(b64, limit=150_000):
    """A PNG output (base64) over `limit` bytes, made smaller: grey as 8-bit grey, colour as a 256-colour palette, then
    scaled down until it fits (at least 600 px wide); figures of noisy images are large as RGBA."""
    import base64, io
    import numpy as np
    from PIL import Image
    raw = base64.b64decode(b64)
    if len(raw) <= limit: return b64
    im = Image.open(io.BytesIO(raw)).convert('RGB')
    a = np.asarray(im)
    grey = bool((a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all())
    def enc(i):
        buf = io.BytesIO(); (i.convert('L') if grey else i.quantize(256)).save(buf, 'PNG', optimize=True)
        return buf.getvalue()
    out = enc(im)
    while len(out) > limit and im.width > 600:
        im = im.resize((im.width * 3 // 4, im.height * 3 // 4), Image.LANCZOS); out = enc(im)
    return base64.b64encode(min(out, raw, key=len)).decode()


def _shown_widgets(nb, widgets):
    "The widget state `widgets` cut to the models that the outputs of `nb` show, and those they refer to."
    import json
    view, state_mime = 'application/vnd.jupyter.widget-view+json', 'application/vnd.jupyter.widget-state+json'
    state = widgets.get(state_mime, {}).get('state', {})
    todo = [o['data'][view]['model_id'] for c in nb.cells if c.cell_type == 'code' for o in c.outputs
            if view in o.get('data', {})]
    keep = set()
    while todo:
        m = todo.pop()
        if m in keep or m not in state: continue
        keep.add(m)
        todo += re.findall(r'IPY_MODEL_([0-9a-f]+)', json.dumps(state[m]))
    if not keep: return None
    return {state_mime: {**widgets[state_mime], 'state': {k: v for k, v in state.items() if k in keep}}}


def keep_outputs(path, timeout=900):
    "Run the notebook at `path` and write it back with its outputs."
    import nbformat
    from nbclient import NotebookClient
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import Unicode
    path = Path(path).resolve()
    nb = nbformat.read(str(path), as_version=4)
    run = nbformat.from_dict(nb)
    for c in run.cells:   # cells nbdev_test skips run as empty cells
        if c.cell_type == 'code' and SKIP.search(c.source): c.source = ''
    ipc = type('IPCKernelManager', (AsyncKernelManager,), {'transport': Unicode('ipc')})
    os.environ['IN_TEST'] = '1'
    here = os.getcwd()
    os.chdir(path.parent)   # the kernel's IPC sockets are files named relative to the working folder: the same for both
    try:
        NotebookClient(run, timeout=timeout, kernel_name='python3', resources={'metadata': {'path': str(path.parent)}},
                       store_widget_state=True, kernel_manager_class=ipc).execute()
    finally: os.chdir(here)
    for c, r in zip(nb.cells, run.cells):
        if c.cell_type != 'code': continue
        c.outputs = [] if SKIP.search(c.source) or HIDE.search(c.source) else [o for o in r.outputs if not _noise(o)]
        for o in c.outputs:
            if o.get('output_type') == 'stream': o['text'] = _cut(o['text'])
            if 'image/png' in o.get('data', {}): o['data']['image/png'] = _small_png(o['data']['image/png'])
    shown = _shown_widgets(nb, run.metadata['widgets']) if 'widgets' in run.metadata else None
    if shown: nb.metadata['widgets'] = shown
    else: nb.metadata.pop('widgets', None)
    tmp = path.with_suffix('.ipynb.tmp')
    nbformat.write(nb, str(tmp))
    os.replace(tmp, path)
    exe = Path(sys.executable).parent/'nbdev_clean'
    subprocess.run([str(exe) if exe.exists() else 'nbdev_clean', '--fname', str(path)], cwd=ROOT, check=True)
    print(f'{path.name}: outputs kept, {path.stat().st_size / 1e3:.0f} kB', flush=True)


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('notebooks', nargs='+')
    for nb in ap.parse_args().notebooks: keep_outputs(nb)
