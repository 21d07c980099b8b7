"""`make demo`: the main job on the built-in letters, on this machine's CPUs, within `--minutes` (default 15).

It runs `nbs/demo.ipynb` with papermill, at full size, into `demo/report.ipynb` (and `demo/report.html`, readable
without Jupyter or a network): synthesize a validation set from held-out letters, train the `cpu_fast` recipe on freshly
synthesized images until the time budget says stop, predict the validation set with 4x rot90 TTA, evaluate, write the
submission CSV and the report, which opens with the result (accuracy, per-letter table, training curves) and then shows
how it was made. It ends by printing the validation accuracy.

    python tools/demo.py                      # 15 minutes, built-in letters, output in demo/
    python tools/demo.py --minutes 30         # a longer budget, better accuracy
    python tools/demo.py --letters ../shared/realdata/mnist_data/test-split-1.csv   # the same on the contest's letters
    python tools/demo.py -p n_valid 500       # any other parameter of nbs/demo.ipynb
"""
import argparse, json, os, re, shutil, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _value(s):
    """A papermill -p value: int, float, bool, None, a JSON list (`-p overrides '["model.args.stem=16"]'`), else the
    string."""
    for conv in (int, float):
        try: return conv(s)
        except ValueError: pass
    if s.strip().startswith('['):
        try: return json.loads(s)
        except json.JSONDecodeError as e:
            raise SystemExit(f'demo.py: -p value {s!r} is not a JSON list ({e})') from None
    return {'true': True, 'false': False, 'none': None}.get(s.lower(), s)


def _kernel(name):
    """The kernel to run the report in: `name` if given; else `dirtymnist` (which `make install` registers) when it runs
    this very interpreter, else the interpreter's own `python3` kernel, so that a kernelspec left by a moved or deleted
    clone never runs, or fails to start, in place of this checkout."""
    if name: return name
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    try: argv0 = KernelSpecManager().get_kernel_spec('dirtymnist').argv[0]
    except NoSuchKernel: return 'python3'
    # the same bin folder (a venv's python is a link to the base interpreter: resolving would match any venv)
    if Path(argv0).exists() and Path(os.path.abspath(argv0)).parent == Path(os.path.abspath(sys.executable)).parent:
        return 'dirtymnist'
    print(f'demo.py: the kernel "dirtymnist" runs {argv0}, not this interpreter ({sys.executable}): using python3. '
          f'`make kernel` registers this checkout\'s.', file=sys.stderr)
    return 'python3'


def _ipc_kernel_manager():
    """A kernel manager that talks to the kernel over local IPC sockets, not TCP (ipykernel warns on every run about TCP
    without encryption)."""
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import Unicode
    return type('IPCKernelManager', (AsyncKernelManager,), {'transport': Unicode('ipc')})


def lead_with_result(report):
    "Move the cells of `report` tagged `result` to just below its title, then a heading for the steps that follow."
    import nbformat
    nb = nbformat.read(str(report), as_version=4)
    result = [c for c in nb.cells if 'result' in c.metadata.get('tags', [])]
    if not result: return report
    rest = [c for c in nb.cells if c not in result]
    how = nbformat.v4.new_markdown_cell('## How it was made')
    nb.cells = rest[:1] + result + [how] + rest[1:]
    tmp = Path(report).with_suffix('.ipynb.tmp')
    nbformat.write(nb, str(tmp))
    os.replace(tmp, report)
    return report


# nbconvert's page, without what a page read offline cannot load: require.js, MathJax, the widget manager and mermaid
# come from CDNs (the report has no widgets, formulas or diagrams; its figures are embedded)
_OFFLINE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
"""


def write_html(report):
    """`report` (a notebook) as a self-contained HTML page beside it (images embedded, no code, no script from the
    network): readable without Jupyter, and offline."""
    import jinja2, nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor
    nb = nbformat.read(str(report), as_version=4)
    nb.metadata.pop('widgets', None)
    def progress(o):   # a progress bar's widget or fastai's bar and its table of epochs (empty: lines replace it)
        page = ''.join(o.get('data', {}).get('text/html', ''))
        return ('application/vnd.jupyter.widget-view+json' in o.get('data', {}) or '<progress' in page
                or re.search(r'<tbody>\s*</tbody>', page) is not None)
    for c in nb.cells:
        if c.cell_type == 'code': c.outputs = [o for o in c.outputs if not progress(o)]
    nb, _ = CoalesceStreamsPreprocessor().preprocess(nb, {})   # a live line's redraws: only what the screen last showed
    exp = HTMLExporter(extra_loaders=[jinja2.DictLoader({'offline.html.j2': _OFFLINE})],
                       template_file='offline.html.j2',
                       exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True, embed_images=True)
    html, _ = exp.from_notebook_node(nb, resources={'metadata': {'name': 'dirtymnist demo report'}})
    path = Path(report).with_suffix('.html')
    tmp = path.with_suffix('.html.tmp')
    tmp.write_text(html, encoding='utf-8')
    os.replace(tmp, path)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--minutes', type=float, default=15.0, help='wall-clock budget for the whole job, start to finish')
    ap.add_argument('--out', default=str(ROOT/'demo'), help='output folder (default: demo/)')
    ap.add_argument('--letters', default='builtin',
                    help="'builtin' or a letter CSV (its last rows become validation letters)")
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--kernel', default=None, help='Jupyter kernel (default: dirtymnist if installed, else python3)')
    ap.add_argument('-p', '--parameter', nargs=2, action='append', default=[], metavar=('NAME', 'VALUE'),
                    help='any other parameter of nbs/demo.ipynb')
    args = ap.parse_args(argv)
    start = time.time()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    params = dict(out_dir=str(out), minutes=args.minutes, deadline=start + args.minutes * 60, letters=args.letters,
                  seed=args.seed, smoke=False)
    params.update({k: _value(v) for k, v in args.parameter})
    if args.letters != 'builtin': params['letters'] = str(Path(args.letters).resolve())
    report = out/'report.ipynb'
    (out/'result.json').unlink(missing_ok=True)
    print(f'== dirtymnist demo: {args.minutes:g} minutes budget, letters: {args.letters}, output: {out}', flush=True)
    import papermill as pm
    os.environ.setdefault('PYTHONUNBUFFERED', '1')
    # the kernel that trains cannot see this terminal: tell it to draw a live line, or to print plain lines (a log, CI)
    tty = sys.stderr.isatty()
    os.environ.setdefault('DIRTYMNIST_PROGRESS', 'bar' if tty else 'lines')
    if tty: os.environ.setdefault('COLUMNS', str(shutil.get_terminal_size().columns))
    try:
        pm.execute_notebook(str(ROOT/'nbs'/'demo.ipynb'), str(report), parameters=params,
                            kernel_name=_kernel(args.kernel), cwd=str(ROOT/'nbs'), progress_bar=False, log_output=False,
                            stdout_file=sys.stdout, stderr_file=sys.stderr,
                            kernel_manager_class=_ipc_kernel_manager())
    except Exception as e:
        last = str(e).strip().splitlines()[-1] if str(e).strip() else ''
        print(f'\n== demo FAILED after {time.time() - start:.0f} s: {type(e).__name__}: {last}')
        print(f'   the partial report is {report}')
        return 1
    res = json.loads((out/'result.json').read_text())
    res['html'] = str(write_html(lead_with_result(report)))
    took = time.time() - start
    print(f'\n== demo done in {took / 60:.1f} min (budget {args.minutes:g})')
    for k in ('report', 'html', 'submission', 'model'):
        if res.get(k): print(f'   {k:<11} {res[k]}')
    print(f'   training samples seen: {res.get("train_images", "?")} ({res.get("train_unit", "images")}), '
          f'validation images: {res.get("n_valid", "?")}')
    print(f'validation accuracy (mean over the 26 labels, 4x rot90 TTA): {res["accuracy"]:.4f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
